"""Indexing with int tensors (gather, scatter_add, index_select, index_add, embedding) and
einsum.

Every vjp here puts gradients back where the forward read them, and *adds* where an index
repeats (np.add.at, never a plain assignment: a repeated index read twice gets both
gradients). Each scatter's own vjp is the matching gather, so second derivatives come free.
Like torch, the nodes save their int indices (as tensors: freeing the graph frees them).
"""
import numpy as np

from ._core import const, index_tensor, new, record
from .elementwise import mul, scale
from .shape import expand, getitem_backward, index, index_add_zeros, reshape

__all__ = ["gather_op", "scatter_add_zeros", "scatter_add", "index_select", "index_add",
           "embedding", "einsum"]


# ----- gather / scatter_add along a dim -------------------------------------------------------
def _along(idx, d):
    """The full index of torch's gather/scatter: `idx` on axis d, each other axis its own
    position (so `idx` may be smaller than the tensor off axis d, as torch allows)."""
    grids = np.indices(idx.shape, sparse=True)
    return tuple(idx if k == d else grids[k] for k in range(idx.ndim))


def gather_op(x, dim, index):
    """`torch.gather(x, dim, index)`: out[i][j] = x[i][index[i][j]] (dim=1)."""
    idx = np.asarray(index, dtype=np.int64)
    d = dim % x.ndim
    out = new(x.data[_along(idx, d)])
    # torch's GatherBackward0 saves x too (unused but for its sizes): a later in-place write
    # to x makes this backward raise there, so here too.
    record("GatherBackward0", (out,), (x,),
           lambda g, n, i, _x: (scatter_add_zeros(g, x.shape, d, i.data),),
           save=(index_tensor(idx), x))
    return out


def scatter_add_zeros(g, shape, dim, idx):
    """Zeros of `shape` with `g` (of idx's shape) *added* at `idx` along `dim`: gather's vjp."""
    data = np.zeros(shape, dtype=g.dtype)
    np.add.at(data, _along(idx, dim), g.data)
    out = new(data)
    record("ScatterAddBackward", (out,), (g,), lambda gg, n: (gather_op(gg, dim, idx),))
    return out


def _corner(shape):
    """The leading block of `shape` as a basic index."""
    return tuple(slice(0, s) for s in shape)


def scatter_add(x, dim, index, src):
    """`x.scatter_add(dim, index, src)`: x with src[i][j] added at [i][index[i][j]] (dim=1).
    Only src's leading block of index's shape is read (torch allows a larger src): the rest
    of src gets a zero gradient."""
    idx = np.asarray(index, dtype=np.int64)
    d = dim % x.ndim
    data = np.array(x.data, copy=True)
    np.add.at(data, _along(idx, d), src.data[_corner(idx.shape)])
    out = new(data, x)

    def vjp(g, n, i):
        gs = None
        if n[1]:
            gs = gather_op(g, d, i.data)
            if gs.shape != src.shape:
                gs = getitem_backward(gs, src.shape, _corner(i.shape))
        return (g if n[0] else None), gs
    # torch saves the index only for src's gradient: with src not requiring grad, nothing is
    # saved, and a second backward through the node does not raise.
    need = src.requires_grad
    record("ScatterAddBackward0", (out,), (x, src), vjp,
           save=(index_tensor(idx) if need else None,))
    return out


# ----- index_select / index_add / embedding: whole slices along a dim ---------------------------
def index_select(x, dim, indices):
    """`torch.index_select(x, dim, indices)` (1-d indices; a repeated index adds back)."""
    idx = np.asarray(indices, dtype=np.int64)
    d = dim % x.ndim
    out = new(np.take(x.data, idx, axis=d))
    record("IndexSelectBackward0", (out,), (x,),
           lambda g, n, i: (index_add_zeros(g, x.shape, i.data, d),), save=(index_tensor(idx),))
    return out


def index_add(x, dim, indices, src, alpha=1.0):
    """`x.index_add(dim, indices, src, alpha=alpha)`: x with alpha * src's slices added at
    `indices` along `dim` (repeats add). The grad of src is g's slices at `indices`."""
    idx = np.asarray(indices, dtype=np.int64)
    d = dim % x.ndim
    data = np.array(x.data, copy=True)
    np.add.at(np.moveaxis(data, d, 0), idx, alpha * np.moveaxis(src.data, d, 0))
    out = new(data, x)

    def vjp(g, n, i, _src):
        gs = None
        if n[1]:
            gs = index(g, i.data, d)
            gs = gs if alpha == 1.0 else scale(gs, alpha)
        return (g if n[0] else None), gs
    # torch's IndexAddBackward0 saves the index and src (for its shape) for src's gradient
    # only: then a later in-place write to src makes this backward raise, and with src not
    # requiring grad nothing is saved (a second backward does not raise).
    need = src.requires_grad
    record("IndexAddBackward0", (out,), (x, src), vjp,
           save=(index_tensor(idx), src) if need else (None, None))
    return out


