"""The worked examples users publish, run through the adapter on every backend.

Each asserts the *published numbers* directly (not only agreement with the reference), so a
reader can check the suite against the answers they already know.
"""
import numpy as np
import pytest

from gradspec.program import Backward, Call, Layer, Leaf, ModuleHook, Op, Program

from .conformance import judged

W, X, LABEL = 0.9472, 10.0, 5.0
pytestmark = pytest.mark.deterministic  # a campaign's rounds skip these


def _run(program):
    """The trace the published numbers are checked on: the candidate's, which agrees with the
    reference's; or, where a stated deviation explains their difference, the reference's
    (the deviation is then that engine's answer, recorded like any suite test's)."""
    expected, actual, deviation = judged(program)
    return expected if deviation is not None else actual


def _grads(trace, action=-1):
    return trace.actions[action].grads


def test_one_weight_used_twice():
    """L = (w·(w·x) − label)²: both uses of w add up, dL/dw = 4(w²x − label)·w·x."""
    program = Program(
        dtype="float64",
        leaves=(Leaf("w", (), (W,)), Leaf("x", (), (X,), False), Leaf("label", (), (LABEL,), False)),
        steps=(Op("wx", "mul", ("w", "x")), Op("wwx", "mul", ("w", "wx")),
               Op("err", "sub", ("wwx", "label")), Op("loss", "pow", ("err",), (("exponent", 2.0),))),
        plan=(Backward(("loss",), (None,)),))
    expected = 4 * (W * W * X - LABEL) * W * X
    np.testing.assert_allclose(_grads(_run(program))["w"], expected, rtol=1e-9)


@pytest.mark.needs("layers")
def test_one_linear_layer_called_twice():
    """The same Linear(1, 1, bias=False) applied twice: its weight gets both contributions."""
    lin = Layer("lin", "linear", 1, 1, False, (Leaf("lin.weight", (1, 1), (W,)),))
    program = Program(
        dtype="float64", layers=(lin,),
        leaves=(Leaf("x", (1, 1), (X,), False), Leaf("label", (1, 1), (LABEL,), False)),
        steps=(Call(("y1",), "lin", ("x",)), Call(("y2",), "lin", ("y1",)),
               Op("loss", "mse_loss", ("y2", "label"))),
        plan=(Backward(("loss",), (None,)),))
    expected = 4 * (W * W * X - LABEL) * W * X
    np.testing.assert_allclose(_grads(_run(program))["lin.weight"], [[expected]], rtol=1e-9)


def _three_a(values, weights, plan):
    a, b, c = values
    return Program(
        dtype="float64",
        leaves=(Leaf("a", np.shape(a), tuple(np.ravel(a))), Leaf("b", np.shape(b), tuple(np.ravel(b))),
                Leaf("c", np.shape(c), tuple(np.ravel(c)))),
        steps=(Op("a3", "scale", ("a",), (("c", 3.0),)),
               Op("b2", "pow", ("b",), (("exponent", 2.0),)),
               Op("b2x2", "scale", ("b2",), (("c", 2.0),)),
               Op("logc", "log", ("c",)), Op("s", "add", ("a3", "b2x2")), Op("y", "add", ("s", "logc"))),
        plan=plan)


@pytest.mark.needs("nonscalar_backward")
def test_gradient_weights_on_a_vector_output():
    """y = 3a + 2b² + log c, y.backward(gradient=[0.1, 1.0, 0.0001]) computes wᵀ·J."""
    weights = (0.1, 1.0, 0.0001)
    program = _three_a(([1.0, 2.0, 3.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]), weights,
                       (Backward(("y",), (weights,)),))
    g = _grads(_run(program))
    np.testing.assert_allclose(g["a"], [0.3, 3.0, 3e-4], rtol=1e-9)
    np.testing.assert_allclose(g["b"], [1.2, 16.0, 0.002], rtol=1e-9)
    np.testing.assert_allclose(g["c"], [1 / 60, 1 / 7, 1.25e-5], rtol=1e-9)


@pytest.mark.needs("retain_graph", "stateful_grad")
def test_two_retained_backwards_double_the_gradients():
    """Two backward calls with retain_graph=True accumulate: a.grad=6, b.grad=8, c.grad=2."""
    program = _three_a((1.0, 1.0, 1.0), None,
                       (Backward(("y",), (None,), True), Backward(("y",), (None,), True)))
    trace = _run(program)
    assert _grads(trace, 0) == {"a": 3.0, "b": 4.0, "c": 1.0}
    assert _grads(trace, 1) == {"a": 6.0, "b": 8.0, "c": 2.0}


@pytest.mark.needs("retain_graph", "error_kinds", "stateful_grad")
def test_second_backward_without_retain_graph_fails():
    """Without retain_graph the saved tensors of b² and log c are freed: the second call fails
    and leaves the gradients of the first."""
    program = _three_a((1.0, 1.0, 1.0), None, (Backward(("y",), (None,)), Backward(("y",), (None,))))
    trace = _run(program)
    assert [a.error for a in trace.actions] == [None, "graph_freed"]


@pytest.mark.needs("retain_graph", "stateful_grad")
def test_a_graph_of_additions_can_be_backwarded_twice():
    """(a + a).sum() saves no tensor, so a second backward works even without retain_graph."""
    program = Program(
        dtype="float64", leaves=(Leaf("a", (2,), (1.0, 2.0)),),
        steps=(Op("aa", "add", ("a", "a")), Op("y", "sum", ("aa",), (("dim", 0), ("keepdim", False)))),
        plan=(Backward(("y",), (None,)), Backward(("y",), (None,))))
    trace = _run(program)
    assert [a.error for a in trace.actions] == [None, None]
    np.testing.assert_allclose(_grads(trace)["a"], [4.0, 4.0])


@pytest.mark.needs("module_hooks", "layers")
@pytest.mark.parametrize("input_requires_grad", [True, False])
def test_linear_full_backward_hook_shapes(input_requires_grad):
    """register_full_backward_hook on Linear(10, 20) with an (8, 10) input: grad_input holds
    the gradient w.r.t. the input ((8, 10), or None if it needs none), grad_output (8, 20)."""
    rng = np.random.default_rng(0)
    lin = Layer("lin", "linear", 10, 20, True, (
        Leaf("lin.weight", (20, 10), tuple(np.round(rng.uniform(-0.3, 0.3, 200), 2))),
        Leaf("lin.bias", (20,), tuple(np.round(rng.uniform(-0.3, 0.3, 20), 2)))))
    program = Program(
        dtype="float64", layers=(lin,),
        leaves=(Leaf("x", (8, 10), tuple(np.round(rng.uniform(-1, 1, 80), 2)), input_requires_grad),),
        steps=(ModuleHook("lin"), Call(("y",), "lin", ("x",)),
               Op("loss", "sum", ("y",), (("dim", (0, 1)), ("keepdim", False)))),
        plan=(Backward(("loss",), (None,)),))
    (call,) = _run(program).actions[0].hooks
    grad_input, grad_output = call.values
    assert [None if g is None else g.shape for g in grad_input] == (
        [(8, 10)] if input_requires_grad else [None])
    assert [g.shape for g in grad_output] == [(8, 20)]
