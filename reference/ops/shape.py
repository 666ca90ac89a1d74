"""Shape ops, indexing, cat/stack: their vjps move gradients back into the input's layout.

Where torch saves index tensors (integer indexing), so do we, so that a second backward
without retain_graph fails exactly where torch's does.
"""
import numpy as np

from ._core import index_tensor, new, record


def reshape(x, shape):
    shape = tuple(shape)
    out = new(np.reshape(x.data, shape))
    record("ViewBackward0", (out,), (x,), lambda g, n: (reshape(g, x.shape),))
    return out


def transpose(x, dim0, dim1):
    out = new(np.swapaxes(x.data, dim0, dim1))
    record("TransposeBackward0", (out,), (x,), lambda g, n: (transpose(g, dim0, dim1),))
    return out


def permute(x, dims):
    dims = tuple(d % x.ndim for d in dims)
    inverse = tuple(int(i) for i in np.argsort(dims))
    out = new(np.transpose(x.data, dims))
    record("PermuteBackward0", (out,), (x,), lambda g, n: (permute(g, inverse),))
    return out


def expand(x, shape):
    shape = tuple(x.shape[i - len(shape) + x.ndim] if s == -1 else s
                  for i, s in enumerate(shape))
    out = new(np.broadcast_to(x.data, shape))
    record("ExpandBackward0", (out,), (x,), lambda g, n: (sum_to(g, x.shape),))
    return out


def sum_to(x, shape):
    """Sum `x` down to `shape` (the inverse of broadcasting); a no-op when shapes agree."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1)
    out = new(np.sum(x.data, axis=axes, keepdims=True).reshape(shape))
    record("SumToBackward", (out,), (x,), lambda g, n: (expand(g, x.shape),))
    return out


def unsqueeze(x, dim):
    out = new(np.expand_dims(x.data, dim % (x.ndim + 1)))
    record("UnsqueezeBackward0", (out,), (x,), lambda g, n: (reshape(g, x.shape),))
    return out


def squeeze(x, dim=None):
    if dim is None:
        data = np.squeeze(x.data)
    else:
        d = dim % x.ndim if x.ndim else 0
        data = np.squeeze(x.data, d) if x.ndim and x.shape[d] == 1 else x.data
    out = new(np.array(data, copy=False))
    record("SqueezeBackward0", (out,), (x,), lambda g, n: (reshape(g, x.shape),))
    return out


# ----- basic indexing: ints and slices --------------------------------------------------------
def getitem(x, index):
    """Basic indexing (`x[1]`, `x[:, 0:2]`, `x[::2]`): a view in torch; a copy here."""
    out = new(np.array(x.data[index], copy=True))
    record("SliceBackward0", (out,), (x,), lambda g, n: (getitem_backward(g, x.shape, index),))
    return out


def getitem_backward(g, shape, index):
    """Zeros of `shape` with `g` written at `index`: the vjp of `getitem`, and its twin."""
    data = np.zeros(shape, dtype=g.dtype)
    data[index] = g.data
    out = new(data)
    record("SliceBackwardBackward", (out,), (g,), lambda gg, n: (getitem(gg, index),))
    return out


# ----- integer-array indexing: repeated indices add up ----------------------------------------
def index(x, indices, dim=0):
    """`x[indices]` along `dim` with an integer array; torch saves the indices."""
    idx = np.asarray(indices.data if hasattr(indices, "data") else indices, dtype=np.int64)
    out = new(np.take(x.data, idx, axis=dim % x.ndim))
    record("IndexBackward0", (out,), (x,),
           lambda g, n, i: (index_add_zeros(g, x.shape, i.data, dim),), save=(index_tensor(idx),))
    return out


def index_add_zeros(g, shape, idx, dim):
    """Zeros of `shape` with the slices of `g` *added* at `idx` along `dim` (repeats sum)."""
    d = dim % len(shape)
    data = np.zeros(shape, dtype=g.dtype)
    moved = np.moveaxis(data, d, 0)
    k = np.ndim(idx)  # `g` holds the index's k axes where `shape` had axis d
    np.add.at(moved, idx, np.moveaxis(g.data, list(range(d, d + k)), list(range(k))))
    out = new(data)
    record("IndexPutBackward", (out,), (g,), lambda gg, n: (index(gg, idx, dim),))
    return out


# ----- joining --------------------------------------------------------------------------------
def cat(tensors, dim=0):
    tensors = list(tensors)
    d = dim % tensors[0].ndim
    out = new(np.concatenate([t.data for t in tensors], axis=d))
    bounds = np.cumsum([0] + [t.shape[d] for t in tensors])

    def vjp(g, n):
        return tuple(
            getitem(g, (slice(None),) * d + (slice(int(lo), int(hi)),)) if need else None
            for lo, hi, need in zip(bounds[:-1], bounds[1:], n))
    record("CatBackward0", (out,), tensors, vjp)
    return out


def stack(tensors, dim=0):
    tensors = list(tensors)
    d = dim % (tensors[0].ndim + 1)
    out = new(np.stack([t.data for t in tensors], axis=d))

    def vjp(g, n):
        return tuple(getitem(g, (slice(None),) * d + (i,)) if need else None
                     for i, need in enumerate(n))
    record("StackBackward0", (out,), tensors, vjp)
    return out
