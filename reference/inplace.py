"""In-place ops, torch's way: the version counter, writes through views, and CopySlices.

An in-place op is its out-of-place op applied to a *snapshot* of the target (the target's
history, its own copy of the values: what torch saves as `original_self`), whose result is
written back into the target's memory. Then:
- the version counter the target shares with its base and views is bumped, so a node that
  saved any of them raises "modified by an inplace operation" when its backward runs;
- a node that saved the op's *result* (relu_) saves the target itself, at its new version;
- on a plain tensor the op's node becomes the target's history; on a view, the root base's
  history becomes CopySlices(old base, new values of the view's region), and every view of
  the base gets a history replayed from the new base (torch regenerates them on access).
"""
import numpy as np

from . import ops
from .errors import InplaceOverlapError, InplaceShapeError, LeafInplaceError
from .grad_mode import is_grad_enabled, no_grad
from .graph import Node, SavedTensor, gradient_edge, record
from .ops._core import const, new
from .ops.shape import expanded, replay
from .tensor import Tensor


def inplace(fn, target, *args, overlap=None):
    """`target` <- fn(target, *args), in place (fn an out-of-place reference op).

    `overlap`: the arrays torch checks for a partial overlap with the target (by default,
    the tensor operands)."""
    base = target._base
    if is_grad_enabled():
        if target.requires_grad and target.is_leaf:
            raise LeafInplaceError(
                "a leaf Variable that requires grad is being used in an in-place operation.")
        if base is not None and base.requires_grad and base.is_leaf:
            raise LeafInplaceError("a view of a leaf Variable that requires grad is being used "
                                   "in an in-place operation.")
    if repeats_memory(target.data):
        raise InplaceOverlapError(
            "unsupported operation: more than one element of the written-to tensor refers to a "
            "single memory location. Please clone() the tensor before performing the operation.")
    if overlap is None:
        overlap = [a.data for a in args if isinstance(a, Tensor) and a is not target]
    for arr in overlap:
        if _partial_overlap(target.data, arr):
            raise InplaceOverlapError(
                "unsupported operation: some elements of the input tensor and the written-to "
                "tensor refer to a single memory location. Please clone() the tensor before "
                "performing the operation.")
    new = fn(_snapshot(target), *args)
    if new.shape != target.shape:
        raise InplaceShapeError(f"output with shape {list(target.shape)} doesn't match the "
                                f"broadcast shape {list(new.shape)}")
    target.data[...] = new.data
    target._version[0] += 1
    node = new.grad_fn
    if node is None:  # nothing recorded (no_grad, or nothing requires grad): history stays
        return target
    for saved in node.saved:  # the node saved its result: that is the target, as it is now
        if saved is not None and saved.tensor is new:
            saved.tensor, saved.version = target, target._version[0]
    if base is None:
        target.grad_fn, target.output_nr, target.requires_grad = node, new.output_nr, True
        _regenerate_views(target)
    else:
        _copy_slices(base, target._view_chain, new)
        _regenerate_views(base)
    return target


def repeats_memory(arr):
    """Does an element of `arr` repeat in memory (a 0 stride on a dim longer than 1, as an
    expand leaves it)? torch refuses to write into such a tensor."""
    return any(st == 0 and n > 1 for st, n in zip(arr.strides, arr.shape))


def _partial_overlap(a, b):
    """torch's get_overlap_status(a, b) == Partial: memory shared, but not as the same
    elements in the same layout. Where either is not dense, torch does not look (too hard)."""
    if not (a.size and b.size and _dense(a) and _dense(b)):
        return False
    a0, b0 = a.__array_interface__["data"][0], b.__array_interface__["data"][0]
    a1, b1 = a0 + a.nbytes, b0 + b.nbytes
    if (a0, a1) == (b0, b1):
        return a.shape != b.shape or a.strides != b.strides
    return a0 < b1 and b0 < a1


def _dense(a):
    """Non-overlapping and dense: its elements fill one block, in some order of the dims."""
    expected = a.itemsize
    for st, n in sorted((st, n) for st, n in zip(a.strides, a.shape) if n != 1):
        if st != expected:
            return False
        expected *= n
    return True


def _snapshot(t):
    """The target before the write: its history, its own values and version counter."""
    s = Tensor(np.array(t.data, copy=True), requires_grad=t.requires_grad)
    s.grad_fn, s.output_nr, s._inference = t.grad_fn, t.output_nr, t._inference
    return s


def _copy_slices(base, chain, new):
    """base <- base with the region `chain` selects replaced by `new` (torch's CopySlices).

    Like torch's, the node holds the in-place op's own node `fn` (new's) and runs it inside
    its backward: edges to the old base and to fn's other inputs; fn's gradient for the view
    goes into the region, the rest of the base's gradient passes through. Its saved tensors
    are fn's, plus a token for fn itself (torch drops fn when the graph is freed, so a second
    backward raises even where fn saved nothing)."""
    fn, like = new.grad_fn, base.data  # the region is replayed on arrays laid out as base's

    def vjp(g, n, *saved):
        res = fn.vjp(region_of(g, chain, like), n, *saved[:-1])
        gb = None
        if n[0]:
            gb = zero_region(g, chain, like)
            if res[0] is not None:
                gb = ops.add(gb, scatter_region(res[0], chain, like))
        return (gb,) + tuple(res[1:])
    node = Node("CopySlices", (gradient_edge(base),) + fn.next_edges[1:], vjp,
                fn.saved + (SavedTensor(const(0.0, base.dtype), "CopySlices"),),
                ((base.shape, base.dtype),))
    base.grad_fn, base.output_nr, base.requires_grad = node, 0, True


