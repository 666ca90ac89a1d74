"""Ops with several outputs: `max`/`min` along a dim and `sort`/`topk` (values and int64
indices), `split`, `chunk`, `unbind` (the pieces). The gradient flows only through the outputs
a loss used, the others send zeros back; indices never require grad."""
import pytest
from hypothesis import given

from harness import backend as current
from gradspec.vocabulary import MULTI_OUTPUT

from .conformance import Config, conforms, programs_for


@pytest.mark.needs("multi_output")
@pytest.mark.parametrize("op", MULTI_OUTPUT)
def test_multi_output_op(op):
    if op not in current.candidate().ops:
        pytest.skip(f"{current.candidate().name} does not implement op {op!r}")
    cfg = Config(focus_op=op, multi_output=0.2, multi_ops=frozenset({op}), max_steps=5,
                 retain_grad=0.15, tensor_hooks=0.1, max_actions=2, retain_graph=0.5)

    @given(program=programs_for(cfg))
    def check_op(program):
        conforms(program)
    check_op()
