"""Every op of the vocabulary, one property each: forward values and gradients of random
programs that use it at least once (with broadcasting, weights and reuse around it)."""
import pytest
from hypothesis import given

from gradspec import backend as current
from gradspec.vocabulary import ALL_OPS, PIECEWISE_CONSTANT

from .conformance import Config, conforms, programs_for

OPS = sorted(ALL_OPS - set(PIECEWISE_CONSTANT))


@pytest.mark.parametrize("op", OPS)
def test_op(op):
    if op not in current.candidate().ops:
        pytest.skip(f"{current.candidate().name} does not implement op {op!r}")
    cfg = Config(focus_op=op, max_steps=4)

    @given(program=programs_for(cfg))
    def check_op(program):
        conforms(program)
    check_op()
