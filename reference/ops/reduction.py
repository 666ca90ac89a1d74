"""Reductions and the softmax family, with `dim` (int or tuple) and `keepdim`."""
import numpy as np

from .. import rounding
from ._core import const, index_tensor, new, norm_dims, record
from .elementwise import add, div, exp, mul, scale, sign, sub
from .shape import expand, reshape, unsqueeze

__all__ = ["sum", "mean", "max", "min", "amax", "amin", "argmax", "prod", "var", "std", "norm",
           "logsumexp", "softmax", "log_softmax"]


def _unreduce(g, shape, dims, keepdim):
    """Put reduced axes back (size 1) so `g` broadcasts against the input's shape."""
    if keepdim:
        return g
    kept = tuple(1 if i in dims else s for i, s in enumerate(shape))
    return reshape(g, kept)


def sum(x, dim=None, keepdim=False):
    dims = norm_dims(dim, x.ndim)
    out = new(np.sum(x.data, axis=dims, keepdims=keepdim),
              terms=lambda: np.sum(np.abs(x.data), axis=dims, keepdims=keepdim))
    record("SumBackward1", (out,), (x,),
           lambda g, n: (expand(_unreduce(g, x.shape, dims, keepdim), x.shape),))
    return out


def mean(x, dim=None, keepdim=False):
    dims = norm_dims(dim, x.ndim)
    count = int(np.prod([x.shape[d] for d in dims])) if x.ndim else 1
    out = new(np.mean(x.data, axis=dims, keepdims=keepdim), x,
              terms=lambda: np.mean(np.abs(x.data), axis=dims, keepdims=keepdim))
    record("MeanBackward1", (out,), (x,),
           lambda g, n: (scale(expand(_unreduce(g, x.shape, dims, keepdim), x.shape),
                               1.0 / count),))
    return out


def _select(name, arg, x, dim, keepdim):
    """Values of max/min along `dim`; the gradient goes to the (saved) arg positions."""
    d = dim % x.ndim if x.ndim else 0
    data = x.data if x.ndim else x.data.reshape(1)
    idx = arg(data, axis=d)
    out = new(np.take_along_axis(data, np.expand_dims(idx, d), d).squeeze(d)
              if not keepdim or not x.ndim else
              np.take_along_axis(data, np.expand_dims(idx, d), d))
    if not x.ndim:
        out = new(out.data.reshape(()))

    def vjp(g, n, i):
        onehot = np.zeros(data.shape, dtype=g.dtype)
        np.put_along_axis(onehot, np.expand_dims(i.data, d), 1.0, d)
        onehot = onehot.reshape(x.shape)
        return (mul(expand(_unreduce(g, x.shape, (d,), keepdim or not x.ndim), x.shape),
                    const(onehot, g.dtype)),)
    record(name, (out,), (x,), vjp, save=(index_tensor(idx),))
    return out


def max(x, dim, keepdim=False):
    """Values of `torch.max(x, dim)`: the gradient goes to the first maximum."""
    return _select("MaxBackward0", np.argmax, x, dim, keepdim)


def min(x, dim, keepdim=False):
    """Values of `torch.min(x, dim)`: the gradient goes to the first minimum."""
    return _select("MinBackward0", np.argmin, x, dim, keepdim)


def _extreme(name, fn, x, dim, keepdim):
    """amax/amin over `dim` (int or tuple). The gradient is split evenly among the elements
    equal to the result (torch's scale_grad_by_count); the mask comes from the exact forward,
    before rounding noise moves the result."""
    dims = norm_dims(dim, x.ndim)
    raw = fn(x.data, axis=dims, keepdims=True)
    mask = (x.data == raw).astype(x.dtype)
    share = mask / np.sum(mask, axis=dims, keepdims=True)
    out = new(raw if keepdim or not x.ndim else np.squeeze(raw, axis=dims), x)

    def vjp(g, n, x, r):
        return (mul(expand(_unreduce(g, x.shape, dims, keepdim), x.shape),
                    const(share, g.dtype)),)
    record(name, (out,), (x,), vjp, save=(x, out))
    return out


def amax(x, dim, keepdim=False):
    return _extreme("AmaxBackward0", np.amax, x, dim, keepdim)


def amin(x, dim, keepdim=False):
    return _extreme("AminBackward0", np.amin, x, dim, keepdim)


