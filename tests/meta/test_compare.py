"""The comparison is the contract: what counts as agreeing with the reference, and what not."""
import numpy as np
import pytest

from gradspec import program as P
from gradspec.compare import TOLERANCES, close, compare
from gradspec.trace import ActionResult, HookCall, Trace

PROGRAM = P.Program(
    dtype="float64", leaves=(P.Leaf("a", (2,), (0.5, -1.25)),),
    steps=(P.Op("t1", "mul", ("a", "a")),
           P.Op("t2", "sum", ("t1",), (("dim", 0), ("keepdim", False)))),
    plan=(P.Backward(("t2",), (None,), retain_graph=True), P.Backward(("t2",), (None,))))

A = np.array([0.5, -1.25])


def trace(backend="reference", grads=(2 * A, 4 * A), errors=(None, None), hooks=((), ()),
          returned=(None, None), forward_error=None, t1=A * A):
    t = Trace(backend=backend, forward_error=forward_error)
    if forward_error:
        return t
    t.forward = {"a": A, "t1": t1, "t2": np.array(np.sum(A * A))}
    t.requires_grad = {"a": True, "t1": True, "t2": True}
    for i in range(2):
        t.actions.append(ActionResult(index=i, error=errors[i], grads={"a": grads[i]},
                                      hooks=list(hooks[i]), returned=returned[i]))
    return t


def mismatches(actual, program=PROGRAM, expected=None):
    return compare(program, expected or trace(), actual)


def test_identical_traces_agree():
    assert mismatches(trace("candidate")) == []


def test_none_and_zeros_are_different_answers():
    found = mismatches(trace(grads=(2 * A, None)))
    assert len(found) == 1 and "None" in found[0].detail
    assert (found[0].kind, found[0].name, found[0].action) == ("grad", "a", 1)
    found = compare(PROGRAM, trace(grads=(2 * A, None)), trace(grads=(2 * A, np.zeros(2))))
    assert len(found) == 1 and "None and zeros" in found[0].detail
    assert compare(PROGRAM, trace(grads=(None, None)), trace(grads=(None, None))) == []


def test_an_error_of_another_kind_is_a_failure():
    expected = trace(errors=(None, "graph_freed"))
    found = compare(PROGRAM, expected, trace(errors=(None, "grad_shape_mismatch")))
    assert [m.kind for m in found] == ["error"]
    assert found[0].expected == "graph_freed" and found[0].actual == "grad_shape_mismatch"
    assert [m.kind for m in compare(PROGRAM, expected, trace())] == ["error"]  # no error
    assert [m.kind for m in compare(PROGRAM, trace(), expected)] == ["error"]  # extra error
    assert compare(PROGRAM, expected, trace(errors=(None, "graph_freed"))) == []


def test_an_error_in_the_forward_steps_must_match_too():
    found = compare(PROGRAM, trace(forward_error="hook_on_no_grad"), trace())
    assert [m.kind for m in found] == ["error"]
    found = compare(PROGRAM, trace(forward_error="hook_on_no_grad"),
                    trace(forward_error="custom_grad_count"))
    assert [m.kind for m in found] == ["error"]
    assert compare(PROGRAM, trace(forward_error="hook_on_no_grad"),
                   trace(forward_error="hook_on_no_grad")) == []


@pytest.mark.parametrize("rel", [1e-4, -1e-4])
def test_float32_is_looser_than_float64(rel):
    expected = np.array([0.75, -1.5, 2.25])
    off = expected * (1 + rel)
    assert not close(off, expected, "float64")[0]
    assert close(off, expected, "float32")[0]
    # and through compare(): the program's dtype picks the tolerance
    grads = (2 * A, 4 * A)
    off_trace = trace(grads=(grads[0] * (1 + rel), grads[1]))
    assert len(mismatches(off_trace)) == 1
    program32 = P.Program(dtype="float32", leaves=PROGRAM.leaves, steps=PROGRAM.steps,
                          plan=PROGRAM.plan)
    assert mismatches(off_trace, program=program32) == []


def test_float32_still_catches_a_wrong_derivative():
    expected = np.array([0.75, -1.5, 2.25])
    assert not close(expected * 1.01, expected, "float32")[0]
    assert not close(-expected, expected, "float32")[0]


def test_float64_accepts_rounding_noise():
    expected = np.array([0.1 + 0.2, 1e3, -7.0])
    assert close(expected + np.array([1e-15, 1e-12, 5e-15]), expected, "float64")[0]


