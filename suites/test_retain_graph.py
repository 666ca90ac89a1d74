"""Sequences of backward calls: retain_graph=True makes the next backward accumulate; without
it the next backward fails, but only if it needs a saved tensor that was freed."""
import pytest
from hypothesis import given

from .conformance import Config, conforms, programs_for

SEQUENCES = Config(max_actions=3, retain_graph=0.8, max_steps=5)


@pytest.mark.needs("retain_graph", "stateful_grad")
@given(program=programs_for(SEQUENCES))
def test_retain_graph_sequences(program):
    conforms(program)
