"""Placeholder: modules (Linear, RNNCell, LSTMCell) and module hooks are written next."""
