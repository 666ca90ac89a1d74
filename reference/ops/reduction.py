"""Reductions and the softmax family, with `dim` (int or tuple) and `keepdim`."""
import numpy as np

from ._core import const, index_tensor, new, norm_dims, record
from .elementwise import exp, mul, scale, sub
from .shape import expand, reshape

__all__ = ["sum", "mean", "max", "logsumexp", "softmax", "log_softmax"]


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


def max(x, dim, keepdim=False):
    """Values of `max` along `dim`; the gradient goes to the (saved) argmax positions."""
    d = dim % x.ndim if x.ndim else 0
    data = x.data if x.ndim else x.data.reshape(1)
    idx = np.argmax(data, axis=d)
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
    record("MaxBackward0", (out,), (x,), vjp, save=(index_tensor(idx),))
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
