"""`detach()` cuts the graph, `no_grad()` stops recording, `retain_grad()` keeps a non-leaf's
gradient (which is None otherwise); `requires_grad` propagates as torch says. An engine with
some of the three is tested on those (the strategies draw only what it declares)."""
import pytest
from hypothesis import given

from .conformance import Config, conforms, programs_for

CONTROL = Config(detach=0.25, no_grad=0.2, retain_grad=0.3, max_steps=7, max_actions=2,
                 retain_graph=0.5)


@pytest.mark.needs_any("detach", "no_grad", "retain_grad")
@given(program=programs_for(CONTROL))
def test_detach_no_grad_retain_grad(program):
    conforms(program)
