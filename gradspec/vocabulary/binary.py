"""Pointwise ops of two tensors beyond arithmetic, and scans along a dim.

Their draw rules look at the operands' values broadcast together and return None where the op
would meet a jump, a kink or a pole (each rule says which), so both engines take the same
branch and finite differences see a smooth function.
"""
import numpy as np

from reference import ops as O

from .draws import dim, positive_leaf
from .params import literal
from .record import KINK, MAX_ABS, POSITIVE, Domain, OpSpec

# A divisor stays this far from zero (|x / y| then stays below ~20 for drawn values).
DIVISOR = 0.1
# atan2 stays this far from the origin, where it has no limit (derivatives ~ 1 / radius).
RADIUS = 0.1


def _together(b, names):
    """The operands' arrays broadcast together, or None where their shapes do not."""
    try:
        return np.broadcast_arrays(*(b.value(n) for n in names))
    except ValueError:
        return None


def _off_integers(q):
    """Is every quotient at least KINK from an integer (where fmod, remainder and
    floor_divide jump)?"""
    return bool(np.abs(q - np.round(q)).min() > KINK)


def _atan2_args(b, x):
    y = b.operand_like(x, broadcast=True)
    v, w = _together(b, (x, y))
    if np.hypot(v, w).min() <= RADIUS:
        return None
    if (np.abs(v) <= KINK)[w < 0].any():
        return None  # the branch cut: atan2 jumps from pi to -pi across v = 0 where w < 0
    return (x, y), {}


def _modulo_args(b, x):
    y = b.operand_like(x, broadcast=True)
    v, w = _together(b, (x, y))
    if np.abs(w).min() <= DIVISOR or not _off_integers(v / w):
        return None
    return (x, y), {}


def _no_grad_leaf(b, min_rank):
    return b.new_leaf(b.draw_shape(min_rank=min_rank), requires_grad=False)


def _no_grad_operand(b, x):
    """`x` if it needs no gradient, else another value that needs none (a fresh leaf if
    there is none of a shape that broadcasts with x)."""
    if not b.requires_grad(x):
        return x
    shape = b.value(x).shape
    y = b.operand_like(x, broadcast=True)
    return y if not b.requires_grad(y) else b.new_leaf(shape, requires_grad=False)


def _floor_divide_args(b, x):
    """torch has no derivative for floor_divide (a backward through it raises): both operands
    need no gradient (the first is another value where x needs one), so its output is a
    constant other ops may use."""
    x = _no_grad_operand(b, x)
    y = b.operand_like(x, broadcast=True)
    if b.requires_grad(y):
        y = b.new_leaf(b.broadcast_variant(b.value(x).shape), requires_grad=False)
    v, w = _together(b, (x, y)) or (None, None)
    if v is None or np.abs(w).min() <= DIVISOR or not _off_integers(v / w):
        return None
    return (x, y), {}


def _pow_tensor_args(b, x):
    y = b.operand_like(x, broadcast=True)
    v, w = _together(b, (x, y))
    if np.abs(w).min() <= KINK:
        return None  # torch's pow backward masks its terms to zero where the exponent is 0
    if np.power(v, w - 2.0).max() >= MAX_ABS:
        return None  # the second derivative's x^(y-2) would leave the range
    return (x, y), {}


def _lerp_args(b, x):
    end = b.operand_like(x, broadcast=True)
    if b.chance(0.3):
        return (x, end), {"weight": b.pick([0.5, 0.25, 0.75, -0.5, 1.5])}
    weight = b.operand_like(x, broadcast=True)
    if _together(b, (x, end, weight)) is None:
        return None
    return (x, end, weight), {}


def _lerp_torch(args, params):
    weight = literal(params["weight"]) if "weight" in params else args[2]
    return f"torch.lerp({args[0]}, {args[1]}, {weight})"


def _bound(b, x, negative):
    """A bound for clamp: an existing value sometimes, mostly a fresh leaf of one sign (scale
    -1 on a positive leaf makes a negative one), so that lo < hi holds by construction."""
    if b.chance(0.3):
        return b.operand_like(x, broadcast=True)
    shape = b.broadcast_variant(b.value(x).shape)
    return b.new_leaf(shape, positive=True, scale=-1.0 if negative else 1.0)


def _clamp_args(b, x):
    lo, hi = _bound(b, x, negative=True), _bound(b, x, negative=False)
    arrays = _together(b, (x, lo, hi))
    if arrays is None:
        return None
    v, low, high = arrays
    if (high - low).min() <= KINK:
        return None  # lo < hi, as the op is meant (where lo > hi torch returns hi)
    if min(np.abs(v - low).min(), np.abs(v - high).min()) <= KINK:
        return None  # a kink: x meets a bound
    return (x, lo, hi), {}


def _scan_args(b, x):
    nd = b.value(x).ndim
    return (x,), {"dim": b.integer(-1, 0) if nd == 0 else dim(b, nd)}


def _two(name, rank, reference, torch, draw, **kw):
    return OpSpec(name, "binary", reference, torch, rank=rank, broadcasts=True, draw=draw, **kw)


OPS = (
    _two("atan2", 40, O.atan2, "torch.atan2({0}, {1})", _atan2_args, saves_operand=True),
    _two("fmod", 41, O.fmod, "torch.fmod({0}, {1})", _modulo_args, saves_operand=True),
    _two("remainder", 42, O.remainder, "torch.remainder({0}, {1})", _modulo_args,
         saves_operand=True),
    _two("pow_tensor", 43, O.pow_tensor, "torch.pow({0}, {1})", _pow_tensor_args,
         domain=Domain(lo=POSITIVE), fit=positive_leaf, saves_operand=True,
         doc="x ** y for tensors x > 0 and y"),
    OpSpec("lerp", "other", O.lerp, _lerp_torch, rank=44, draw=_lerp_args, broadcasts=True,
           saves_operand=True, doc="start + weight * (end - start), weight a tensor or float"),
    OpSpec("clamp_tensor", "other", O.clamp_tensor, "torch.clamp({0}, min={1}, max={2})",
           rank=45, draw=_clamp_args, broadcasts=True, saves_operand=True,
           doc="clamp between tensor bounds lo < hi"),
    OpSpec("cumsum", "other", O.cumsum, "torch.cumsum({0}, dim={dim})", rank=46,
           draw=_scan_args),
    OpSpec("cumprod", "other", O.cumprod, "torch.cumprod({0}, dim={dim})", rank=47,
           draw=_scan_args),
    OpSpec("floor_divide", "nondiff", O.floor_divide, "torch.floor_divide({0}, {1})", rank=48,
           draw=_floor_divide_args, fit=_no_grad_leaf, broadcasts=True,
           doc="floor(x / y), no derivative in torch: drawn on operands needing no gradient"),
)
