"""Tensor hooks (leaves and non-leaves; several per tensor, in order; replacing the gradient)
and module full backward hooks (grad_input w.r.t. the module's inputs, grad_output)."""
import pytest
from hypothesis import given

from .conformance import Config, conforms, programs_for

TENSOR_HOOKS = Config(tensor_hooks=0.5, retain_grad=0.2, max_steps=6, max_actions=2,
                      retain_graph=0.5)
MODULE_HOOKS = Config(layers=0.6, module_hooks=0.8, tensor_hooks=0.1, max_steps=6)


@pytest.mark.needs("tensor_hooks")
@given(program=programs_for(TENSOR_HOOKS))
def test_tensor_hooks(program):
    conforms(program)


@pytest.mark.needs("module_hooks", "layers")
@given(program=programs_for(MODULE_HOOKS))
def test_module_full_backward_hooks(program):
    conforms(program)
