"""Rounding slack (gradspec/tolerance.py, reference/rounding.py): a value that is the small
remainder of large cancelling terms may differ by the terms' rounding, and nothing more."""
import numpy as np
import pytest

from gradspec.reference_adapter import ReferenceAdapter
from gradspec import program as P
from harness.check import judge
from gradspec.compare import compare
from gradspec.interpreter import run
from gradspec.tolerance import rounding_slack
from reference import rounding

from tests.mutants.zoo import broken


def _cancelling(a, dtype="float32"):
    """d/da of d/da (a/a) * b: exactly 0, computed from terms of size ~1/a^3 (issue 17, 3)."""
    return P.Program(dtype=dtype, leaves=(P.Leaf("a", (), (a,)), P.Leaf("b", (), (0.5,))),
                     steps=(P.Op("t1", "div", ("a", "a")),
                            P.GradStep(("g3",), ("t1",), ("a",), (None,)),
                            P.Op("t4", "mul", ("g3", "b")),
                            P.GradStep(("g6",), ("t4",), ("a",), (None,))),
                     plan=(P.Backward(("g6",), (None,)),))


def test_noise_is_reproducible_and_bounded():
    x = np.array([1.0, -3.0, 0.0, 1e6])
    with rounding.noise(2.0 ** -24, seed=1):
        a = rounding.perturb(x)
    with rounding.noise(2.0 ** -24, seed=1):
        b = rounding.perturb(x)
    assert np.array_equal(a, b) and not np.array_equal(a, x)
    assert np.all(np.abs(a - x) <= 2.0 ** -24 * np.abs(x))
    assert not rounding.active()  # switched off again on leaving


def test_a_reduction_is_perturbed_relative_to_its_terms():
    from reference import ops as O
    from reference.tensor import Tensor
    x = Tensor(np.array([1e8, -1e8, 1.0]))
    exact = O.sum(x).data
    with rounding.noise(2.0 ** -24, seed=0):
        noisy = O.sum(x).data
    assert exact == 1.0 and abs(noisy - exact) > 1.0  # 2e8 * 2^-24 ~ 12, not 2^-24 of 1


def _torch_rounding_within_slack(program):
    """torch's float32 result is outside the fixed tolerance, and within the rounding slack
    `judge` allows; the reference's trace."""
    pytest.importorskip("torch")
    from adapters.torch_adapter import TorchAdapter
    expected, actual = run(program, ReferenceAdapter()), run(program, TorchAdapter(), strict=False)
    assert compare(program, expected, actual), "torch's float32 rounding was meant to show"
    assert judge(program, TorchAdapter(), ReferenceAdapter()).mismatches == []
    return expected


def test_slack_covers_cancellation_in_float32():
    _torch_rounding_within_slack(_cancelling(0.011))


def test_slack_is_zero_where_nothing_cancels():
    program = _cancelling(0.5, "float64")
    expected = run(program, ReferenceAdapter())
    slack = rounding_slack(program, ReferenceAdapter(), expected)
    assert slack and all(float(np.max(s)) < 1e-12 for s in slack.values())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_slack_does_not_hide_a_wrong_derivative(dtype):
    program = P.Program(dtype=dtype, leaves=(P.Leaf("x", (3,), (0.5, -1.25, 2.0)),), steps=(
        P.Op("t1", "sin", ("x",)), P.Op("t2", "mul", ("t1", "t1")),
        P.Op("loss", "sum", ("t2",), (("dim", (0,)), ("keepdim", False)))),
        plan=(P.Backward(("loss",), (None,)),))
    assert judge(program, broken.WrongSinVjp(), ReferenceAdapter()).mismatches


def _prod_third_derivative(x1, dtype="float32"):
    """prod over a dim of size 1 (the identity), differentiated four times: exactly zero, but
    torch's prod backward divides (result / x), whose higher derivatives cancel terms of 1/x^k
    (found by swarm exploration of test_gradients_as_values)."""
    w = (-1.0, 1.25)
    return P.Program(dtype=dtype, leaves=(P.Leaf("a", (1, 2), (-1.27, x1)),), steps=(
        P.Op("t1", "prod", ("a",), (("dim", 0), ("keepdim", False))),
        P.GradStep(("g3",), ("t1",), ("a",), (w,)),
        P.GradStep(("g4",), ("g3",), ("a",), ((w,),)),
        P.GradStep(("g6",), ("g4",), ("a",), ((w,),)),
        P.Op("loss7", "sum", ("g6",), (("dim", (0, 1)), ("keepdim", False)))),
        plan=(P.Backward(("loss7",), (None,)),))


def test_slack_covers_an_engine_dividing_in_prods_backward():
    expected = _torch_rounding_within_slack(_prod_third_derivative(0.11))
    # the exact run keeps the product of the others: nothing cancels, zero stays zero
    assert not np.any(expected.actions[0].grads["a"])


def test_slack_covers_an_engine_dividing_in_cumprods_backward():
    """cumprod's backward in torch is a reversed cumsum of g * result, over x: its second
    derivative cancels in float32 (found by swarm exploration of test_gradients_as_values)."""
    w = (((-1.0, 1.25), (-1.5, 0.5)), ((-0.75, 1.0), (-1.25, 1.5)))
    program = P.Program(dtype="float32", leaves=(
        P.Leaf("a", (2, 2, 2), (0.49, -0.28, 1.05, -0.67, -1.49, -1.38, -1.95, -0.16)),
        P.Leaf("b", (2, 2, 2), (-1.25, 1.5, -0.5, 0.75, -1.0, 1.25, -1.5, 0.5),
               requires_grad=False)), steps=(
        P.Op("t1", "leaky_relu", ("a",), (("negative_slope", 0.01),)),
        P.Op("t2", "cumprod", ("t1",), (("dim", 0),)),
        P.GradStep(("g3",), ("t2",), ("t1",), (w,)),
        P.Op("t4", "mul", ("g3", "b")),
        P.Op("t5", "sum", ("t4",), (("dim", (0, 1, 2)), ("keepdim", False))),
        P.GradStep(("g6",), ("t5",), ("t1",), (None,)),
        P.Op("loss7", "sum", ("g6",), (("dim", (0, 1, 2)), ("keepdim", False)))),
        plan=(P.Backward(("loss7",), (None,)),))
    _torch_rounding_within_slack(program)
