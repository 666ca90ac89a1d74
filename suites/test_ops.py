"""Every op of the vocabulary, one property each: forward values and gradients of random
programs that use it at least once (with broadcasting, weights and reuse around it). Ops with
several outputs are here too (suites/test_multi_output.py mixes them into richer programs)."""
import pytest
from hypothesis import given

from harness import backend as current
from gradspec.vocabulary import ALL_OPS, MULTI_OUTPUT, PIECEWISE_CONSTANT

from .conformance import Config, conforms, programs_for

OPS = sorted(ALL_OPS - set(PIECEWISE_CONSTANT)) + list(MULTI_OUTPUT)


@pytest.mark.parametrize("op", OPS)
def test_op(op):
    if op not in current.candidate().ops:
        pytest.skip(f"{current.candidate().name} does not implement op {op!r}")
    if op in MULTI_OUTPUT and "multi_output" not in current.candidate().capabilities:
        pytest.skip(f"{current.candidate().name} lacks capability 'multi_output'")
    cfg = Config(focus_op=op, max_steps=4)

    @given(program=programs_for(cfg))
    def check_op(program):
        conforms(program)
    check_op()
