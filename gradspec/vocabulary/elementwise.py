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


def _leaf_within(b, min_rank, scale):
    """A fresh leaf of values |v| <= 2 * scale (leaves are 0.1 .. 2.0 in size, times scale)."""
    return b.new_leaf(b.draw_shape(min_rank=min_rank), scale=scale)


def _away(v, points):
    """Are all values of `v` more than KINK from each of `points`?"""
    return all(np.abs(v - p).min() > KINK for p in points)


def _F(name, params=""):
    """torch.nn.functional's spelling of `name`, with `params` after the operand."""
    return f"torch.nn.functional.{name}({{0}}{params})"


def _act(name, rank, params="", **kw):
    return OpSpec(name, "unary_param" if params else "unary", getattr(O, name), _F(name, params),
                  rank=rank, **kw)


def _softplus_args(b, x):
    """beta, and torch's default threshold 20 above which it is linear: beta x keeps KINK
    away from it, where the value jumps by log(1 + exp(-20)) / beta."""
    beta = b.pick([1.0, 2.0, 0.5])
    if not _away(b.value(x) * beta, [20.0]):
        return None
    return (x,), {"beta": beta, "threshold": 20.0}


def _hardtanh_args(b, x):
    """Bounds that no value is within KINK of (each bound is a kink). Leaves have two
    decimals, so bounds with a third one never meet a leaf itself."""
    v = b.value(x)
    ok = [p for p in ((-1.0, 1.0), (-0.505, 0.755), (0.0, 6.0), (-2.125, 0.375))
          if _away(v, p)]
    if not ok:
        return None
    lo, hi = b.pick(ok)
    return (x,), {"min_val": lo, "max_val": hi}


def _hardsigmoid_args(b, x):
    """Kinks at -3 and 3."""
    return ((x,), {}) if _away(b.value(x), [-3.0, 3.0]) else None


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

# Issue 21's unary ops and activations. Domains keep poles and the steep ends of asin away:
# derivatives stay below ~1/(1 - 0.9^2)^(3/2) ~ 12 (asin) and 1 + tan(1.2)^2 ~ 8 (tan).
OPS += (
    _unary("square", 11.5),
    _unary("log1p", 40, domain=Domain(lo=-1.0 + POSITIVE),
           fit=lambda b, r: _leaf_within(b, r, 0.45)),
    _unary("expm1", 41, domain=Domain(hi=5), fit=_small_leaf),
    _unary("rsqrt", 42, domain=Domain(lo=POSITIVE), fit=positive_leaf),
    _unary("atan", 43),
    _unary("sinh", 44, domain=Domain(lo=-5, hi=5)),
    _unary("cosh", 45, domain=Domain(lo=-5, hi=5)),
    _unary("tan", 46, domain=Domain(lo=-1.2, hi=1.2), fit=_small_leaf),
    _unary("asin", 47, domain=Domain(lo=-0.9, hi=0.9), fit=lambda b, r: _leaf_within(b, r, 0.4)),
    _unary("erf", 48),
    _act("silu", 49),
    _act("softsign", 50, domain=Domain(min_abs=KINK)),  # |x|: its second derivative jumps at 0
    _act("logsigmoid", 51),
    _act("mish", 52),
    _act("gelu", 53, ", approximate={approximate}",
         draw=lambda b, x: ((x,), {"approximate": b.pick(["none", "tanh"])})),
    _act("softplus", 54, ", beta={beta}, threshold={threshold}", draw=_softplus_args),
    _act("leaky_relu", 55, ", negative_slope={negative_slope}", domain=Domain(min_abs=KINK),
         draw=lambda b, x: ((x,), {"negative_slope": b.pick([0.01, 0.2, 1.5])})),
    _act("elu", 56, ", alpha={alpha}", domain=Domain(min_abs=KINK),
         draw=lambda b, x: ((x,), {"alpha": b.pick([1.0, 0.5, 2.0])})),
    _act("celu", 57, ", alpha={alpha}", domain=Domain(min_abs=KINK),
         draw=lambda b, x: ((x,), {"alpha": b.pick([1.0, 0.5, 2.0])})),
    _act("selu", 58, domain=Domain(min_abs=KINK)),
    _act("hardtanh", 59, ", min_val={min_val}, max_val={max_val}", draw=_hardtanh_args),
    # Leaves up to 4.6 in size, so that some values lie on the flat sides (2.3 x two-decimal
    # cents never rounds to 3.00).
    _act("hardsigmoid", 60, draw=_hardsigmoid_args, fit=lambda b, r: _leaf_within(b, r, 2.3)),
)
