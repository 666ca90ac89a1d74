"""Losses: mse_loss, and cross_entropy as torch composes it (log_softmax + nll_loss)."""
import numpy as np

from ._core import const, index_tensor, new, record
from .elementwise import mul, scale, sub
from .reduction import log_softmax
from .shape import expand, reshape

__all__ = ["mse_loss", "nll_loss", "cross_entropy"]


def mse_loss(input, target, reduction="mean"):
    diff = input.data - target.data
    sq = diff * diff
    out = new({"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](sq), input)
    count = sq.size if reduction == "mean" else 1

    def vjp(g, n, x, t):
        gg = g if reduction == "none" else expand(reshape(g, ()), x.shape)
        d = mul(gg, scale(sub(x, t), 2.0 / count))
        return (d if n[0] else None, scale(d, -1.0) if n[1] else None)
    record("MseLossBackward0", (out,), (input, target), vjp, save=(input, target))
    return out


def nll_loss(logp, target, reduction="mean"):
    """`-logp[i, target[i]]`, averaged; `logp` is (N, C) or (C,) with `target` (N,) or ()."""
    tgt = np.asarray(target.data if hasattr(target, "data") else target, dtype=np.int64)
    batched = logp.ndim == 2
    picked = logp.data[np.arange(len(tgt)), tgt] if batched else logp.data[tgt]
    count = picked.size if reduction == "mean" else 1
    reduce = {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction]
    out = new(-reduce(picked), logp)

    def vjp(g, n, t):
        onehot = np.zeros(logp.shape, dtype=g.dtype)
        if batched:
            onehot[np.arange(len(t.data)), t.data] = -1.0 / count
            gg = reshape(g, (len(t.data), 1)) if reduction == "none" else reshape(g, (1, 1))
        else:
            onehot[t.data] = -1.0 / count
            gg = reshape(g, (1,))
        return (mul(expand(gg, logp.shape), const(onehot, g.dtype)),)
    record("NllLossBackward0", (out,), (logp,), vjp, save=(index_tensor(tgt),))
    return out


def cross_entropy(input, target, reduction="mean"):
    """Class-index targets; the class dimension is 1 for (N, C) input, 0 for (C,)."""
    return nll_loss(log_softmax(input, 1 if input.ndim == 2 else 0), target, reduction)
