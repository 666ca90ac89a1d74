"""Indexing with int tensors (gather, scatter_add, index_select, index_add, embedding), and
einsum.

The int indices are params (nested tuples of ints), printed as lists inside torch.tensor().
They are drawn with repeats often: where an index repeats, the gradients must add (a
scatter that assigns instead of adding is the classic bug). All these ops are linear in their
float operands, so they have no kink to keep away from.
"""
import numpy as np

from reference import ops as O

from .draws import dim
from .params import literal
from .record import OpSpec


def ints(arr):
    """An int array as nested tuples of ints (a hashable param; a 0-d array is an int)."""
    return tuple(ints(a) for a in arr) if arr.ndim else int(arr)


def _index_values(b, shape, size):
    """Indices in [0, size) of `shape`, repeating often: half the time from at most two
    values, so that a gradient that assigns where it should add shows."""
    hi = min(size, 2) if b.chance(0.5) else size
    return np.array([b.integer(0, hi - 1) for _ in range(int(np.prod(shape)))],
                    dtype=np.int64).reshape(shape)


def _along_shape(b, shape, d, smaller):
    """An index shape for gather/scatter along d: any length on d (repeats when longer than
    the dim), and each other axis as long as x's or, if `smaller`, sometimes shorter (torch
    allows index.size(k) <= x.size(k) off d)."""
    return tuple(b.integer(1, 4) if k == d else
                 (b.integer(1, s) if smaller and b.chance(0.3) else s)
                 for k, s in enumerate(shape))


def _gather_args(b, x):
    shape = b.value(x).shape
    d = dim(b, len(shape))
    idx = _index_values(b, _along_shape(b, shape, d % len(shape), True), shape[d])
    return (x,), {"dim": d, "indices": ints(idx)}


def _scatter_add_args(b, x):
    shape = b.value(x).shape
    d = dim(b, len(shape))
    idx = _index_values(b, _along_shape(b, shape, d % len(shape), True), shape[d])
    # src as large as the index: torch's backward fails for a larger src (pytorch#27614).
    return (x, b.operand_of_shape(idx.shape)), {"dim": d, "indices": ints(idx)}


def _list_args(b, x, with_src):
    shape = b.value(x).shape
    d = dim(b, len(shape))
    idx = _index_values(b, (b.integer(1, 4),), shape[d])
    params = {"dim": d, "indices": ints(idx)}
    if not with_src:
        return (x,), params
    k = d % len(shape)
    src = b.operand_of_shape(shape[:k] + (len(idx),) + shape[k + 1:])
    return (x, src), {**params, "alpha": b.pick([1.0, 1.0, 2.0, -0.5])}


def _embedding_args(b, x):
    rows = b.value(x).shape[0]
    ids_shape = tuple(b.integer(1, 4) for _ in range(b.pick([0, 1, 1, 2])))
    return (x,), {"ids": ints(_index_values(b, ids_shape, rows))}


def _embedding_torch(args, params):
    return f"torch.nn.functional.embedding(torch.tensor({literal(params['ids'])}), {args[0]})"


# Curated equations (their first operand's subscript first). The diagonal ("ii", of the first
# operand or of the second) is the classic: its gradient lies on the diagonal only. Left out,
# as torch's composite einsum makes them differ in what it saves or returns (not in values):
# single-operand permutes and diagonals ("ij->ji", "ii->i") return a view of the operand,
# which the reference's einsum is not (transpose and permute are drawn as such); a letter
# only one operand has, summed out ("ij,jk->i"), is summed first, and that sum is saved
# instead of the operand (a later in-place write to it then does not raise); and "ij,ij->"
# saves a reshaped copy when an operand is not contiguous. Everything here saves both
# operands as they are, in every layout (checked on torch 2.13 over views of a leaf stepped
# in place: plain, transposed, strided, expanded).
EQUATIONS = (
    "ij,jk->ik", "ij,jk", "ij,kj->ik", "ij,ij->ij", "ij,ij->i", "ij,jj->i", "ii,i->i", "ii->",
    "ij->", "ij->j", "i,j->ij", "i,i->", "i,i->i", "bij,bjk->bik", "bij,bkj->bik",
    "ijk,ik->ij", "ijk,jk->ij", "ijk->ik",
)


