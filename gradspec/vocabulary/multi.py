"""Ops with several outputs (a `MultiOp` step names each): values with their int64 indices
(the second output, which never carries a gradient), or the pieces of a tensor along a dim.

Their `params` rule takes the input's array (the strategy picks the input) and draws the dim
first, then the rest; it returns None where values would meet a tie (which index wins a tie
differs between engines legitimately).
"""
import numpy as np

from reference import ops as O

from .draws import dim
from .record import KINK, OpSpec


def _indexed(rest):
    def params(b, v):
        d = dim(b, v.ndim)
        if v.shape[d] > 1 and np.diff(np.sort(v, axis=d), axis=d).min() <= KINK:
            return None
        return {"dim": d, **rest(b, v.shape[d])}
    return params


def _pieces(rest):
    def params(b, v):
        d = dim(b, v.ndim)
        return {"dim": d, **rest(b, v.shape[d])}
    return params


def _two(shape, params):
    return 2


def _n_pieces(shape, params):
    size = shape[params["dim"]]
    if "split_size" in params:
        return -(-size // params["split_size"])
    if "chunks" in params:
        return -(-size // -(-size // params["chunks"]))
    return size


def _multi(name, torch, params, indexed):
    return OpSpec(name, "multi", getattr(O, name), torch, min_rank=1, params=params,
                  n_outputs=_two if indexed else _n_pieces, indexed=indexed)


OPS = (
    _multi("max_dim", "torch.max({0}, dim={dim}, keepdim={keepdim})",
           _indexed(lambda b, size: {"keepdim": b.chance(0.5)}), True),
    _multi("min_dim", "torch.min({0}, dim={dim}, keepdim={keepdim})",
           _indexed(lambda b, size: {"keepdim": b.chance(0.5)}), True),
    _multi("sort", "torch.sort({0}, dim={dim}, descending={descending})",
           _indexed(lambda b, size: {"descending": b.chance(0.5)}), True),
    _multi("topk", "torch.topk({0}, {k}, dim={dim}, largest={largest})",
           _indexed(lambda b, size: {"k": b.integer(1, size), "largest": not b.chance(0.3)}),
           True),
    _multi("split", "torch.split({0}, {split_size}, dim={dim})",
           _pieces(lambda b, size: {"split_size": b.integer(1, size)}), False),
    _multi("chunk", "torch.chunk({0}, {chunks}, dim={dim})",
           _pieces(lambda b, size: {"chunks": b.integer(1, size + 1)}), False),
    _multi("unbind", "torch.unbind({0}, dim={dim})", _pieces(lambda b, size: {}), False),
)
