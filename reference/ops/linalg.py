"""matmul (1-D, 2-D, batched with broadcasting) and linear."""
import math

import numpy as np

from ..grad_mode import is_recording
from ..tensor import Tensor
from ._core import new, record
from .shape import reshape, sum_to, transpose

__all__ = ["matmul", "linear"]


def _as_matrix(t, is_left):
    """Promote a 1-D operand the way matmul does: (n,) -> (1, n) on the left, (n, 1) right."""
    if t.ndim != 1:
        return t
    return reshape(t, (1, t.shape[0]) if is_left else (t.shape[0], 1))


def matmul(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError("both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    out = new(np.matmul(a.data, b.data),
              terms=lambda: np.matmul(np.abs(a.data), np.abs(b.data)))

    def vjp(g, n, sa, sb):
        # Promote to matrices, multiply by the other's transpose, then sum the batch
        # broadcasting back and drop the promoted axes.
        g2 = reshape(g, _promoted_out_shape(a, b))
        ga = gb = None
        if n[0]:
            ga = matmul(g2, transpose(_as_matrix(sb, False), -1, -2))
            ga = reshape(sum_to(ga, _as_shape(a, True)), a.shape)
        if n[1]:
            gb = matmul(transpose(_as_matrix(sa, True), -1, -2), g2)
            gb = reshape(sum_to(gb, _as_shape(b, False)), b.shape)
        return ga, gb
    sa = sb = None
    if (a.requires_grad or b.requires_grad) and is_recording():
        copy_a, copy_b = saves_copies(a, b)
        sa = _saved(a, copy_a) if b.requires_grad else None
        sb = _saved(b, copy_b) if a.requires_grad else None
    record("MmBackward0" if a.ndim == b.ndim == 2 else "MatmulBackward", (out,), (a, b), vjp,
           save=(sa, sb))
    return out


# ----- what torch's matmul saves: an operand itself, or a copy of it ----------------------------
# torch.matmul is a composite (aten/src/ATen/native/LinearAlgebra.cpp, _matmul_impl): 1-D and
# 2-D operands go to dot/mv/mm, which save them (or a view: unsqueeze, t()), but a batched
# product folds the larger operand into a matrix (`reshape`) or expands both to a common batch
# and reshapes them for bmm. A reshape that cannot view its input copies it, and then the
# node saves that copy: its own version counter, its values as they were. So a later in-place
# write to the operand (an optimizer step in a post-accumulate hook) does not make that
# backward raise "modified by an inplace operation", and the gradient uses the old values.
# E.g. (1, 2) @ (2, 2, 2): b.mT() folded to (4, 2) is a copy; (2, 3, 4) @ (4, 5): a folded to
# (6, 4) is a view. tests/torch/test_matmul_versions.py checks this against torch, case by case.
def saves_copies(a, b):
    """(for a, for b): does torch's matmul(a, b) save a copy of that operand (True) rather
    than the operand itself or a view of it (False)?"""
    return _copies(a.shape, _elem_strides(a), a.requires_grad,
                   b.shape, _elem_strides(b), b.requires_grad)


def _saved(t, copied):
    """What matmul saves of operand `t`: `t`, or a copy (a recorded clone, so that a gradient
    taken through the saved value still reaches `t`; exact, as torch's reshape copy is)."""
    if not copied:
        return t
    out = Tensor(np.array(t.data, copy=True))
    record("CloneBackward0", (out,), (t,), lambda g, n: (g,))
    return out


def _elem_strides(t):
    return tuple(s // t.data.itemsize for s in t.data.strides)


def _copies(sa, ta, ra, sb, tb, rb):
    """_matmul_impl's path for shapes `s*`, strides `t*` (in elements), requires_grad `r*`."""
    da, db = len(sa), len(sb)
    if da <= 2 and db <= 2:  # dot, mv, unsqueeze(0).mm, mm
        return False, False
    if _should_fold(sa, ta, ra, sb, tb, rb):
        if da >= db:  # a folded to (-1, k) @ b (mm or mv)
            return not _can_view(sa, ta, (math.prod(sa[:-1]), sa[-1])), False
        # b.mT() folded, times a.t() (or a, 1-D)
        shape, strides = _mT(sb, tb)
        return False, not _can_view(shape, strides, (math.prod(shape[:-1]), shape[-1]))
    if da == 3 and db == 3 and sa[0] != sb[0]:  # a batch of one that requires grad: squeezed
        if sa[0] == 1 and ra:
            return _copies(sa[1:], ta[1:], ra, sb, tb, rb)
        if sb[0] == 1 and rb:
            return _copies(sa, ta, ra, sb[1:], tb[1:], rb)
    # Both expanded to the common batch and reshaped to (batch, rows, cols) for bmm.
    batch = tuple(np.broadcast_shapes(sa[:-2], sb[:-2]))
    size = math.prod(batch)
    n = sa[-2] if da > 1 else 1
    ea = _expand_geometry(sa, ta, batch + (n, sa[-1]))
    eb = _expand_geometry(sb, tb, batch + (sb[-2:] if db > 1 else sb))
    return (not _can_view(*ea, (size, n, sa[-1])),
            not _can_view(*eb, (size,) + (sb[-2:] if db > 1 else sb)))


def _should_fold(sa, ta, ra, sb, tb, rb):
    """torch's should_fold: mm/mv on the larger operand folded into a matrix, or bmm?"""
    larger = len(sa) >= len(sb)
    shape, strides = (sa, ta) if larger else _mT(sb, tb)
    if not (len(shape) >= 3 and (len(sb) if larger else len(sa)) <= 2):
        return False
    if rb if larger else ra:  # the smaller operand requires grad: fold, even where it copies
        return True
    if len(sa) == 2:
        return False
    if math.prod(shape) == 0:
        return True
    return all(strides[i] == strides[i + 1] * shape[i + 1] for i in range(len(shape) - 2))


def _mT(shape, strides):
    return (shape[:-2] + (shape[-1], shape[-2]), strides[:-2] + (strides[-1], strides[-2]))


def _expand_geometry(shape, strides, target):
    """torch's inferExpandGeometry: the sizes and strides of `expand(target)`."""
    out_strides = [0] * len(target)
    lead = len(target) - len(shape)
    for i in reversed(range(len(target))):
        j = i - lead
        size = shape[j] if j >= 0 else 1
        stride = strides[j] if j >= 0 else (
            target[i + 1] * out_strides[i + 1] if i + 1 < len(target) else 1)
        out_strides[i] = stride if size == target[i] else 0
    return tuple(target), tuple(out_strides)


def _can_view(shape, strides, new_shape):
    """torch's computeStride (aten/src/ATen/TensorUtils.cpp): can a tensor of `shape` and
    `strides` be viewed as `new_shape` (else reshape copies)?"""
    if math.prod(shape) == 0 or not shape:
        return True
    view_d = len(new_shape) - 1
    chunk_base_stride = strides[-1]
    tensor_numel = view_numel = 1
    for d in reversed(range(len(shape))):
        tensor_numel *= shape[d]
        if d == 0 or (shape[d - 1] != 1 and strides[d - 1] != tensor_numel * chunk_base_stride):
            while view_d >= 0 and (view_numel < tensor_numel or new_shape[view_d] == 1):
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return False
            if d > 0:
                chunk_base_stride = strides[d - 1]
                tensor_numel = view_numel = 1
    return view_d == -1


def _as_shape(t, is_left):
    if t.ndim != 1:
        return t.shape
    return (1, t.shape[0]) if is_left else (t.shape[0], 1)


def _promoted_out_shape(a, b):
    sa, sb = _as_shape(a, True), _as_shape(b, False)
    batch = np.broadcast_shapes(sa[:-2], sb[:-2])
    return tuple(batch) + (sa[-2], sb[-1])


def linear(x, weight, bias=None):
    """`x @ weight.T + bias` as one node, like torch's addmm: it saves `x` only if the weight
    needs a gradient and the weight only if `x` does (so what a backward frees matches)."""
    out = new(np.matmul(x.data, weight.data.T) + (0 if bias is None else bias.data),
              terms=lambda: np.matmul(np.abs(x.data), np.abs(weight.data.T))
              + (0 if bias is None else np.abs(bias.data)))
    inputs = (x, weight) if bias is None else (x, weight, bias)

    def vjp(g, n, sx, sw):
        out_f, in_f = weight.shape
        g2 = reshape(g, (-1, out_f))  # every batch dim flattened, as addmm sees them
        gx = reshape(matmul(g2, sw), x.shape) if n[0] else None
        gw = matmul(transpose(g2, 0, 1), reshape(sx, (-1, in_f))) if n[1] else None
        grads = (gx, gw)
        if bias is not None:
            grads += (reshape(sum_to(g2, (1, out_f)), (out_f,)) if n[2] else None,)
        return grads
    record("AddmmBackward0" if bias is not None else "MmBackward0", (out,), inputs, vjp,
           save=(x if weight.requires_grad else None, weight if x.requires_grad else None))
    return out
