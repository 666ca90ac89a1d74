"""Shape ops, indexing, cat/stack: their vjps move gradients back into the input's layout.

Where torch saves index tensors (integer indexing), so do we, so that a second backward
without retain_graph fails exactly where torch's does.
"""
import weakref

import numpy as np

from ._core import index_tensor, new, record

__all__ = ["reshape", "transpose", "permute", "expand", "sum_to", "unsqueeze", "squeeze",
           "getitem", "getitem_backward", "index", "index_add_zeros", "cat", "stack"]


# ----- views: torch's view ops alias their input's memory here too --------------------------
def _view(out, x, fn, args):
    """Make `out` (whose data is a NumPy view of x's) a view of `x` as torch's view ops do: it
    shares x's memory and version counter, and remembers its root base and the chain of view
    ops that replays it from that base (reference/inplace.py rebuilds its history from there
    after an in-place write)."""
    base = x if x._base is None else x._base
    out._base = base
    out._view_chain = x._view_chain + ((fn, args),)
    out._version = x._version
    if base._views is None:
        base._views = []
    base._views.append(weakref.ref(out))
    return out


def replay(x, chain):
    """Apply a view chain (`Tensor._view_chain`) to `x`."""
    for fn, args in chain:
        x = fn(x, *args)
    return x


def reshape(x, shape):
    shape = tuple(shape)
    data = np.reshape(x.data, shape)
    out = new(data)
    record("ViewBackward0", (out,), (x,), lambda g, n: (reshape(g, x.shape),))
    # A view where the strides allow it, else a copy: NumPy decides as torch's reshape does.
    return _view(out, x, reshape, (shape,)) if np.may_share_memory(data, x.data) else out


def transpose(x, dim0, dim1):
    out = new(np.swapaxes(x.data, dim0, dim1))
    record("TransposeBackward0", (out,), (x,), lambda g, n: (transpose(g, dim0, dim1),))
    return _view(out, x, transpose, (dim0, dim1))


def permute(x, dims):
    dims = tuple(d % x.ndim for d in dims)
    inverse = tuple(int(i) for i in np.argsort(dims))
    out = new(np.transpose(x.data, dims))
    record("PermuteBackward0", (out,), (x,), lambda g, n: (permute(g, inverse),))
    return _view(out, x, permute, (dims,))


def expand(x, shape):
    shape = tuple(x.shape[i - len(shape) + x.ndim] if s == -1 else s
                  for i, s in enumerate(shape))
    # A writeable view (torch refuses a write only where an element repeats: a 0 stride).
    out = new(expanded(x.data, shape))
    record("ExpandBackward0", (out,), (x,), lambda g, n: (sum_to(g, x.shape),))
    return _view(out, x, expand, (shape,))


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


def expanded(arr, shape):
    """`arr` broadcast to `shape` as torch's expand lays it out: a dim that grows gets stride
    0, a new leading dim of size 1 the stride a contiguous one would have (torch's overlap
    checks compare strides)."""
    strides = [0] * len(shape)
    lead = len(shape) - arr.ndim
    for i in reversed(range(len(shape))):
        j = i - lead
        size = arr.shape[j] if j >= 0 else 1
        stride = arr.strides[j] if j >= 0 else (
            shape[i + 1] * strides[i + 1] if i + 1 < len(shape) else 0)
        strides[i] = 0 if size != shape[i] else stride
    return np.lib.stride_tricks.as_strided(arr, tuple(shape), tuple(strides))


def unsqueeze(x, dim):
    d = dim % (x.ndim + 1)
    # torch's stride for the new dim (NumPy's differs at the end of a non-contiguous tensor;
    # torch's overlap checks compare strides, size-1 dims' included).
    inserted = x.data.strides[d] * x.shape[d] if d < x.ndim else x.data.itemsize
    out = new(np.lib.stride_tricks.as_strided(
        x.data, x.shape[:d] + (1,) + x.shape[d:],
        x.data.strides[:d] + (inserted,) + x.data.strides[d:]))
    record("UnsqueezeBackward0", (out,), (x,), lambda g, n: (reshape(g, x.shape),))
    return _view(out, x, unsqueeze, (dim,))


def squeeze(x, dim=None):
    if dim is None:
        data = np.squeeze(x.data)
    else:
        d = dim % x.ndim if x.ndim else 0
        data = np.squeeze(x.data, d) if x.ndim and x.shape[d] == 1 else x.data.view()
    out = new(data)
    record("SqueezeBackward0", (out,), (x,), lambda g, n: (reshape(g, x.shape),))
    return _view(out, x, squeeze, (dim,))


# ----- basic indexing: ints and slices --------------------------------------------------------
def getitem(x, index):
    """Basic indexing (`x[1]`, `x[:, 0:2]`, `x[::2]`): a view, as in torch (a trailing `...`
    keeps an all-integer index a 0-d view, where NumPy would return a scalar copy)."""
    index = index if isinstance(index, tuple) else (index,)
    out = new(x.data[index + (Ellipsis,)] if Ellipsis not in index else x.data[index])
    record("SliceBackward0", (out,), (x,), lambda g, n: (getitem_backward(g, x.shape, index),))
    return _view(out, x, getitem, (index,))


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