def embedding(ids, weight, padding_idx=None):
    """`torch.nn.functional.embedding(ids, weight, padding_idx)`: weight's rows at `ids` (any
    shape). A repeated id accumulates its rows' gradients; the row of `padding_idx` (negative
    counts from the end) gets none, though its value is still read forward."""
    idx = np.asarray(ids, dtype=np.int64)
    out = new(weight.data[idx])
    if padding_idx is not None:
        pad = padding_idx % weight.shape[0]
        # torch's embedding_dense_backward skips those positions (and its double backward
        # zeroes them again): a mask both orders see, as it is recorded with mul.
        keep = const((idx != pad)[..., None], weight.dtype)

    def vjp(g, n, i):
        if padding_idx is not None:
            g = mul(g, keep)
        return (index_add_zeros(g, weight.shape, i.data, 0),)
    record("EmbeddingBackward0", (out,), (weight,), vjp, save=(index_tensor(idx),))
    return out


# ----- einsum ---------------------------------------------------------------------------------
def parse_equation(equation):
    """(input subscripts, output subscript) of an einsum equation without '...'; an implicit
    output is the letters that appear once, sorted (NumPy's and torch's rule)."""
    eq = equation.replace(" ", "")
    if "->" in eq:
        ins, out = eq.split("->")
    else:
        ins = eq
        letters = ins.replace(",", "")
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return ins.split(","), out


def einsum(equation, *operands):
    """`torch.einsum(equation, *operands)`. Operand k's gradient is itself an einsum of g and
    the other operands (onto k's distinct letters), broadcast over letters only k has, then
    put on the diagonal where k repeats a letter ("ii->i")."""
    subs, out_sub = parse_equation(equation)
    explicit = ",".join(subs) + "->" + out_sub
    sizes = {c: s for sub, t in zip(subs, operands) for c, s in zip(sub, t.shape)}
    # A copy: NumPy returns a view of a single operand ("ii->i"), which the reference would
    # not know aliases it.
    out = new(np.array(np.einsum(explicit, *[t.data for t in operands])),
              terms=lambda: np.einsum(explicit, *[np.abs(t.data) for t in operands]))

    def vjp(g, n, *saved):
        return tuple(_einsum_grad(g, k, subs, out_sub, saved, sizes) if need else None
                     for k, need in enumerate(n))
    # One operand: torch permutes, takes a diagonal or sums, saving nothing. Several: each
    # operand's gradient needs the others, and an operand is saved only where another needs
    # a gradient (torch's bmm and mul underneath save as MulBackward0 does): a later in-place
    # write into it raises at backward only then.
    save = tuple(t if any(o.requires_grad for k, o in enumerate(operands) if k != j) else None
                 for j, t in enumerate(operands))
    record("EinsumBackward", (out,), operands, vjp, save=save if len(operands) > 1 else ())
    return out


def _einsum_grad(g, k, subs, out_sub, saved, sizes):
    sub = subs[k]
    letters = "".join(dict.fromkeys(sub))  # k's distinct letters, in order
    others = [(s, t) for j, (s, t) in enumerate(zip(subs, saved)) if j != k]
    known = set(out_sub).union(*[set(s) for s, _ in others])
    present = "".join(c for c in letters if c in known)
    r = einsum(",".join([out_sub] + [s for s, _ in others]) + "->" + present,
               g, *[t for _, t in others])
    if present != letters:  # letters only k has were summed forward: broadcast them back
        r = reshape(r, tuple(sizes[c] if c in present else 1 for c in letters))
        r = expand(r, tuple(sizes[c] for c in letters))
    return r if letters == sub else _diagonal_embed(r, letters, sub)


def _diagonal_embed(t, letters, sub):
    """Zeros of `sub`'s shape with `t` (over `letters`, sub's distinct letters) on the
    diagonals `sub` repeats: the vjp of taking them ("ii->i"), whose own vjp takes them."""
    sizes = dict(zip(letters, t.shape))
    data = np.zeros(tuple(sizes[c] for c in sub), dtype=t.dtype)
    grids = np.indices(t.shape, sparse=True)
    data[tuple(grids[letters.index(c)] for c in sub)] = t.data
    out = new(data)
    record("DiagonalEmbedBackward", (out,), (t,),
           lambda g, n: (einsum(sub + "->" + letters, g),))
    return out
