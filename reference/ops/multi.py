"""Ops with several outputs: values with their indices (max/min along a dim, sort, topk) and
the pieces of a tensor (split, chunk, unbind).

Indices are int64 tensors that never require grad. The values are one `gather` of the input
at the indices, which saves them (as torch's MaxBackward0, SortBackward0 and TopkBackward0
do, so a second backward without retain_graph fails there too). The pieces share one node
with an output per piece that saves nothing (torch's SplitBackward0, UnbindBackward0); a piece
no loss used arrives at it as None and is materialized as zeros, so it sends zeros back.
"""
import numpy as np

from ..tensor import Tensor
from ._core import index_tensor, new, record
from .shape import cat, squeeze, stack

__all__ = ["gather", "scatter_zeros", "max_dim", "min_dim", "sort", "topk", "split", "chunk",
           "unbind"]


def gather(x, idx, dim, name="GatherBackward0"):
    """`x`'s entries at the int array `idx` along `dim` (np.take_along_axis)."""
    d = dim % x.ndim
    out = new(np.take_along_axis(x.data, idx, d))
    record(name, (out,), (x,), lambda g, n, i: (scatter_zeros(g, x.shape, i.data, d),),
           save=(index_tensor(idx),))
    return out


def scatter_zeros(g, shape, idx, dim):
    """Zeros of `shape` with `g` *added* at `idx` along `dim`: gather's vjp, and its twin."""
    data = np.zeros(shape, dtype=g.dtype)
    grids = np.indices(idx.shape, sparse=True)
    np.add.at(data, tuple(idx if k == dim else grids[k] for k in range(len(shape))), g.data)
    out = new(data)
    record("ScatterAddBackward", (out,), (g,), lambda gg, n: (gather(gg, idx, dim),))
    return out


def _indices(idx):
    return Tensor(np.asarray(idx, dtype=np.int64))


def _select(name, arg, x, dim, keepdim):
    d = dim % x.ndim
    idx = np.expand_dims(arg(x.data, axis=d), d)
    values = gather(x, idx, d, name)
    if not keepdim:
        values, idx = squeeze(values, d), np.squeeze(idx, d)
    return values, _indices(idx)


def max_dim(x, dim, keepdim=False):
    """`torch.max(x, dim, keepdim)`: (values, indices)."""
    return _select("MaxBackward0", np.argmax, x, dim, keepdim)


def min_dim(x, dim, keepdim=False):
    """`torch.min(x, dim, keepdim)`: (values, indices)."""
    return _select("MinBackward0", np.argmin, x, dim, keepdim)


def _order(x, d, descending):
    return np.argsort(-x.data if descending else x.data, axis=d, kind="stable")


def sort(x, dim=-1, descending=False):
    """`torch.sort`: (values, indices) along `dim`."""
    d = dim % x.ndim
    idx = _order(x, d, descending)
    return gather(x, idx, d, "SortBackward0"), _indices(idx)


def topk(x, k, dim=-1, largest=True):
    """`torch.topk` (sorted): the k largest (or smallest) values along `dim`, and indices."""
    d = dim % x.ndim
    idx = np.take(_order(x, d, largest), np.arange(k), axis=d)
    return gather(x, idx, d, "TopkBackward0"), _indices(idx)


def _pieces(name, x, d, bounds, drop_dim):
    """One node whose outputs are `x`'s slices [lo, hi) along `d` (index lo if `drop_dim`)."""
    pick = (lambda lo, hi: lo) if drop_dim else slice
    outs = tuple(new(np.array(x.data[(slice(None),) * d + (pick(lo, hi),)], copy=True))
                 for lo, hi in bounds)

    def vjp(grads, n):
        grads = grads if isinstance(grads, tuple) else (grads,)
        return (stack(grads, d) if drop_dim else cat(grads, d),)
    record(name, outs, (x,), vjp)
    return outs


def split(x, split_size, dim=0):
    """`torch.split` with an int size: pieces of `split_size` (the last may be shorter)."""
    d = dim % x.ndim
    size = x.shape[d]
    bounds = [(lo, min(lo + split_size, size)) for lo in range(0, size, split_size)]
    return _pieces("SplitBackward0", x, d, bounds, False)


def chunk(x, chunks, dim=0):
    """`torch.chunk`: pieces of ceil(size / chunks), so possibly fewer than `chunks`."""
    d = dim % x.ndim
    return split(x, -(-x.shape[d] // chunks), d)


def unbind(x, dim=0):
    """`torch.unbind`: every index along `dim`, that dim removed."""
    d = dim % x.ndim
    return _pieces("UnbindBackward0", x, d, [(i, i + 1) for i in range(x.shape[d])], True)
