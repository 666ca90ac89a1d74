"""The functional API in full: `autograd.grad` with `allow_unused` (None for an unused input,
the error without it) and `materialize_grads=True` (zeros instead), several outputs with
their own `grad_outputs`; a batch of gradient weights at once (`is_grads_batched=True`,
torch.func.vmap of the vjp: per-sample gradients), which must equal the loop of one vjp a
row; and `torch.autograd.functional`'s `vjp`, `jacobian` and `hessian` of the program as a
function of some of its leaves."""
import pytest
from hypothesis import given

from .conformance import Config, conforms, programs_for

GRAD = Config(functional_grad=0.9, materialize_grads=0.5, multi_root=0.5, max_steps=6,
              max_actions=2, retain_graph=0.5)
BATCHED = Config(functional_grad=0.9, batched_grad=0.8, materialize_grads=0.3, multi_root=0.4,
                 max_steps=6, max_actions=2, retain_graph=0.5)
FUNCTIONS_OF_LEAVES = Config(functional_api=0.8, max_steps=5, max_actions=2, retain_graph=0.5)


@pytest.mark.needs("functional_grad", "materialize_unused_grads")
@given(program=programs_for(GRAD))
def test_grad_unused_materialized_and_several_outputs(program):
    conforms(program)


@pytest.mark.needs("functional_grad", "batched_grad")
@given(program=programs_for(BATCHED))
def test_grad_over_a_batch_of_weights(program):
    conforms(program)


@pytest.mark.needs("functional_api")
@given(program=programs_for(FUNCTIONS_OF_LEAVES))
def test_vjp_jacobian_hessian(program):
    conforms(program)
