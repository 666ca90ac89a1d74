"""A functional engine with a recorded forward (`Adapter.record`, gradspec/adapter.py): TensorFlow
answers a whole plan of Grad actions from one tape. Each test fails if the interpreter went
back to a vjp per action: a second gradient of a tape that is not persistent raises, a
gradient w.r.t. an intermediate value is asked of the recording, allow_unused gives None and
materialize_grads zeros. JAX and HIPS autograd (no `record`) keep their vjp per action."""
import numpy as np
import pytest

from gradspec.adapter import Adapter, UnsupportedProgram, check_adapter
from gradspec.reference_adapter import ReferenceAdapter
from gradspec.interpreter import run
from gradspec.program import Backward, Grad, Leaf, Op, Program
from strategies import Config, programs
from strategies.config import capability_config


def _tf():
    pytest.importorskip("tensorflow")
    from adapters.tensorflow_adapter import TensorFlowAdapter
    return TensorFlowAdapter()


def _program(plan, steps=None):
    return Program(dtype="float64",
                   leaves=(Leaf("a", (2,), (0.5, -0.75)), Leaf("b", (), (2.0,))),
                   steps=steps or (Op("t1", "mul", ("a", "a")),
                                   Op("t2", "sum", ("t1",), (("dim", (0,)), ("keepdim", False)))),
                   plan=plan)


def _errors(trace):
    return [a.error for a in trace.actions]


def test_a_tape_that_is_not_persistent_answers_once():
    """No retain_graph: the second grad() raises graph_freed on TF (torch, whose second call
    here needs no freed tensor, runs: the stated deviation tensorflow-tape-answers-once)."""
    program = _program((Grad(("t2",), ("t1",), (None,)), Grad(("t2",), ("t1",), (None,))))
    assert _errors(run(program, ReferenceAdapter())) == [None, None]
    trace = run(program, _tf(), strict=False)
    assert _errors(trace) == [None, "graph_freed"]
    assert "non-persistent GradientTape" in trace.actions[1].message


def test_retain_graph_makes_the_tape_persistent():
    program = _program((Grad(("t2",), ("a",), (None,), True), Grad(("t2",), ("a",), (None,))))
    expected, actual = run(program, ReferenceAdapter()), run(program, _tf(), strict=False)
    assert _errors(actual) == [None, None]
    for e, a in zip(expected.actions, actual.actions):
        np.testing.assert_allclose(a.returned[0], e.returned[0])
        np.testing.assert_allclose(a.returned[0], [1.0, -1.5])


def test_grad_wrt_an_intermediate_value_matches_the_reference():
    program = _program((Grad(("t2",), ("t1", "a"), (None,)),))
    expected, actual = run(program, ReferenceAdapter()), run(program, _tf(), strict=False)
    assert actual.actions[0].error is None
    for e, a in zip(expected.actions[0].returned, actual.actions[0].returned):
        np.testing.assert_allclose(a, e)
    np.testing.assert_allclose(actual.actions[0].returned[0], [1.0, 1.0])


@pytest.mark.parametrize("materialize", [False, True])
def test_allow_unused_gives_none_and_materialize_grads_zeros(materialize):
    program = _program((Grad(("t2",), ("a", "b"), (None,), allow_unused=True,
                             materialize_grads=materialize),))
    expected, actual = run(program, ReferenceAdapter()), run(program, _tf(), strict=False)
    unused_e, unused_a = expected.actions[0].returned[1], actual.actions[0].returned[1]
    if materialize:
        assert unused_a is not None and unused_a == unused_e == 0.0
    else:
        assert unused_a is None and unused_e is None


def test_the_plan_is_asked_of_the_recording_not_a_vjp():
    tf_adapter = _tf()

    class NoVjp(type(tf_adapter)):
        def vjp(self, f, primals, cotangents):
            raise AssertionError("a Grad action reached vjp: the recording was not used")
    program = _program((Grad(("t2",), ("a",), (None,), True), Grad(("t2",), ("t1",), (None,))))
    assert _errors(run(program, NoVjp(), strict=False)) == [None, None]


class _Functional(Adapter):
    """A functional adapter without `record` (as JAX and HIPS autograd): a vjp per action."""
    name = "functional-test"
    capabilities = frozenset({"float64", "functional_grad"})
    ops = frozenset({"mul"})


def test_a_backward_is_a_functional_plans_only_action():
    program = _program((Backward(("t2",), (None,)), Grad(("t2",), ("a",), (None,))))
    with pytest.raises(UnsupportedProgram, match="only action"):
        run(program, _tf(), strict=False)


def test_retain_graph_or_nonleaf_grads_need_record_on_a_functional_engine():
    class Vjp(_Functional):
        def tensor(self, values, dtype, requires_grad):
            return values
        to_numpy = op = vjp = tensor
    check_adapter(Vjp())
    for cap in ("retain_graph", "grad_wrt_nonleaf"):
        declares = type("Declares", (Vjp,), {"capabilities": Vjp.capabilities | {cap}})
        with pytest.raises(TypeError, match="record"):
            check_adapter(declares())


def test_config_gives_several_grad_actions_only_with_a_recording():
    asked = Config(functional_grad=0.9, max_actions=3, retain_graph=0.5)
    assert capability_config(asked, _Functional()).max_actions == 1
    assert capability_config(asked, _tf()).max_actions == 3
    assert capability_config(Config(max_actions=3, retain_graph=0.5), _tf()).max_actions == 3


def test_drawn_plans_of_several_actions_are_grads():
    from hypothesis import given, settings
    adapter = _tf()
    seen = []

    @settings(max_examples=40, database=None, deadline=None)
    @given(programs(Config(functional_grad=0.9, max_actions=3, retain_graph=0.5,
                           max_steps=4), adapter))
    def check(program):
        if len(program.plan) > 1:
            seen.append(program)
            assert all(isinstance(a, Grad) for a in program.plan), program
    check()
    assert seen, "no plan of several actions was drawn for TensorFlow"


def test_grad_wrt_an_intermediate_beside_a_gradient_as_value_is_not_expressed():
    """A GradStep is a vjp rebuilding the steps from the leaves, off the recording: grad()
    w.r.t. a recorded intermediate would miss the path through that gradient (a false
    difference), so such a program is one the engine cannot express."""
    from gradspec.program import GradStep
    steps = (Op("t1", "exp", ("a",)), GradStep(("g2",), ("t1",), ("a",), ((1.0, 1.0),)),
             Op("t3", "mul", ("g2", "t1")),
             Op("t4", "sum", ("t3",), (("dim", (0,)), ("keepdim", False))))
    with pytest.raises(UnsupportedProgram, match="gradient used as a value"):
        run(_program((Grad(("t4",), ("t1",), (None,)),), steps), _tf(), strict=False)
