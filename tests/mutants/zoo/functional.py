"""The functional API and higher-order gradients: autograd.grad's options, batched grad,
jacobian, create_graph and double backward.
"""
import torch

from .base import Mutant, OpMutant, TracksLeaves, unbroadcast
from .killers import (BATCHED_GRAD, FUNCTIONAL, FUNCTIONS_OF_LEAVES, GRAD_IN_FULL,
                      GRADS_AS_VALUES, THROUGH_GRAD)


class FunctionalGradAccumulates(Mutant):
    id = "grad-writes-dot-grad"
    area = "functional grad"
    description = "autograd.grad also accumulates its result into the inputs' .grad"
    killers = (FUNCTIONAL,)

    def grad(self, outputs, inputs, weights, retain_graph, create_graph, allow_unused, **kw):
        grads = super().grad(outputs, inputs, weights, retain_graph, create_graph, allow_unused,
                             **kw)
        for t, g in zip(inputs, grads):
            if g is not None and t.is_leaf:
                t.grad = g.detach().clone() if t.grad is None else t.grad + g.detach()
        return grads


class AllowUnusedZeros(Mutant):
    id = "allow-unused-zeros"
    area = "functional grad"
    description = "grad(..., allow_unused=True) returns zeros for an unused input, not None"
    killers = (FUNCTIONAL,)

    def grad(self, outputs, inputs, weights, retain_graph, create_graph, allow_unused, **kw):
        grads = super().grad(outputs, inputs, weights, retain_graph, create_graph, allow_unused,
                             **kw)
        return tuple(torch.zeros_like(t) if g is None else g for t, g in zip(inputs, grads))


# ===== harder semantics: higher-order gradients =============================================
class CreateGraphIgnored(Mutant):
    id = "create-graph-ignored"
    area = "higher order (create_graph)"
    description = ("create_graph=True is ignored (the graph is still retained): gradients are "
                   "constants, so a gradient of a gradient is missing")
    killers = (GRADS_AS_VALUES, THROUGH_GRAD)

    def backward(self, roots, weights, retain_graph, create_graph):
        retain = create_graph if retain_graph is None else retain_graph
        super().backward(roots, weights, retain, False)

    def grad(self, outputs, inputs, weights, retain_graph, create_graph, allow_unused, **kw):
        retain = create_graph if retain_graph is None else retain_graph
        return super().grad(outputs, inputs, weights, retain, False, allow_unused, **kw)


class MulBackwardConstant(OpMutant):
    id = "mul-double-backward-constant"
    area = "higher order (double backward)"
    description = ("mul's backward treats its saved operands as constants: first derivatives "
                   "are right, their derivatives (a Hessian-vector product) miss the mixed term")
    killers = (GRADS_AS_VALUES,)
    targets = ("mul",)

    def bad_vjp(self, name, params, xs, g, real):
        a, b = xs
        return [unbroadcast(g * b.detach(), a.shape), unbroadcast(g * a.detach(), b.shape)]


class DotGradDetached(TracksLeaves, Mutant):
    id = "dot-grad-detached"
    area = "higher order (.grad after create_graph)"
    description = ("backward(create_graph=True) stores .grad detached: it does not require grad "
                   "and a backward through it adds nothing")
    killers = (THROUGH_GRAD,)

    def backward(self, roots, weights, retain_graph, create_graph):
        super().backward(roots, weights, retain_graph, create_graph)
        if create_graph:
            for t in self.leaves():
                if t.grad is not None:
                    t.grad = t.grad.detach()


# ===== harder semantics: the functional API ================================================
class MaterializeGradsIgnored(Mutant):
    id = "materialize-grads-ignored"
    area = "functional API (materialize_grads)"
    description = "grad(..., materialize_grads=True) still returns None for an unused input"
    killers = (GRAD_IN_FULL,)

    def grad(self, outputs, inputs, weights, retain_graph, create_graph, allow_unused, **kw):
        return super().grad(outputs, inputs, weights, retain_graph, create_graph, allow_unused)


class BatchedGradOneRow(Mutant):
    id = "batched-grad-one-row"
    area = "functional API (batched grad)"
    description = "grad(..., is_grads_batched=True) repeats the first row's vjp for every row"
    killers = (BATCHED_GRAD,)

    def batched_grad(self, outputs, inputs, weights, retain_graph, create_graph, allow_unused,
                     materialize_grads):
        n = int(weights[0].shape[0])
        first = self.torch.autograd.grad(outputs, inputs, [w[0] for w in weights],
                                         retain_graph=retain_graph, create_graph=create_graph,
                                         allow_unused=allow_unused,
                                         materialize_grads=materialize_grads)
        return tuple(None if g is None else g.unsqueeze(0).expand(n, *g.shape).clone()
                     for g in first)


class GradOutputsReversed(Mutant):
    id = "grad-outputs-reversed"
    area = "functional API (several outputs)"
    description = "grad() over several outputs pairs their grad_outputs in reverse order"
    killers = (GRAD_IN_FULL,)

    def grad(self, outputs, inputs, weights, retain_graph, create_graph, allow_unused, **kw):
        return super().grad(outputs, inputs, weights[::-1], retain_graph, create_graph,
                            allow_unused, **kw)


class JacobianTransposed(Mutant):
    id = "jacobian-transposed"
    area = "functional API (jacobian)"
    description = ("jacobian() lays each Jacobian out as input shape + output shape (the "
                   "transpose), not output shape + input shape")
    killers = (FUNCTIONS_OF_LEAVES,)

    def functional(self, kind, f, inputs, weight):
        result = super().functional(kind, f, inputs, weight)
        if kind != "jacobian":
            return result
        transposed = []
        for j, x in zip(result, inputs):
            out_shape = j.shape[:j.dim() - x.dim()]
            flat = j.reshape(out_shape.numel(), x.numel())
            transposed.append(flat.T.reshape(tuple(x.shape) + tuple(out_shape)))
        return tuple(transposed)
