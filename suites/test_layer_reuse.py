"""Layers applied several times (weight sharing) and to their own output (recurrence):
gradients from every application add up in the parameters' `.grad`."""
import pytest
from hypothesis import given

from .conformance import Config, conforms, programs_for

REUSE = Config(layers=0.7, max_steps=7, min_steps=2)


@pytest.mark.needs("layers")
@given(program=programs_for(REUSE))
def test_layer_reuse_and_recurrence(program):
    conforms(program)
