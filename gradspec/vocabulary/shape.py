"""Shape ops (views in torch, and in the reference), indexing, and joining tensors."""
from reference import ops as O

from .draws import basic_index, dim
from .params import to_index
from .record import OpSpec


def _reshape_args(b, x):
    v = b.value(x)
    shape, n = v.shape, v.size
    # Reshapes that regroup elements first (the reversed shape of a non-square matrix looks
    # like a transpose but is not one); flattening and size-1 dims after.
    regroup = [o for o in [tuple(reversed(shape))] + (
        [(2, n // 2)] if n % 2 == 0 and n > 2 else []) if o != shape]
    options = regroup + [o for o in [(n,), shape + (1,), (1,) + shape] if o != shape]
    return (x,), {"shape": b.pick(regroup if regroup and b.chance(0.5) else options)}


def _transpose_args(b, x):
    nd = b.value(x).ndim
    return (x,), {"dim0": b.integer(0, nd - 1), "dim1": b.integer(0, nd - 1)}


def _permute_args(b, x):
    nd = b.value(x).ndim
    if nd >= 2 and b.chance(0.7):
        # Every axis moves (a rotation): with fixed points a permutation of three axes is a
        # transpose, and its own inverse.
        k = b.integer(1, nd - 1)
        return (x,), {"dims": tuple((i + k) % nd for i in range(nd))}
    return (x,), {"dims": b.permutation(nd)}


def _expand_args(b, x):
    shape = b.value(x).shape
    target = tuple(3 if s == 1 and b.chance(0.5) else s for s in shape)
    if b.chance(0.5) or target == shape:
        target = (2,) + target
    return (x,), {"shape": target}


def _squeeze_fit(b, min_rank):
    return b.new_leaf((1, b.integer(1, 3)))


def _index_args(b, x):
    shape = b.value(x).shape
    d = b.integer(0, len(shape) - 1)
    idx = b.integers(0, shape[d] - 1, min_size=1, max_size=4)
    return (x,), {"indices": tuple(idx), "dim": d}


def _index_torch(args, params):
    prefix = ":, " * params["dim"]
    return f"{args[0]}[{prefix}torch.tensor({list(params['indices'])})]"


def _join_args(b, x, op):
    shape = b.value(x).shape
    nd = len(shape)
    d = b.integer(0, nd - 1 if op == "cat" else nd)
    if op == "cat" and b.chance(0.5):
        y = b.operand_of_shape(shape[:d] + (b.integer(1, 3),) + shape[d + 1:])
    else:
        y = b.operand_like(x, broadcast=False)
    return (x, y), {"dim": d}


OPS = (
    OpSpec("reshape", "shape", O.reshape, "{0}.reshape({shape})", rank=27, view=True,
           draw=_reshape_args),
    OpSpec("transpose", "shape", O.transpose, "{0}.transpose({dim0}, {dim1})", rank=28,
           view=True, min_rank=2, draw=_transpose_args),
    OpSpec("permute", "shape", O.permute, "{0}.permute({dims})", rank=29, view=True,
           min_rank=2, rich_rank=3, draw=_permute_args,
           doc="rich at rank 3: a permutation of two axes is a transpose"),
    OpSpec("expand", "shape", O.expand, "{0}.expand({shape})", rank=30, view=True,
           draw=_expand_args),
    OpSpec("unsqueeze", "shape", O.unsqueeze, "{0}.unsqueeze({dim})", rank=31, view=True,
           draw=lambda b, x: ((x,), {"dim": dim(b, b.value(x).ndim, extra=1)})),
    OpSpec("squeeze", "shape", O.squeeze, "{0}.squeeze({dim})", rank=32, view=True,
           shape_ok=lambda shape: 1 in shape, fit=_squeeze_fit,
           draw=lambda b, x: ((x,), {"dim": b.pick(
               [i for i, s in enumerate(b.value(x).shape) if s == 1])})),
    OpSpec("getitem", "shape", lambda x, index: O.getitem(x, to_index(index)), "{0}[{index}]",
           rank=33, view=True, min_rank=1,
           draw=lambda b, x: ((x,), {"index": basic_index(b, b.value(x).shape)})),
    OpSpec("index", "shape", lambda x, indices, dim: O.index(x, indices, dim), _index_torch,
           rank=34, min_rank=1, draw=_index_args,
           doc="x[..., indices] along dim: an advanced index, so a copy (and repeats add)"),
    OpSpec("cat", "join", lambda *xs, dim: O.cat(xs, dim), "torch.cat([{args}], dim={dim})",
           rank=35, min_rank=1, draw=lambda b, x: _join_args(b, x, "cat")),
    OpSpec("stack", "join", lambda *xs, dim: O.stack(xs, dim),
           "torch.stack([{args}], dim={dim})", rank=36, draw=lambda b, x: _join_args(b, x, "stack")),
)
