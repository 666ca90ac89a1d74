"""Reductions along dims (with keepdim), and softmax / log_softmax along one dim."""
from dataclasses import replace

import numpy as np

from reference import ops as O

from .draws import dim, dims
from .params import literal
from .record import KINK, POSITIVE, OpSpec, fit_any


def _reduce_args(b, x):
    return (x,), {"dim": dims(b, b.value(x).ndim), "keepdim": b.chance(0.5)}


def _max_args(b, x):
    v = b.value(x)
    d = dim(b, v.ndim)
    if v.shape[d] > 1 and np.diff(np.sort(v, axis=d), axis=d).min() <= KINK:
        return None  # a tie: which element gets the gradient differs between engines
    return (x,), {"dim": d, "keepdim": b.chance(0.5)}


def _axes(d, nd):
    """A dim argument (int or tuple) as sorted non-negative axes; () for a 0-d value."""
    return tuple(sorted(a % nd for a in (d if isinstance(d, tuple) else (d,)))) if nd else ()


def _slices(v, axes):
    """`v` with the reduced `axes` flattened into one last axis (a 0-d v: one slice of 1)."""
    if not axes:
        return v.reshape(v.shape + (1,))
    moved = np.moveaxis(v, axes, range(-len(axes), 0))
    return moved.reshape(moved.shape[:v.ndim - len(axes)] + (-1,))


def _gap(v, axes, top):
    """The least distance, over the slices, between the extreme (largest if `top`) and the
    runner-up: where it is <= KINK, engines may send the gradient to different elements."""
    s = np.sort(_slices(v, axes), axis=-1)
    if s.shape[-1] < 2:
        return np.inf
    return float((s[..., -1] - s[..., -2] if top else s[..., 1] - s[..., 0]).min())


def _min_args(b, x):
    v = b.value(x)
    d = dim(b, v.ndim)
    if _gap(v, _axes(d, v.ndim), top=False) <= KINK:
        return None  # a tie: which element gets the gradient differs between engines
    return (x,), {"dim": d, "keepdim": b.chance(0.5)}


def _extreme_args(top):
    def draw(b, x):
        v = b.value(x)
        d = dims(b, v.ndim)
        if _gap(v, _axes(d, v.ndim), top) <= KINK:
            return None  # a tie: torch splits the gradient evenly, others may not
        return (x,), {"dim": d, "keepdim": b.chance(0.5)}
    return draw


def _argmax_args(b, x):
    v = b.value(x)
    d = dim(b, v.ndim) if v.ndim else 0
    if _gap(v, _axes(d, v.ndim), top=True) <= KINK:
        return None  # a tie (or a near one, which float32 may round into one)
    return (x,), {"dim": d, "keepdim": b.chance(0.5)}


def _prod_args(b, x):
    if b.chance(0.3):
        return (x,), {"dim": None}  # every element, torch.prod(x)
    nd = b.value(x).ndim
    return (x,), {"dim": dim(b, nd) if nd else 0, "keepdim": b.chance(0.5)}


def _prod_torch(args, params):
    if params["dim"] is None:
        return f"torch.prod({args[0]})"
    return f"torch.prod({args[0]}, dim={params['dim']}, keepdim={params['keepdim']})"


def _fit_with_zeros(b, min_rank):
    """A fresh leaf for prod, often with one or two exact zeros: where a vjp written as
    result / x divides by zero. prod is a polynomial, so finite differences stay exact there.
    (Leaves never hold zeros otherwise; the builder protocol has no such leaf, so this one's
    values are replaced here, before any step uses it.)"""
    x = fit_any(b, min_rank)
    leaf = b.leaves[-1]
    k = b.integer(0, min(2, len(leaf.values)))  # shrinks to no zero
    if k:
        values = list(leaf.values)
        for i in b.distinct(k, 0, len(values) - 1):
            values[i] = 0.0
        b.leaves[-1] = replace(leaf, values=tuple(values))
        b.session.add_leaf(b.leaves[-1])
    return x


def _count(v, axes):
    return int(np.prod([v.shape[a] for a in axes]))


def _spread_args(is_std):
    def draw(b, x):
        v = b.value(x)
        d = dims(b, v.ndim)
        axes = _axes(d, v.ndim)
        if is_std and _count(v, axes) < 2:  # std of one element is 0, a kink: another dim
            d = b.pick([a for a in range(v.ndim) if v.shape[a] >= 2])  # shape_ok: one exists
            axes = (d,)
        n = _count(v, axes)
        correction = b.integer(0, 1) if n >= 2 else 0  # n - correction > 0
        if is_std:
            spread = np.std(_slices(v, axes), axis=-1, ddof=correction) if n > correction \
                else np.zeros(1)
            # std's derivative is 1/std: kept below ~10 (its second, 1/std^3, below ~1e3).
            if spread.min() <= 0.1:
                return None
        return (x,), {"dim": d, "correction": correction, "keepdim": b.chance(0.5)}
    return draw