def test_tolerances_are_ordered():
    assert TOLERANCES["float32"][0] > TOLERANCES["float64"][0]
    assert TOLERANCES["float32"][1] > TOLERANCES["float64"][1]


def test_a_shape_mismatch_is_a_failure():
    ok, detail = close(np.ones((2, 1)), np.ones(2), "float32")
    assert not ok and "shape" in detail
    assert not close(np.ones(()), np.ones((1,)), "float64")[0]
    found = mismatches(trace(grads=(2 * A, (4 * A)[None, :])))
    assert len(found) == 1 and "shape" in found[0].detail
    found = mismatches(trace(t1=(A * A).reshape(2, 1)))
    assert [(m.kind, m.name) for m in found] == [("forward", "t1")]


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_non_finite_values_must_match():
    e = np.array([1.0, np.inf, np.nan])
    assert close(e.copy(), e, "float64")[0]
    assert not close(np.array([1.0, 2.0, np.nan]), e, "float64")[0]
    assert not close(np.array([1.0, np.inf, 3.0]), e, "float64")[0]


def test_hook_calls_must_match_in_count_and_values():
    call = HookCall("t1", "tensor", (np.array([1.0, 1.0]),))
    expected = trace(hooks=((call,), ()))
    assert compare(PROGRAM, expected, trace(hooks=((call,), ()))) == []
    found = compare(PROGRAM, expected, trace())
    assert [m.kind for m in found] == ["hook"] and "call count" in found[0].detail
    other = HookCall("t1", "tensor", (np.array([1.0, 2.0]),))
    assert [m.kind for m in compare(PROGRAM, expected, trace(hooks=((other,), ())))] == ["hook"]
    none = HookCall("t1", "tensor", (None,))
    assert [m.kind for m in compare(PROGRAM, expected, trace(hooks=((none,), ())))] == ["hook"]


def test_returned_gradients_must_match():
    expected = trace(returned=((2 * A,), None))
    assert compare(PROGRAM, expected, trace(returned=((2 * A,), None))) == []
    for wrong in [(None,), (2 * A, 2 * A), (3 * A,), ()]:
        found = compare(PROGRAM, expected, trace(returned=(wrong, None)))
        assert [m.kind for m in found] == ["returned"], wrong


def test_a_mismatch_prints_expected_and_actual():
    text = str(mismatches(trace(grads=(2 * A, 5 * A)))[0])
    assert "plan[1]" in text and "a.grad" in text
    assert "expected (reference)" in text and "actual   (candidate)" in text


# ----- after an error: what is (and is not) still compared --------------------------------
PLAN4 = P.Program(
    dtype="float64", leaves=PROGRAM.leaves, steps=PROGRAM.steps,
    plan=(P.Backward(("t2",), (None,)), P.Backward(("t2",), (None,)), P.ZeroGrad(),
          P.Backward(("t2",), (None,))))


def trace4(errors, grads):
    t = trace()
    t.actions = [ActionResult(index=i, error=e, grads={"a": g})
                 for i, (e, g) in enumerate(zip(errors, grads))]
    return t


def test_state_left_by_a_backward_that_failed_midway_is_not_compared():
    """After both engines raised graph_freed (which nodes ran before it is engine-specific),
    `.grad` is unspecified until zero_grad(set_to_none=True) resets it."""
    errors = (None, "graph_freed", None, None)
    expected = trace4(errors, (2 * A, 2 * A, None, 2 * A))
    assert compare(PLAN4, expected, trace4(errors, (2 * A, 3 * A, None, 2 * A))) == []
    found = compare(PLAN4, expected, trace4(errors, (2 * A, 3 * A, 3 * A, 2 * A)))
    assert [(m.kind, m.action) for m in found] == [("grad", 2)]  # zero_grad must reset it
    found = compare(PLAN4, expected, trace4(errors, (2 * A, 3 * A, None, 5 * A)))
    assert [(m.kind, m.action) for m in found] == [("grad", 3)]
    # an error only one engine raised is always a failure
    found = compare(PLAN4, expected, trace4((None,) * 4, (2 * A, 3 * A, None, 2 * A)))
    assert [(m.kind, m.action) for m in found][0] == ("error", 1)


def test_state_after_an_error_raised_before_any_node_ran_is_compared():
    errors = (None, "grad_shape_mismatch", None, None)
    expected = trace4(errors, (2 * A, 2 * A, None, 2 * A))
    found = compare(PLAN4, expected, trace4(errors, (2 * A, 3 * A, None, 2 * A)))
    assert [(m.kind, m.action) for m in found] == [("grad", 1)]
