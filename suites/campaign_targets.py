"""The op vocabulary as fuzz targets for the campaign (`python -m harness.campaign`).

suites/test_ops.py's `test_op` builds its Hypothesis test inside the test function (one per
op, at call time), which HypoFuzz cannot collect. Here the same property, with the same
program strategy (`Config(focus_op=op, max_steps=4)`), is one module-level Hypothesis test
parametrized by op. pytest does not collect this file unless it is named, and CI never does.
"""
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import backend as current
from .conformance import Config, conforms, programs_for
from .test_ops import OPS

_STRATEGIES = {}
ROUNDS_ENV = "GRADSPEC_CAMPAIGN_ROUNDS"  # set by a campaign's plain-Hypothesis rounds
# In a round, the ~100 op targets together get the programs of OPS_AS_TESTS suite tests:
# an op's rare bug is an edge value of one op, a suite's a structure, and at a round's
# even share a test the ops would take three programs in four.
OPS_AS_TESTS = 12


def _round_share(test):
    if not os.environ.get(ROUNDS_ENV):
        return test
    share = settings.default.max_examples * OPS_AS_TESTS // max(len(OPS), 1)
    return settings(max_examples=max(share, 1))(test)


def _cases():
    try:
        candidate = current.candidate()
    except KeyError:  # imported outside pytest
        candidate = None
    return [pytest.param(op, marks=pytest.mark.skip(
        reason=f"{candidate.name} does not implement op {op!r}"))
        if candidate is not None and op not in candidate.ops else op for op in OPS]


@pytest.mark.parametrize("op", _cases())
@_round_share
@given(data=st.data())
def test_op(op, data):
    if op not in _STRATEGIES:
        _STRATEGIES[op] = programs_for(Config(focus_op=op, max_steps=4))
    conforms(data.draw(_STRATEGIES[op], label="program"))
