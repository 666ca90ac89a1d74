"""Neural-network ops: convolutions, pooling and normalization, each vjp in the reference's
own ops."""
__all__ = []
