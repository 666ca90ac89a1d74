"""Custom autograd Functions given as data: non-differentiable forwards (sign, round),
straight-through and scaled backwards, None returns, needs_input_grad, saved tensors,
several outputs, mark_non_differentiable and set_materialize_grads(False)."""
import pytest
from hypothesis import given

from .conformance import Config, conforms, programs_for

FUNCTIONS = Config(functions=0.6, max_steps=6, max_actions=2, retain_graph=0.3)


@pytest.mark.needs("custom_function")
@given(program=programs_for(FUNCTIONS))
def test_custom_functions(program):
    conforms(program)
