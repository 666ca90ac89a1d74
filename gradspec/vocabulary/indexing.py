"""Indexing with int tensors, and einsum."""
from reference import ops as O  # noqa: F401

from .record import OpSpec  # noqa: F401

OPS = ()
