"""`autograd.grad(outputs, inputs, grad_outputs)`: returns the vjp without touching `.grad`;
allow_unused gives None for an unused input (an error without it)."""
import pytest
from hypothesis import given

from .conformance import Config, conforms, programs_for

FUNCTIONAL = Config(functional_grad=0.9, max_actions=2, retain_graph=0.5, max_steps=6,
                    retain_grad=0.2)


@pytest.mark.needs("functional_grad")
@given(program=programs_for(FUNCTIONAL))
def test_functional_grad(program):
    conforms(program)
