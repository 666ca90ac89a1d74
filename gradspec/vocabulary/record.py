"""The op record: everything the suite knows about one op, in one place.

A record says what an op is (its reference implementation and torch's spelling), where it
is smooth (`Domain`: the strategies draw inside it, finite differences check inside it),
which operand shapes it takes, how its operands and params are drawn, and where it sorts
when a counterexample shrinks. Strategies, adapters and the finite-difference tests all read
the records; none of them lists ops by name.

The draw rules take `b`, the program builder (strategies/builder.py), through a small
protocol: `b.value(name)` (the value's array), `b.integer(lo, hi)`, `b.integers(lo, hi,
min_size, max_size)`, `b.chance(p)`, `b.pick(items)`, `b.distinct(k, lo, hi)`,
`b.permutation(n)`, `b.rng()`, and operand makers `b.operand_like(x, broadcast)`,
`b.operand_of_shape(shape, scale=)`, `b.new_leaf(shape, positive=, scale=)`,
`b.draw_shape(min_rank=)`. Each returns names of values; a rule returns (args, params) or
None where the value at hand cannot take the op without a tie or a kink.
"""
from dataclasses import dataclass
from typing import Callable, Optional

# Margins: a kink or tie closer than this to a value is avoided. 1e-3 is far beyond float32
# rounding of the forward values (~1e-6 relative), so both engines take the same branch.
KINK = 1e-3
# Denominators, log and sqrt arguments stay above this, bounding derivatives by ~1/0.05^2.
POSITIVE = 0.05
MAX_ABS = 1e4  # outputs beyond this make float32 comparisons meaningless; the op is not used


@dataclass(frozen=True)
class Domain:
    """Where an op is smooth, as bounds on its first operand's values: each value above `lo`,
    below `hi`, and at least `min_abs` away from zero (strictly). None: no bound."""
    lo: Optional[float] = None
    hi: Optional[float] = None
    min_abs: Optional[float] = None

    def holds(self, lo, hi, small):
        """Given the values' min, max and min |value|."""
        return ((self.lo is None or lo > self.lo) and (self.hi is None or hi < self.hi)
                and (self.min_abs is None or small > self.min_abs))


class Statement:
    """A template (a format string or a function, as for any op) whose code is a statement
    that modifies its first operand in place, e.g. slice assignment."""

    def __init__(self, template):
        self.template = template


def unary_args(b, x):
    """The draw rule of an op with one operand and no params."""
    return (x,), {}


def fit_any(b, min_rank):
    """A fresh leaf of rank >= max(1, min_rank): the default input of a focus op."""
    return b.new_leaf(b.draw_shape(min_rank=max(1, min_rank)))


@dataclass(frozen=True)
class OpSpec:
    """One op of the vocabulary.

    `group` sorts it: an ordinary op (a `program.Op` step) is in any group but "multi" (several
    outputs: a `MultiOp` step), "inplace" (an `InPlace` step) and "constant" (piecewise
    constant, used only inside custom Function forwards). `reference` is the reference's
    implementation, called `reference(*tensors, **params)`; `torch` is torch's spelling, a
    template as adapters/templates.py runs and prints it ({0}, {1}, {args} and the params, or
    a function (arg sources, params) -> source).
    """
    name: str
    group: str
    reference: Callable
    torch: object
    draw: Callable = unary_args  # (b, x) -> (args, params) or None; x is the first operand
    domain: Optional[Domain] = None  # smooth domain of the first operand (None: everywhere)
    min_rank: int = 0  # the first operand's least rank
    shape_ok: Optional[Callable] = None  # a further condition on the first operand's shape
    fit: Callable = fit_any  # (b, min_rank) -> a fresh leaf it applies to (the focus op)
    rich_rank: int = 2  # rank at which its gradient shows whole (a focus op is tried there)
    rank: float = 100  # shrink order: ops of lower rank are drawn first, and shrunk towards
    view: bool = False  # torch returns a view: an in-place write into it reaches its base
    # torch may return a view of a result it made inside (einsum reshapes bmm's): an in-place
    # write into it raises where the output was made under no_grad, so none is drawn there
    may_be_view: bool = False
    saves_operand: bool = False  # it saves an operand for the other's gradient
    broadcasts: bool = False  # two tensor operands that broadcast together
    # several outputs ("multi"): params (b, array) -> dict or None, and how many outputs
    params: Optional[Callable] = None
    n_outputs: Optional[Callable] = None  # (shape, params) -> int
    indexed: bool = False  # its second output is int64 indices (never carries a gradient)
    doc: str = ""

    def applies_to_shape(self, shape):
        return len(shape) >= self.min_rank and (self.shape_ok is None or self.shape_ok(shape))
