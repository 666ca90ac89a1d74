"""Pointwise ops of two tensors beyond arithmetic, and scans along a dim."""
from reference import ops as O  # noqa: F401

from .record import OpSpec  # noqa: F401

OPS = ()