def argmax(x, dim, keepdim=False):
    """The index of the first maximum along `dim`, as a float tensor of x's dtype that never
    requires grad (piecewise constant: a later op may use it, as a constant)."""
    d = dim % x.ndim if x.ndim else 0
    data = x.data if x.ndim else x.data.reshape(1)
    idx = np.argmax(data, axis=d)
    if keepdim and x.ndim:
        idx = np.expand_dims(idx, d)
    return const(idx.reshape(x.shape if not x.ndim else idx.shape), x.dtype)


def _others(x, d):
    """The product of the other entries along axis `d`, at each entry: no division, so it is
    exact where entries are zero. One extra axis holds, for each i, x with entry i set to 1;
    its product along that axis is this same (differentiable) `prod`."""
    n = x.shape[d]
    rows = expand(unsqueeze(x, d), x.shape[:d] + (n,) + x.shape[d:])  # rows[.., i, j, ..] = x_j
    eye = np.eye(n).reshape((1,) * d + (n, n) + (1,) * (x.ndim - d - 1))
    return prod(add(mul(rows, const(1.0 - eye, x.dtype)), const(eye, x.dtype)), dim=d + 1)


def _divided(x, r):
    """result / x, the product of the other entries as torch's prod_backward computes it
    where no entry is zero: what the noisy runs take (`rounding.divides`)."""
    return div(expand(r, x.shape), x)


def prod(x, dim=None, keepdim=False):
    """`torch.prod(x)` (dim None: every element, a 0-d result) or `torch.prod(x, dim,
    keepdim)`. The vjp multiplies by the product of the other entries (`_others`), not by
    result / x, which zeros would break (but see `_divided`)."""
    if dim is None:
        raw = np.prod(x.data)
        out = new(raw, x, terms=lambda: x.data.size * np.abs(raw))

        def vjp_all(g, n, x, r):
            if x.ndim == 0:  # torch's prod_backward passes the gradient of a 0-d x through
                return (g,)
            if x.data.size == 1 and _has_zero(x):  # and of a lone zero (prod_safe_zeros_backward)
                return (reshape(g, x.shape),)
            others = _divided(x, r) if rounding.divides(x) else \
                reshape(_others(reshape(x, (-1,)), 0), x.shape)
            return (mul(expand(g, x.shape), others),)
        record("ProdBackward0", (out,), (x,), vjp_all, save=(x, out))
        return out
    dims = norm_dims(dim, x.ndim)  # () for a 0-d x: the product is x itself
    raw = np.prod(x.data, axis=dims, keepdims=keepdim)
    # Each of the n - 1 products rounds relative to the result.
    out = new(raw, x, terms=lambda: (x.shape[dims[0]] if dims else 1) * np.abs(raw))

    def vjp(g, n, x, r):
        if not dims:
            return (g,)
        if x.shape[dims[0]] == 1 and _has_zero(x):
            # torch's prod_safe_zeros_backward, taken when x holds a zero anywhere, passes the
            # gradient through a dim of size 1: the result then does not depend on x (a
            # gradient of it needs no grad), where the zero-free form, g * result / x, does.
            return (_unreduce(g, x.shape, dims, keepdim),)
        others = _divided(x, _unreduce(r, x.shape, dims, keepdim)) if rounding.divides(x) else \
            _others(x, dims[0])
        return (mul(expand(_unreduce(g, x.shape, dims, keepdim), x.shape), others),)
    record("ProdBackward1", (out,), (x,), vjp, save=(x, out))
    return out


def _has_zero(x):
    return bool(np.any(x.data == 0))


def _spread(x, dims, correction, keepdim):
    """(var, its count - correction, the size of its rounding): the sum of squared deviations
    over `dims`. The deviations x - mean round relative to |x| + |mean|, not to themselves."""
    count = int(np.prod([x.shape[d] for d in dims])) if x.ndim else 1
    m = np.mean(x.data, axis=dims, keepdims=True)
    dev = x.data - m
    denom = count - correction
    var = np.sum(dev * dev, axis=dims, keepdims=keepdim) / denom
    terms = lambda: np.sum(dev * dev + 2 * np.abs(dev) * (np.abs(x.data) + np.abs(m)),  # noqa: E731
                           axis=dims, keepdims=keepdim) / denom
    return var, denom, terms


def var(x, dim=None, correction=1, keepdim=False):
    """`torch.var(x, dim, correction=, keepdim=)`: smooth everywhere (count > correction)."""
    dims = norm_dims(dim, x.ndim)
    raw, denom, terms = _spread(x, dims, correction, keepdim)
    out = new(raw, x, terms=terms)

    def vjp(g, n, x):
        centered = sub(x, mean(x, dim=dims, keepdim=True))
        return (mul(expand(_unreduce(g, x.shape, dims, keepdim), x.shape),
                    scale(centered, 2.0 / denom)),)
    record("VarBackward0", (out,), (x,), vjp, save=(x,))
    return out


