"""Custom autograd Functions whose mechanism (ctx, needs_input_grad, materialized grads,
the routing of backward's results) is wrong.
"""
import torch

from gradspec.functions import saved_tensors

from .base import Mutant
from .killers import CUSTOM


# ===== 5. custom Functions ===================================================================
def buggy_function(spec, forward_values, backward_values, *, materialize=True,
                   needs=None, grads=None, result=None):
    """gradspec.functions.torch_like_function with one hook per bug: `materialize=False`
    ignores set_materialize_grads(False); `needs(inputs)` computes needs_input_grad;
    `grads(grads)` and `result(ctx, result)` change what backward receives and returns."""

    def forward(ctx, *inputs):
        outputs = forward_values(inputs)
        ctx.save_for_backward(*saved_tensors(spec, inputs, outputs))
        if not spec.materialize_grads and materialize:
            ctx.set_materialize_grads(False)
        if spec.non_differentiable:
            ctx.mark_non_differentiable(*(outputs[j] for j in spec.non_differentiable))
        ctx.inputs_meta = [(x.shape, x.dtype) for x in inputs]
        ctx.fake_needs = needs(inputs) if needs else None
        return outputs

    def backward(ctx, *gs):
        saved = ctx.saved_tensors if spec.saved else ()
        gs = grads(gs) if grads else gs
        out = backward_values(gs, saved, ctx.fake_needs or ctx.needs_input_grad)
        return result(ctx, out) if result else out

    cls = type(spec.name, (torch.autograd.Function,), {"forward": staticmethod(forward),
                                                        "backward": staticmethod(backward)})
    return cls.apply


class CustomGradsSwapped(Mutant):
    id = "custom-grads-swapped"
    area = "custom Function"
    description = "a custom backward's gradients are routed to its inputs in reverse order"
    killers = (CUSTOM,)

    def custom_function(self, spec, forward_values, backward_values):
        def swap(ctx, out):
            return tuple(reversed(out[:2])) + tuple(out[2:]) if len(out) >= 2 else out
        return buggy_function(spec, forward_values, backward_values, result=swap)


class CustomNoneAsZeros(Mutant):
    id = "custom-none-as-zeros"
    area = "custom Function"
    description = "a custom backward's None gradient is turned into zeros"
    killers = (CUSTOM,)

    def custom_function(self, spec, forward_values, backward_values):
        def zeros(ctx, out):
            fixed = []
            for i, g in enumerate(out):
                if g is None and i < len(ctx.inputs_meta):
                    shape, dtype = ctx.inputs_meta[i]
                    g = torch.zeros(shape, dtype=dtype)
                fixed.append(g)
            return tuple(fixed)
        return buggy_function(spec, forward_values, backward_values, result=zeros)


class CustomIncomingGradReplaced(Mutant):
    id = "custom-incoming-grad-ones"
    area = "custom Function"
    description = "a custom backward receives ones instead of the incoming gradient"
    killers = (CUSTOM,)

    def custom_function(self, spec, forward_values, backward_values):
        return buggy_function(spec, forward_values, backward_values,
                              grads=lambda gs: tuple(None if g is None else torch.ones_like(g)
                                                     for g in gs))


class CustomNeedsInputGradWrong(Mutant):
    id = "custom-needs-input-grad"
    area = "custom Function"
    description = ("ctx.needs_input_grad says whether an input has a grad_fn (False for "
                   "leaves that require grad)")
    killers = (CUSTOM,)

    def custom_function(self, spec, forward_values, backward_values):
        return buggy_function(spec, forward_values, backward_values,
                              needs=lambda inputs: tuple(x.grad_fn is not None for x in inputs))


class CustomMaterializeIgnored(Mutant):
    id = "custom-materialize-ignored"
    area = "custom Function"
    description = "set_materialize_grads(False) is ignored: unused outputs' grads are zeros"
    killers = (CUSTOM,)

    def custom_function(self, spec, forward_values, backward_values):
        return buggy_function(spec, forward_values, backward_values, materialize=False)
