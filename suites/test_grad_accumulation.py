"""`.grad` accumulates across backward calls until zeroed; zero_grad sets None (default) or
zeros an existing grad (set_to_none=False); a leaf that got no gradient keeps None."""
import pytest
from hypothesis import given

from .conformance import Config, conforms, programs_for

ACCUMULATE = Config(max_actions=4, retain_graph=1.0, zero_grad=0.4, max_steps=5, layers=0.2)


@pytest.mark.needs("stateful_grad", "zero_grad", "retain_graph")
@given(program=programs_for(ACCUMULATE))
def test_accumulation_and_zero_grad(program):
    conforms(program)
