"""Matrix products and losses."""
import numpy as np

from reference import ops as O

from .params import target_literal
from .record import OpSpec


def _matmul_args(b, x):
    shape = b.value(x).shape
    nd, k, p = len(shape), shape[-1], b.integer(1, 3)
    if nd == 1:
        other = b.pick([(k,), (k, p), (2, k, p)])
    else:
        other = b.pick([(k, p), (k,)] + ([shape[:-2] + (k, p)] if nd >= 3 else [])
                       + ([(2,) + shape[:-2] + (k, p)] if nd == 2 else []))
    return (x, b.operand_of_shape(other, scale=0.5)), {}


def _linear_args(b, x):
    out = b.integer(1, 3)
    w = b.operand_of_shape((out, b.value(x).shape[-1]), scale=0.5)
    return (x, w) + ((b.operand_of_shape((out,)),) if b.chance(0.6) else ()), {}


def _cross_entropy_args(b, x):
    shape = b.value(x).shape
    c = shape[-1]
    if len(shape) == 2:
        return (x,), {"target": tuple(b.integers(0, c - 1, shape[0], shape[0]))}
    return (x,), {"target": b.integer(0, c - 1)}


def _cross_entropy_torch(args, params):
    return f"torch.nn.functional.cross_entropy({args[0]}, torch.tensor({target_literal(params)}))"


OPS = (
    OpSpec("matmul", "other", O.matmul, "torch.matmul({0}, {1})", rank=21, min_rank=1,
           saves_operand=True, draw=_matmul_args),
    OpSpec("linear", "other", O.linear, "torch.nn.functional.linear({args})", rank=22,
           min_rank=1, saves_operand=True, draw=_linear_args),
    OpSpec("mse_loss", "other", O.mse_loss, "torch.nn.functional.mse_loss({0}, {1})", rank=38,
           saves_operand=True,
           draw=lambda b, x: ((x, b.operand_like(x, broadcast=False)), {})),
    OpSpec("cross_entropy", "other", lambda x, target: O.cross_entropy(x, np.array(target)),
           _cross_entropy_torch, rank=39, draw=_cross_entropy_args,
           shape_ok=lambda shape: len(shape) in (1, 2) and shape[-1] >= 2,
           fit=lambda b, min_rank: b.new_leaf((b.integer(1, 3), b.integer(2, 4)))),
)
