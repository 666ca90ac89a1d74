"""Grad modes: `no_grad`, `enable_grad` inside it, `set_grad_enabled(False/True)` and
`inference_mode`, nested in any order; the error when a recorded op saves an inference
tensor; `requires_grad_()` switching a leaf on or off (a leaf switched off keeps its `.grad`
even through ops recorded before); `detach()` sharing its source's memory."""
import pytest
from hypothesis import given

from .conformance import Config, conforms, programs_for

MODES = Config(grad_modes=0.5, no_grad=0.1, requires_grad_=0.15, detach=0.15,
               forward_errors=0.8, max_steps=7, max_actions=2, retain_graph=0.5, weights=0.5)


@pytest.mark.needs("grad_modes")
@given(program=programs_for(MODES))
def test_grad_modes(program):
    conforms(program)
