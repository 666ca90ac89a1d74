"""Ops with several outputs (split, sort, min along a dim) whose backward is wrong.
"""
import torch

from .base import Mutant, _Application
from .killers import MULTI


# ===== harder semantics: ops with several outputs =========================================
class _MultiNode(torch.autograd.Function):
    """One application of a multi-output op: torch's forward, the mutant's backward. It gets
    None for an output no loss used (as torch's own nodes do before materializing zeros) and
    saves tensors (the indices, and the input) only where torch's node saves the indices, so a
    freed graph fails alike."""

    @staticmethod
    def forward(ctx, app, x):
        ctx.app, ctx.shape, ctx.dtype = app, x.shape, x.dtype
        ctx.set_materialize_grads(False)
        outs = tuple(o.clone() for o in app.real(x))
        if len(outs) == 2 and not outs[1].is_floating_point():  # (values, indices)
            ctx.mark_non_differentiable(outs[1])
            ctx.save_for_backward(outs[1], x)
        else:
            ctx.piece_shapes = [o.shape for o in outs]
        return outs

    @staticmethod
    def backward(ctx, *grads):
        return None, ctx.app.bad_vjp(ctx, grads)


class MultiOpMutant(Mutant):
    """The multi-output ops in `targets` get `bad_vjp(name, params, ctx, grads)` (None for an
    unused output) as their backward."""

    targets = ()

    def __init__(self):
        super().__init__()
        real_op = self.op

        def op(name, *args, **params):
            if name not in self.targets:
                return real_op(name, *args, **params)
            app = _Application(lambda x: real_op(name, x, **params), None, True)
            app.bad_vjp = lambda ctx, grads: self.bad_vjp(name, params, ctx, grads)
            return _MultiNode.apply(app, *args)
        self.op = op

    def bad_vjp(self, name, params, ctx, grads):
        raise NotImplementedError


class UnusedPieceOnes(MultiOpMutant):
    id = "unused-piece-ones"
    area = "multi-output (unused outputs)"
    description = ("split/chunk/unbind treat the gradient of a piece no loss used as ones, not "
                   "zeros")
    killers = (MULTI("split"), MULTI("chunk"), MULTI("unbind"))
    targets = ("split", "chunk", "unbind")

    def bad_vjp(self, name, params, ctx, grads):
        dim = params["dim"] % len(ctx.shape)
        grads = [torch.ones(shape, dtype=ctx.dtype) if g is None else g
                 for g, shape in zip(grads, ctx.piece_shapes)]
        return torch.stack(grads, dim) if name == "unbind" else torch.cat(grads, dim)


class _Scatter(MultiOpMutant):
    def bad_vjp(self, name, params, ctx, grads):
        indices, x = ctx.saved_tensors
        g = grads[0]
        dim = params["dim"] % len(ctx.shape)
        if name in ("max_dim", "min_dim") and not params["keepdim"]:
            g, indices = g.unsqueeze(dim), indices.unsqueeze(dim)
        return torch.zeros(ctx.shape, dtype=g.dtype).scatter(dim, self.where(indices, dim, x), g)


class SortGradUnpermuted(_Scatter):
    id = "sort-grad-unpermuted"
    area = "multi-output (sort)"
    description = "sort's vjp hands the gradient back in sorted order, not through the indices"
    killers = (MULTI("sort"),)
    targets = ("sort",)

    @staticmethod
    def where(indices, dim, x):
        shape = [1] * indices.dim()
        shape[dim] = indices.shape[dim]
        return torch.arange(indices.shape[dim]).reshape(shape).expand(indices.shape)


class MinDimAtArgmax(_Scatter):
    id = "min-dim-at-argmax"
    area = "multi-output (min along a dim)"
    description = "min(dim)'s vjp routes the gradient to the argmax (a max kernel reused)"
    killers = (MULTI("min_dim"),)
    targets = ("min_dim",)

    @staticmethod
    def where(indices, dim, x):
        return x.argmax(dim, keepdim=True)
