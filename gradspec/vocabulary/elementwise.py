"""Elementwise ops: unary (some with a Python-scalar param), binary with broadcasting, where."""
import numpy as np

from reference import ops as O

from .draws import positive_leaf
from .params import literal, nested
from .record import KINK, POSITIVE, Domain, OpSpec


def _small_leaf(b, min_rank):
    return b.new_leaf(b.draw_shape(min_rank=min_rank), scale=0.5)


def _unary(name, rank, **kw):
    return OpSpec(name, "unary", getattr(O, name), f"torch.{name}({{0}})", rank=rank, **kw)


def _pow_args(b, x):
    v = b.value(x)
    exps = [2.0, 3.0] + ([0.5, 1.5] if v.min() > POSITIVE else []) + (
        [-1.0] if np.abs(v).min() > 0.1 else [])
    return (x,), {"exponent": b.pick(exps)}


def _binary_args(b, x, op):
    """A second operand, broadcasting with x; None where the op meets a pole or a tie."""
    y = b.operand_like(x, broadcast=True)
    v, w = b.value(x), b.value(y)
    if op == "div" and np.abs(w).min() <= 0.1:
        return None
    if op in ("maximum", "minimum") and np.abs(v - w).min() <= KINK:
        return None
    return (x, y), {}


def _binary(name, rank, torch, **kw):
    return OpSpec(name, "binary", getattr(O, name), torch, rank=rank, broadcasts=True,
                  draw=lambda b, x: _binary_args(b, x, name), **kw)


def _where_args(b, x):
    y = b.operand_like(x, broadcast=True)
    out_shape = np.broadcast_shapes(b.value(x).shape, b.value(y).shape)
    cond = b.rng().random(out_shape) < 0.5
    return (x, y), {"condition": nested(cond)}


def _where_torch(args, params):
    return f"torch.where(torch.tensor({literal(params['condition'])}), {args[0]}, {args[1]})"


OPS = (
    _unary("neg", 3),
    _unary("exp", 5, domain=Domain(hi=5), fit=_small_leaf),
    _unary("tanh", 6),
    _unary("sigmoid", 7),
    _unary("sin", 8),
    _unary("cos", 9),
    _unary("reciprocal", 14, domain=Domain(min_abs=0.1), fit=positive_leaf),
    _unary("log", 15, domain=Domain(lo=POSITIVE), fit=positive_leaf),
    _unary("sqrt", 16, domain=Domain(lo=POSITIVE), fit=positive_leaf),
    _unary("abs", 17, domain=Domain(min_abs=KINK)),
    _unary("relu", 18, domain=Domain(min_abs=KINK)),
    OpSpec("scale", "unary_param", O.scale, "{0} * {c}", rank=10,
           draw=lambda b, x: ((x,), {"c": b.pick([2.0, -0.5, 3.0, 0.1])}),
           doc="x * c for a Python scalar c"),
    OpSpec("pow", "unary_param", O.pow, "torch.pow({0}, {exponent})", rank=13, draw=_pow_args,
           fit=positive_leaf, doc="x ** exponent for a Python scalar exponent"),
    _binary("add", 0, "{0} + {1}"),
    _binary("mul", 1, "{0} * {1}", saves_operand=True),
    _binary("sub", 2, "{0} - {1}"),
    _binary("div", 12, "{0} / {1}", saves_operand=True),
    _binary("maximum", 19, "torch.maximum({0}, {1})", saves_operand=True),
    _binary("minimum", 20, "torch.minimum({0}, {1})", saves_operand=True),
    OpSpec("where", "other", lambda a, b, condition: O.where(np.array(condition, dtype=bool), a, b),
           _where_torch, rank=37, draw=_where_args),
    # Piecewise constant: derivative zero almost everywhere; drawn only inside custom
    # Function forwards (strategies/steps.py), where their zero gradient is replaced.
    OpSpec("sign", "constant", O.sign, "torch.sign({0})"),
    OpSpec("round", "constant", O.round, "torch.round({0})"),
)