def std(x, dim=None, correction=1, keepdim=False):
    """`torch.std`: sqrt of var; its derivative grows as 1/std (the strategies keep std away
    from zero)."""
    dims = norm_dims(dim, x.ndim)
    raw, denom, terms = _spread(x, dims, correction, keepdim)
    root = np.sqrt(raw)
    # sqrt halves var's relative rounding error.
    out = new(root, x, terms=lambda: terms() / np.where(root > 0, 2 * root, 1.0))

    def vjp(g, n, x, r):
        centered = sub(x, mean(x, dim=dims, keepdim=True))
        return (div(mul(expand(_unreduce(g, x.shape, dims, keepdim), x.shape), centered),
                    scale(_unreduce(r, x.shape, dims, keepdim), float(denom))),)
    record("StdBackward0", (out,), (x,), vjp, save=(x, out))
    return out


def norm(x, ord=2, dim=None, keepdim=False):
    """`torch.linalg.vector_norm(x, ord, dim, keepdim)` for ord 1, 2 and inf ("inf").

    At its kinks the vjp takes torch's values: sgn(0) = 0 for ord 1, zero at the zero vector
    for ord 2, and for inf the gradient split evenly among the entries of largest |x|."""
    p = np.inf if ord in ("inf", np.inf) else float(ord)
    dims = norm_dims(dim, x.ndim)
    a = np.abs(x.data)
    if p == 1:
        raw = np.sum(a, axis=dims, keepdims=True)
    elif p == 2:
        raw = np.sqrt(np.sum(a * a, axis=dims, keepdims=True))
    elif p == np.inf:
        raw = np.amax(a, axis=dims, keepdims=True)
        mask = (a == raw).astype(x.dtype)
        share = mask / np.sum(mask, axis=dims, keepdims=True)
    else:
        raise ValueError(f"norm: ord {ord!r} is not one of 1, 2, inf")
    zero = (raw == 0).astype(x.dtype)
    out = new(raw if keepdim or not x.ndim else np.squeeze(raw, axis=dims), x)

    def vjp(g, n, x, r):
        spread = expand(_unreduce(g, x.shape, dims, keepdim), x.shape)
        if p == 1:
            return (mul(spread, sign(x)),)
        if p == 2:  # x / |x|, with |x| replaced by 1 where x is all zeros (x / 1 = 0 there)
            safe = add(_unreduce(r, x.shape, dims, keepdim), const(zero, g.dtype))
            return (div(mul(spread, x), safe),)
        return (mul(mul(spread, sign(x)), const(share, g.dtype)),)
    record("LinalgVectorNormBackward0", (out,), (x,), vjp, save=(x, out))
    return out


def logsumexp(x, dim, keepdim=False):
    dims = norm_dims(dim, x.ndim)
    m = np.max(x.data, axis=dims, keepdims=True) if x.ndim else x.data
    kept = m + np.log(np.sum(np.exp(x.data - m), axis=dims, keepdims=True))
    out = new(kept if keepdim else np.squeeze(kept, axis=dims) if x.ndim else kept, x)

    def vjp(g, n, x, r):
        r_kept = _unreduce(r, x.shape, dims, keepdim)
        return (mul(expand(_unreduce(g, x.shape, dims, keepdim), x.shape), exp(sub(x, r_kept))),)
    record("LogsumexpBackward0", (out,), (x,), vjp, save=(x, out))
    return out


def softmax(x, dim):
    d = dim % x.ndim if x.ndim else None
    e = np.exp(x.data - np.max(x.data, axis=d, keepdims=True))
    out = new(e / np.sum(e, axis=d, keepdims=True), x)

    def vjp(g, n, r):
        gr = mul(g, r)
        return (sub(gr, mul(r, sum(gr, dim=d, keepdim=True))),)
    record("SoftmaxBackward0", (out,), (x,), vjp, save=(out,))
    return out


def log_softmax(x, dim):
    d = dim % x.ndim if x.ndim else None
    shifted = x.data - np.max(x.data, axis=d, keepdims=True)
    out = new(shifted - np.log(np.sum(np.exp(shifted), axis=d, keepdims=True)), x)

    def vjp(g, n, r):
        return (sub(g, mul(exp(r), sum(g, dim=d, keepdim=True))),)
    record("LogSoftmaxBackward0", (out,), (x,), vjp, save=(out,))
    return out
