"""Non-scalar roots with gradient weights (`y.backward(gradient=w)` computes the vjp w·J),
and several roots in one backward call."""
import pytest
from hypothesis import given

from .conformance import Config, conforms, programs_for

WEIGHTS = Config(weights=1.0, max_steps=6)
MULTI = Config(weights=0.8, multi_root=0.8, max_steps=6)


@pytest.mark.needs("nonscalar_backward")
@given(program=programs_for(WEIGHTS))
def test_nonscalar_backward_with_weights(program):
    conforms(program)


@pytest.mark.needs("multi_root")
@given(program=programs_for(MULTI))
def test_several_roots_in_one_backward(program):
    conforms(program)
