"""Where gradients land: `.grad` accumulation, retain_graph, zero_grad, a leaf used several
times (weight sharing).
"""
import torch

from .base import Mutant, TracksLeaves
from .killers import ACCUMULATION, RETAIN_GRAPH, REUSE


class OverwritesGrad(TracksLeaves):
    """A mixin for any adapter: each backward replaces a leaf's `.grad` by its new contribution
    instead of adding to it (a leaf that gets no contribution keeps its old `.grad`)."""

    def backward(self, roots, weights, retain_graph, create_graph):
        leaves = self.leaves()
        before = [t.grad for t in leaves]
        for t in leaves:
            t.grad = None
        try:
            super().backward(roots, weights, retain_graph, create_graph)
        finally:
            for t, old in zip(leaves, before):
                if t.grad is None:
                    t.grad = old


class ForcesRetainGraph:
    """A mixin for any adapter: retain_graph is always `retain`, whatever the caller asks."""

    retain = True

    def backward(self, roots, weights, retain_graph, create_graph):
        super().backward(roots, weights, self.retain, create_graph)

    def grad(self, outputs, inputs, weights, retain_graph, create_graph, allow_unused, **kw):
        return super().grad(outputs, inputs, weights, self.retain, create_graph, allow_unused,
                            **kw)


class GradOverwritten(OverwritesGrad, Mutant):
    id = "grad-overwritten"
    area = ".grad accumulation"
    description = "each backward overwrites a leaf's .grad instead of adding to it"
    killers = (ACCUMULATION, RETAIN_GRAPH)


class RetainGraphAlways(ForcesRetainGraph, Mutant):
    id = "retain-graph-always"
    area = "retain_graph"
    description = "retain_graph is always True: a backward through freed buffers never fails"
    killers = (RETAIN_GRAPH, ACCUMULATION)
    retain = True


class RetainGraphNever(RetainGraphAlways):
    id = "retain-graph-never"
    area = "retain_graph"
    description = "retain_graph=True is ignored: the graph is always freed"
    killers = (RETAIN_GRAPH, ACCUMULATION)
    retain = False


class ZeroGradNoop(Mutant):
    id = "zero-grad-noop"
    area = "zero_grad"
    description = "zero_grad does nothing"
    killers = (ACCUMULATION,)

    def zero_grad(self, tensors, set_to_none):
        pass


class ZeroGradNeverNone(Mutant):
    id = "zero-grad-never-none"
    area = "zero_grad"
    description = "zero_grad(set_to_none=True) zeros .grad instead of setting it to None"
    killers = (ACCUMULATION,)

    def zero_grad(self, tensors, set_to_none):
        super().zero_grad(tensors, False)


# ===== 3. reuse: a leaf used several times ===================================================
class _Use(torch.autograd.Function):
    """One use of a leaf: an identity whose backward passes the gradient on only if
    `keep(use number, number of uses so far)` says so."""

    @staticmethod
    def forward(ctx, x, counter, k, keep):
        ctx.counter, ctx.k, ctx.keep = counter, k, keep
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return (g if ctx.keep(ctx.k, ctx.counter[0]) else None), None, None, None


class _ReuseMutant(Mutant):
    """Every use of a leaf that requires grad (an op or function argument, a layer parameter
    in a call) goes through a _Use; `keep` decides which uses the engine accumulates."""

    @staticmethod
    def keep(k, n):
        raise NotImplementedError

    def __init__(self):
        super().__init__()
        real_op = self.op
        self.op = lambda name, *args, **params: real_op(name, *map(self._use, args), **params)

    def _use(self, t):
        if not (isinstance(t, torch.Tensor) and t.is_leaf and t.requires_grad
                and torch.is_grad_enabled()):
            return t
        counter = t.__dict__.setdefault("_mutant_uses", [0])
        counter[0] += 1
        return _Use.apply(t, counter, counter[0] - 1, self.keep)

    def call_layer(self, module, layer, args):
        params = {name: self._use(p) for name, p in module.named_parameters()}
        args = [None if a is None else self._use(a) for a in args]
        call = lambda *xs: torch.func.functional_call(module, params, xs)  # noqa: E731
        if layer.kind == "linear":
            return (call(args[0]),)
        if layer.kind == "rnn_cell":
            return (call(args[0]) if args[1] is None else call(args[0], args[1]),)
        x, h, c = args
        return tuple(call(x) if h is None else call(x, (h, c)))

    def custom_function(self, spec, forward_values, backward_values):
        f = super().custom_function(spec, forward_values, backward_values)
        return lambda *ts: f(*map(self._use, ts))


class FirstUseOnly(_ReuseMutant):
    id = "reuse-first-use-only"
    area = "reuse (weight sharing)"
    description = "only the first use of a reused leaf or parameter contributes to its .grad"
    killers = (REUSE,)

    @staticmethod
    def keep(k, n):
        return k == 0


class LastUseOnly(_ReuseMutant):
    id = "reuse-last-use-only"
    area = "reuse (weight sharing)"
    description = "only the last use of a reused leaf or parameter contributes to its .grad"
    killers = (REUSE,)

    @staticmethod
    def keep(k, n):
        return k == n - 1
