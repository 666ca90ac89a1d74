"""Reductions along dims (with keepdim), and softmax / log_softmax along one dim."""
import numpy as np

from reference import ops as O

from .draws import dim, dims
from .record import KINK, OpSpec


def _reduce_args(b, x):
    return (x,), {"dim": dims(b, b.value(x).ndim), "keepdim": b.chance(0.5)}


def _max_args(b, x):
    v = b.value(x)
    d = dim(b, v.ndim)
    if v.shape[d] > 1 and np.diff(np.sort(v, axis=d), axis=d).min() <= KINK:
        return None  # a tie: which element gets the gradient differs between engines
    return (x,), {"dim": d, "keepdim": b.chance(0.5)}


def _softmax_args(b, x):
    return (x,), {"dim": dim(b, b.value(x).ndim)}


def _reduction(name, rank, **kw):
    return OpSpec(name, "reduction", getattr(O, name),
                  f"torch.{name}({{0}}, dim={{dim}}, keepdim={{keepdim}})", rank=rank,
                  draw=_reduce_args, **kw)


OPS = (
    _reduction("sum", 4),
    _reduction("mean", 11),
    OpSpec("max", "reduction", O.max, "torch.max({0}, dim={dim}, keepdim={keepdim}).values",
           rank=23, min_rank=1, draw=_max_args),
    _reduction("logsumexp", 24),
    OpSpec("softmax", "softmax", O.softmax, "torch.softmax({0}, dim={dim})", rank=25,
           min_rank=1, draw=_softmax_args),
    OpSpec("log_softmax", "softmax", O.log_softmax, "torch.log_softmax({0}, dim={dim})",
           rank=26, min_rank=1, draw=_softmax_args),
)
