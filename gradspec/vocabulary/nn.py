"""Neural-network ops: convolutions, pooling, normalization."""
from reference import ops as O  # noqa: F401

from .record import OpSpec  # noqa: F401

OPS = ()