def _laid_out(g, like):
    """`g` copied (a recorded clone) into memory laid out like `like` (a view chain replays the
    same region only on the same memory layout: a reshape may view one and copy another)."""
    if g.data.strides == like.strides:
        return g
    data = np.empty_like(like, dtype=g.dtype)
    data[...] = g.data
    out = Tensor(data)
    record("CloneBackward0", (out,), (g,), lambda gg, n: (gg,))
    return out


def scatter_region(g, chain, like):
    """Zeros laid out as `like` with `g` in the region `chain` selects (the view's adjoint)."""
    data = np.zeros_like(like, dtype=g.dtype)
    _region(data, chain)[...] = g.data
    out = Tensor(data)
    record("ScatterRegionBackward", (out,), (g,), lambda gg, n: (region_of(gg, chain, like),))
    return out


def region_of(g, chain, like):
    """A copy of the region `chain` selects in `g`: the view applied to a gradient."""
    return ops.clone(replay(_laid_out(g, like), chain))


def _region(data, chain):
    """The NumPy view of the region `chain` selects in array `data` (nothing recorded)."""
    with no_grad():
        return replay(Tensor(data), chain).data


def zero_region(g, chain, like):
    """`g` with the region `chain` selects set to zero (its own vjp: it is linear)."""
    data = np.empty_like(like, dtype=g.dtype)
    data[...] = g.data
    _region(data, chain)[...] = 0
    out = Tensor(data)
    record("ZeroRegionBackward", (out,), (g,), lambda gg, n: (zero_region(gg, chain, like),))
    return out


def _regenerate_views(base):
    """Give each live view of `base` a history replayed from base's current one."""
    if not base._views:
        return
    refs = [(ref, ref()) for ref in base._views]
    base._views = [ref for ref, v in refs if v is not None]
    for v in (v for _, v in refs if v is not None):
        fresh = replay(base, v._view_chain)
        v.grad_fn, v.output_nr, v.requires_grad = fresh.grad_fn, fresh.output_nr, \
            fresh.requires_grad


# ----- the out-of-place ops the in-place ones are made of ------------------------------------
def clamp(x, lo, hi):
    """torch.clamp: the gradient passes where lo <= x <= hi (bounds included)."""
    out = new(np.clip(x.data, lo, hi), x)
    keep = (x.data >= lo) & (x.data <= hi)

    def vjp(g, n, s):
        return (ops.mul(g, const(s.data, g.dtype)),)
    record("ClampBackward1", (out,), (x,), vjp, save=(const(keep, bool),))
    return out


def masked_fill(x, mask, value):
    """`x` with `value` where `mask` (a constant boolean array of x's shape) is set."""
    mask = np.asarray(mask, dtype=bool)
    out = new(np.where(mask, float(value), x.data), x)

    def vjp(g, n, m):
        return (ops.mul(g, const(~m.data, g.dtype)),)
    record("MaskedFillBackward0", (out,), (x,), vjp, save=(const(mask, bool),))
    return out


def fill_from(x, value):
    """`value` (a tensor broadcast to x's shape, or a float) in place of x: copy_ and fill_.
    x gets zeros; a tensor value gets the gradient summed to its shape."""
    if not isinstance(value, Tensor):
        out = new(np.full(x.shape, float(value)), x)
        record("FillBackward0", (out,), (x,), lambda g, n: (_zeros(g),))
        return out
    out = new(np.array(np.broadcast_to(value.data, x.shape)), x)
    record("CopyBackwards", (out,), (x, value),
           lambda g, n: (_zeros(g) if n[0] else None,
                         ops.sum_to(g, value.shape) if n[1] else None))
    return out


def _zeros(g):
    """torch's gradient for what copy_ and fill_ overwrite: zeros, not None."""
    return const(np.zeros(g.shape), g.dtype)


def setitem(x, index, value):
    """`x[index] = value`: torch's copy_ into the view x[index], as torch's copy_to does it: a
    value of the view's shape is copied (its overlap checked), a 0-d one fills (unchecked), any
    other is stripped of all its leading 1s and expanded first (an expanded value is not
    dense, and torch does not check it)."""
    full = all(isinstance(i, slice) and i.indices(n) == (0, n, 1) for i, n in zip(index, x.shape))
    # torch skips slices that take a whole dim: x[0:len(x)] = v writes into x itself.
    view = x if full else ops.getitem(x, index)
    overlap = None
    if isinstance(value, Tensor) and value.shape != view.shape:
        if value.ndim == 0:
            overlap = []
        else:
            shape = value.shape
            while shape and shape[0] == 1:
                shape = shape[1:]
            overlap = [expanded(value.data.reshape(shape), view.shape)]
    inplace(fill_from, view, value, overlap=overlap)
    return x


__all__ = ["inplace", "repeats_memory", "clamp", "masked_fill", "fill_from", "setitem", "zero_region",
           "scatter_region", "region_of"]