def _fits(eq, shape):
    sub = eq.split(",")[0].split("->")[0]
    if len(sub) != len(shape):
        return False
    sizes = {}
    return all(sizes.setdefault(c, s) == s for c, s in zip(sub, shape))


def _einsum_args(b, x):
    shape = b.value(x).shape
    eqs = [eq for eq in EQUATIONS if _fits(eq, shape)]
    if not eqs:
        return None
    eq = b.pick(eqs)
    subs = eq.split("->")[0].split(",")
    sizes = dict(zip(subs[0], shape))
    others = []
    for sub in subs[1:]:
        # Other letters get sizes of their own; a shared letter keeps its size (einsum's
        # size-1 broadcasting is not drawn: NumPy's einsum lacks it).
        for c in sub:
            sizes.setdefault(c, b.integer(1, 4))
        others.append(b.operand_of_shape(tuple(sizes[c] for c in sub), scale=0.5))
    return (x, *others), {"equation": eq}


def _einsum_fit(b, min_rank):
    """A fresh first operand for a random equation (square half the time at rank 2, so that
    the diagonal equations are drawn)."""
    rank = max(min_rank, b.integer(1, 3))
    if rank == 2 and b.chance(0.5):
        n = b.integer(1, 4)
        return b.new_leaf((n, n))
    return b.new_leaf(b.draw_shape(min_rank=rank, max_rank=rank))


OPS = (
    OpSpec("gather", "other", lambda x, dim, indices: O.gather_op(x, dim, indices),
           "torch.gather({0}, {dim}, torch.tensor({indices}))", rank=60, min_rank=1,
           draw=_gather_args, doc="out[i][j] = x[i][indices[i][j]] (dim=1); repeats add back"),
    OpSpec("scatter_add", "other",
           lambda x, src, dim, indices: O.scatter_add(x, dim, indices, src),
           "{0}.scatter_add({dim}, torch.tensor({indices}), {1})", rank=61, min_rank=1,
           draw=_scatter_add_args, doc="x with src added at indices along dim"),
    OpSpec("index_select", "other", lambda x, dim, indices: O.index_select(x, dim, indices),
           "torch.index_select({0}, {dim}, torch.tensor({indices}))", rank=62, min_rank=1,
           draw=lambda b, x: _list_args(b, x, False), doc="x's slices at indices along dim"),
    OpSpec("index_add", "other",
           lambda x, src, dim, indices, alpha: O.index_add(x, dim, indices, src, alpha),
           "{0}.index_add({dim}, torch.tensor({indices}), {1}, alpha={alpha})", rank=63,
           min_rank=1, draw=lambda b, x: _list_args(b, x, True),
           doc="x with alpha * src's slices added at indices along dim"),
    OpSpec("embedding", "other",
           lambda w, ids: O.embedding(ids, w), _embedding_torch,
           rank=64, min_rank=2, shape_ok=lambda shape: len(shape) == 2, draw=_embedding_args,
           fit=lambda b, min_rank: b.new_leaf((b.integer(1, 4), b.integer(1, 3))),
           doc="the weight's rows at ids (padding_idx, not drawn: see test_indexing_conventions)"),
    OpSpec("einsum", "other", lambda *xs, equation: O.einsum(equation, *xs),
           "torch.einsum({equation}, {args})", rank=65, min_rank=1,
           shape_ok=lambda shape: len(shape) <= 3, draw=_einsum_args, fit=_einsum_fit,
           saves_operand=True, may_be_view=True,
           doc="a curated equation (EQUATIONS) on operands that fit it"),
)
