"""Higher-order gradients: `autograd.grad(..., create_graph=True)` whose gradients are values
later steps use (a grad of a grad, a Hessian-vector product, a gradient penalty added to the
loss), and `backward(create_graph=True)`, after which `.grad` itself requires grad and a
backward through it accumulates the second-order term into `.grad`."""
import pytest
from hypothesis import given

from .conformance import Config, conforms, programs_for

GRAD_OF_GRAD = Config(higher_order=0.35, max_steps=7, weights=0.5)
THROUGH_GRAD = Config(create_graph=1.0, max_actions=2, max_steps=6, weights=0.5)


@pytest.mark.needs("create_graph")
@given(program=programs_for(GRAD_OF_GRAD))
def test_gradients_as_values(program):
    conforms(program)


@pytest.mark.needs("backward_create_graph", "stateful_grad")
@given(program=programs_for(THROUGH_GRAD))
def test_backward_create_graph_and_through_grad(program):
    conforms(program)
