"""Error behaviour: the same programs must raise the same normalized error kinds (implicit
gradient of a non-scalar, weight shape mismatch, freed graph, custom backward count/shape,
unused or non-differentiable inputs to grad()) at the same step, and nothing else."""
import pytest
from hypothesis import given

from .conformance import Config, conforms, programs_for

ERRORS = Config(errors=0.4, functions=0.3, functional_grad=0.3, max_actions=3,
                retain_graph=0.3, no_grad=0.2, detach=0.1, max_steps=5, multi_root=0.3)


@pytest.mark.needs("error_kinds")
@given(program=programs_for(ERRORS))
def test_error_behaviour(program):
    conforms(program)
