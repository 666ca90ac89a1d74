"""The op vocabulary: one record (`OpSpec`, record.py) per op, gathered from the family
modules below. An op name means the same thing on every backend.

Everything else derives from the records: the names by group that suites and strategies
use, the reference adapter's op table, torch's templates, the shrink order, the domains.
Adding an op to a family is one record in its module (CONTRIBUTING.md, "Adding an op").
"""
from . import binary, elementwise, indexing, inplace, linalg, multi, nn, reductions, shape
from .params import index_source, to_index
from .record import KINK, MAX_ABS, POSITIVE, Domain, OpSpec, Statement

FAMILIES = (elementwise, binary, reductions, shape, indexing, linalg, nn, multi, inplace)
# "nondiff": ops torch records no derivative for (a backward through them raises); drawn on
# operands that need no gradient only.
GROUPS = ("unary", "unary_param", "binary", "reduction", "softmax", "shape", "join", "other",
          "nondiff", "constant", "multi", "inplace")


def _gather(families):
    specs = {}
    for family in families:
        for spec in family.OPS:
            if spec.name in specs:
                raise ValueError(f"op {spec.name!r} is declared twice "
                                 f"({family.__name__} and before it)")
            if spec.group not in GROUPS:
                raise ValueError(f"op {spec.name!r}: unknown group {spec.group!r} "
                                 f"(known: {', '.join(GROUPS)})")
            specs[spec.name] = spec
    return specs


SPECS = _gather(FAMILIES)


def names(*groups):
    """The names of the ops in `groups`, in declaration order."""
    return tuple(name for name, spec in SPECS.items() if spec.group in groups)


UNARY = names("unary")
UNARY_PARAM = names("unary_param")
BINARY = names("binary")  # elementwise, two tensor operands broadcasting together
REDUCTIONS = names("reduction")
SOFTMAX = names("softmax")
SHAPE = names("shape")
JOIN = names("join")
PIECEWISE_CONSTANT = names("constant")  # used inside custom Function forwards only
# Ops an `Op` step applies (one output each), piecewise-constant ones included.
ALL_OPS = frozenset(name for name, spec in SPECS.items() if spec.group not in ("multi", "inplace"))
MULTI_OUTPUT = names("multi")
INDEXED = tuple(name for name in MULTI_OUTPUT if SPECS[name].indexed)
PIECES = tuple(name for name in MULTI_OUTPUT if not SPECS[name].indexed)
INPLACE = names("inplace")
VIEWS = tuple(name for name, spec in SPECS.items() if spec.view)
# The drawable ops in the order counterexamples shrink towards (rank, then declaration).
SHRINK_ORDER = tuple(sorted((n for n in SPECS if n in ALL_OPS and SPECS[n].group != "constant"),
                            key=lambda n: SPECS[n].rank))  # a stable sort: ties keep SPECS' order


def n_outputs(op, shape, params):
    """How many tensors multi-output `op` returns on an input of `shape` (as torch counts)."""
    return SPECS[op].n_outputs(shape, params)


__all__ = ["SPECS", "OpSpec", "Domain", "Statement", "KINK", "POSITIVE", "MAX_ABS", "names",
           "UNARY", "UNARY_PARAM", "BINARY", "REDUCTIONS", "SOFTMAX", "SHAPE", "JOIN",
           "PIECEWISE_CONSTANT", "ALL_OPS", "MULTI_OUTPUT", "INDEXED", "PIECES", "INPLACE",
           "VIEWS", "SHRINK_ORDER", "n_outputs", "to_index", "index_source"]