def _spread_shape_ok(shape):
    return any(s >= 2 for s in shape)


def _fit_spread(b, min_rank):
    """A fresh leaf with an axis of two or more elements (std's spread needs two)."""
    shape = b.draw_shape(min_rank=max(1, min_rank))
    return b.new_leaf((max(2, shape[0]),) + tuple(shape[1:]))


def _norm_args(b, x):
    """ord 1 where no entry is near zero (|x|'s kink), 2 where no slice is near the zero
    vector, inf where the largest |x| of each slice is unique and away from zero."""
    v = b.value(x)
    d = dims(b, v.ndim)
    axes = _axes(d, v.ndim)
    a = np.abs(v)
    ords = [o for o, ok in (
        (2, np.sqrt((_slices(a, axes) ** 2).sum(-1)).min() > POSITIVE),
        (1, a.min() > KINK),
        ("inf", _gap(a, axes, top=True) > KINK and _slices(a, axes).max(-1).min() > KINK))
        if ok]
    if not ords:
        return None
    return (x,), {"ord": b.pick(ords), "dim": d, "keepdim": b.chance(0.5)}


def _norm_torch(args, params):
    o = params["ord"]
    ord_src = "float('inf')" if o == "inf" else literal(o)
    return (f"torch.linalg.vector_norm({args[0]}, ord={ord_src}, dim={literal(params['dim'])}, "
            f"keepdim={params['keepdim']})")


def _softmax_args(b, x):
    return (x,), {"dim": dim(b, b.value(x).ndim)}


def _reduction(name, rank, **kw):
    return OpSpec(name, "reduction", getattr(O, name),
                  f"torch.{name}({{0}}, dim={{dim}}, keepdim={{keepdim}})", rank=rank,
                  draw=_reduce_args, **kw)


OPS = (
    _reduction("sum", 4),
    _reduction("mean", 11),
    OpSpec("max", "reduction", O.max, "torch.max({0}, dim={dim}, keepdim={keepdim}).values",
           rank=23, min_rank=1, draw=_max_args),
    OpSpec("min", "reduction", O.min, "torch.min({0}, dim={dim}, keepdim={keepdim}).values",
           rank=23.5, min_rank=1, draw=_min_args),
    _reduction("logsumexp", 24),
    OpSpec("amax", "reduction", O.amax, "torch.amax({0}, dim={dim}, keepdim={keepdim})",
           rank=27, draw=_extreme_args(True)),
    OpSpec("amin", "reduction", O.amin, "torch.amin({0}, dim={dim}, keepdim={keepdim})",
           rank=28, draw=_extreme_args(False)),
    OpSpec("prod", "reduction", O.prod, _prod_torch, rank=29, draw=_prod_args,
           fit=_fit_with_zeros),
    OpSpec("var", "reduction", O.var,
           "torch.var({0}, dim={dim}, correction={correction}, keepdim={keepdim})", rank=30,
           draw=_spread_args(False)),
    OpSpec("std", "reduction", O.std,
           "torch.std({0}, dim={dim}, correction={correction}, keepdim={keepdim})", rank=31,
           min_rank=1, shape_ok=_spread_shape_ok, fit=_fit_spread, draw=_spread_args(True)),
    OpSpec("norm", "reduction", O.norm, _norm_torch, rank=32, draw=_norm_args,
           doc="torch.linalg.vector_norm with ord 1, 2 or inf (the param 'inf')"),
    # Piecewise constant with an integer result: spelled as a float tensor that never
    # requires grad, so later ops use it as a constant (no backward goes through it).
    OpSpec("argmax", "reduction", O.argmax,
           "torch.argmax({0}, dim={dim}, keepdim={keepdim}).to({0}.dtype)", rank=33,
           draw=_argmax_args, doc="the first maximum's index along dim, as a float constant"),
    OpSpec("softmax", "softmax", O.softmax, "torch.softmax({0}, dim={dim})", rank=25,
           min_rank=1, draw=_softmax_args),
    OpSpec("log_softmax", "softmax", O.log_softmax, "torch.log_softmax({0}, dim={dim})",
           rank=26, min_rank=1, draw=_softmax_args),
)
