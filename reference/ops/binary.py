"""Pointwise ops of two tensors beyond the arithmetic ones (atan2, lerp, clamp with tensor
bounds, fmod, remainder, floor_divide, pow with a tensor exponent), and scans along a dim.

Each saves what torch's node saves, under the same conditions (a saved tensor decides whether
a later in-place write makes backward raise), and each vjp is written in reference ops so that
the backward can itself be differentiated.
"""
import numpy as np

from .. import rounding
from ..errors import AutogradError
from ._core import const, new, record
from .elementwise import add, add_scalar, div, log, mul, neg, reciprocal, rsub_scalar, scale, sub
from .reduction import sum
from .shape import expand, sum_to, transpose, unsqueeze

__all__ = ["atan2", "lerp", "clamp_tensor", "fmod", "remainder", "floor_divide",
           "div_rounded", "pow_tensor", "cumsum", "cumprod"]


def atan2(a, b):
    """`atan2(a, b)`, the angle of the point (b, a): torch's atan2_backward multiplies by a
    recorded 1 / (a² + b²), so both gradients require grad under create_graph."""
    out = new(np.arctan2(a.data, b.data))

    def vjp(g, n, a, b):
        recip = reciprocal(add(mul(a, a), mul(b, b)))
        return (sum_to(mul(mul(g, b), recip), a.shape) if n[0] else None,
                sum_to(mul(mul(g, neg(a)), recip), b.shape) if n[1] else None)
    record("Atan2Backward0", (out,), (a, b), vjp, save=(a, b))
    return out


def lerp(start, end, weight):
    """`start + weight * (end - start)`. A Python-float weight is torch's LerpBackward0 (it
    saves nothing that versions); a tensor weight is LerpBackward1, which always saves the
    weight, and start and end only when the weight needs a gradient."""
    if not hasattr(weight, "data"):
        w = float(weight)
        out = new(start.data + w * (end.data - start.data))
        record("LerpBackward0", (out,), (start, end),
               lambda g, n: (sum_to(scale(g, 1.0 - w), start.shape) if n[0] else None,
                             sum_to(scale(g, w), end.shape) if n[1] else None))
        return out
    out = new(start.data + weight.data * (end.data - start.data))

    def vjp(g, n, s, e, w):
        return (sum_to(mul(g, rsub_scalar(w, 1.0)), start.shape) if n[0] else None,
                sum_to(mul(g, w), end.shape) if n[1] else None,
                sum_to(mul(g, sub(e, s)), weight.shape) if n[2] else None)
    keep = weight.requires_grad
    record("LerpBackward1", (out,), (start, end, weight), vjp,
           save=(start if keep else None, end if keep else None, weight))
    return out


def clamp_tensor(x, lo, hi):
    """`torch.clamp(x, min=min, max=max)` with tensor bounds: min(max(x, lo), hi). The
    gradient goes to x where lo <= x <= hi, to lo where x < lo < hi, to hi where x > hi or
    hi < lo (torch's clamp_backward and clamp_backward_min_max, masks as constants)."""
    out = new(np.minimum(np.maximum(x.data, lo.data), hi.data))

    def vjp(g, n, x, lo, hi):
        xv, lv, hv = np.broadcast_arrays(x.data, lo.data, hi.data)
        masks = ((xv >= lv) & (xv <= hv), (xv < lv) & (lv < hv), (xv > hv) | (hv < lv))
        return tuple(sum_to(mul(g, const(m, g.dtype)), t.shape) if need else None
                     for m, t, need in zip(masks, (x, lo, hi), n))
    record("ClampBackward0", (out,), (x, lo, hi), vjp, save=(x, lo, hi))
    return out


def div_rounded(a, b, rounding_mode):
    """`torch.div(a, b, rounding_mode=...)` ('trunc' or 'floor'): piecewise constant; torch
    records it with a zero derivative (fresh zeros, which never require grad)."""
    q = a.data / b.data
    out = new(np.trunc(q) if rounding_mode == "trunc" else np.floor_divide(a.data, b.data))

    def vjp(g, n):
        return tuple(const(np.zeros(t.shape), g.dtype) if need else None
                     for t, need in zip((a, b), n))
    record("DivBackward2", (out,), (a, b), vjp)
    return out


