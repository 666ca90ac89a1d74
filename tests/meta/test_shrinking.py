"""Shrinking stays good while generation gets cheap: a known bug, caught by its suite, shrinks to
a program a person reads at a glance (one or two ops, tiny leaves, the simple seed-0 values),
through the fast choices the builder uses and through the public strategies alike.

The bugs are tests/mutants/zoo/broken.py's (the reference with one bug each: fast, NumPy
only), run by the suites' own Hypothesis tests as tests/meta/test_broken_adapters.py runs them.
"""
import numpy as np
import pytest

from gradspec import program as P
from harness.check import ConformanceFailure
from strategies import choices
from strategies.values import expand
from tests.meta.test_broken_adapters import installed, run_suite_test
from tests.mutants.zoo import OP, WEIGHTS, broken

# Every magnitude seed 0 expands to (values.py), at the scales the builder uses.
SIMPLE = {abs(v) for scale in (1.0, 0.5) for v in expand(0, (5,), scale=scale)}


def _ops(program):
    return [s for s in program.steps if isinstance(s, (P.Op, P.Call, P.CallFunction))]


def _shrunk(bug, suite):
    with installed(bug()) as checked:
        with pytest.raises(ConformanceFailure):
            run_suite_test(suite)
    failed = [program for program, bad in checked if bad]
    assert failed, "the failure did not come from the conformance check"
    return failed[-1]  # Hypothesis replays the minimal example last


@pytest.fixture(params=["fast", "public", "swarm"])
def choice_path(request, monkeypatch):
    """The builder's choices straight from the test case, or through public strategies, or
    under swarm testing (strategies/search.py: its settings shrink to the suite's config)."""
    if request.param == "public":
        import strategies.builder
        monkeypatch.setattr(strategies.builder, "choices", choices.public_choices)
    if request.param == "swarm":
        from harness import backend
        before = backend.search()
        backend.set_search(("swarm",))
        request.addfinalizer(lambda: backend.set_search(before))
    return request.param


def test_a_wrong_derivative_shrinks_to_one_op_on_a_simple_scalar(choice_path):
    program = _shrunk(broken.WrongSinVjp, OP("sin"))
    assert [s.op for s in _ops(program)] == ["sin"], program
    assert program.dtype == "float64" and len(program.plan) == 1, program
    (leaf,) = program.leaves
    assert leaf.shape == () and abs(leaf.values[0]) in SIMPLE, program


def test_ignored_gradient_weights_shrink_to_one_op_and_a_small_weight(choice_path):
    program = _shrunk(broken.IgnoresGradientWeights, WEIGHTS)
    assert len(_ops(program)) == 1 and len(program.plan) == 1, program
    assert sum(len(leaf.values) for leaf in program.leaves) <= 4, program
    for leaf in program.leaves:
        assert {abs(v) for v in leaf.values} <= SIMPLE, program
    (weight,) = program.plan[0].weights
    assert weight is not None and np.size(weight) <= 2, program