def _modulo(name, fn, rounding_mode):
    """fmod / remainder: `a - q * b` for q = div(a, b, rounding_mode); d/da = 1, d/db = -q.
    torch saves a and b only when b needs a gradient, and computes q again in the backward
    (recorded: under create_graph, b's gradient requires grad through it)."""
    def op(a, b):
        out = new(fn(a.data, b.data))

        def vjp(g, n, sa, sb):
            return (sum_to(g, a.shape) if n[0] else None,
                    sum_to(neg(mul(g, div_rounded(sa, sb, rounding_mode))), b.shape)
                    if n[1] else None)
        keep = b.requires_grad
        record(name, (out,), (a, b), vjp, save=(a if keep else None, b if keep else None))
        return out
    return op


fmod = _modulo("FmodBackward1", np.fmod, "trunc")
remainder = _modulo("RemainderBackward1", np.remainder, "floor")


def floor_divide(a, b):
    """`torch.floor_divide(a, b)`: torch has no derivative for it. Its output requires grad
    when an input does (its node is `NotImplemented`), and a backward that reaches that node
    raises; the strategies draw it only on operands that need no gradient."""
    out = new(np.floor_divide(a.data, b.data))

    def vjp(g, n):
        raise AutogradError("derivative for aten::floor_divide is not implemented")
    record("NotImplemented", (out,), (a, b), vjp)
    return out


def pow_tensor(x, y):
    """`torch.pow(x, y)` with a tensor exponent, for x > 0: d/dx = y x^(y-1), d/dy = x^y
    log x (torch's pow_backward_self / pow_backward_exponent, the latter through the saved
    output). torch masks both to zero where y == 0 or x == 0; the strategies keep away."""
    out = new(np.power(x.data, y.data))

    def vjp(g, n, x, y, r):
        return (sum_to(mul(g, mul(y, pow_tensor(x, add_scalar(y, -1.0)))), x.shape)
                if n[0] else None,
                sum_to(mul(g, mul(r, log(x))), y.shape) if n[1] else None)
    record("PowBackward1", (out,), (x, y), vjp, save=(x, y, out))
    return out


# ----- scans along one dim ------------------------------------------------------------------
def _scan_dim(x, dim):
    """`dim` as a non-negative axis (a 0-d tensor takes dim 0 or -1: it is its own scan)."""
    return dim % x.ndim if x.ndim else None


def _flip(x, d):
    """x reversed along axis `d` (a copy, as torch's flip): its own vjp."""
    out = new(np.flip(x.data, d).copy())
    record("FlipBackward0", (out,), (x,), lambda g, n: (_flip(g, d),))
    return out


def cumsum(x, dim):
    """Running sums along `dim`; the vjp is the reversed running sum of g (torch's
    reversed_cumsum: flip, cumsum, flip). It saves nothing."""
    d = _scan_dim(x, dim)
    out = new(x.data.copy() if d is None else np.cumsum(x.data, axis=d), x)

    def vjp(g, n):
        if d is None or x.shape[d] == 1:
            return (g,)
        return (_flip(cumsum(_flip(g, d), d), d),)
    record("CumsumBackward0", (out,), (x,), vjp)
    return out


def cumprod(x, dim):
    """Running products along `dim`. torch saves the input and the output.

    The vjp is exact with zeros in the input, so it divides by nothing: for each position i,
    grad_i = sum over j >= i of g_j * prod_{m <= j, m != i} x_m. It is computed along a new
    axis of size n (x with x_i replaced by 1, for each i), as a cumprod of that, so it is
    written in reference ops and its own derivative is exact at zeros too."""
    d = _scan_dim(x, dim)
    out = new(x.data.copy() if d is None else np.cumprod(x.data, axis=d), x)

    def vjp(g, n, x, r):
        if d is None or x.shape[d] == 1:
            return (g,)
        if rounding.divides(x):  # torch's form: reversed cumsum of g * result, over x
            return (div(_flip(cumsum(_flip(mul(g, r), d), d), d), x),)
        return (_cumprod_vjp(g, x, d),)
    record("CumprodBackward0", (out,), (x,), vjp, save=(x, out))
    return out


def _cumprod_vjp(g, x, d):
    size = x.shape[d]
    xt, gt = transpose(x, d, -1), transpose(g, d, -1)  # the scanned axis last: (..., n)
    lead = xt.shape[:-1]
    eye = np.eye(size)
    # others[..., i, m] = x_m for m != i, 1 for m == i
    others = add(mul(expand(unsqueeze(xt, -2), lead + (size, size)), const(1.0 - eye, x.dtype)),
                 const(eye, x.dtype))
    # terms[..., i, j] = g_j * prod_{m <= j, m != i} x_m, kept for j >= i (upper triangle)
    terms = mul(mul(cumprod(others, -1), unsqueeze(gt, -2)),
                const(np.triu(np.ones((size, size))), x.dtype))
    return transpose(sum(terms, dim=-1), d, -1)
