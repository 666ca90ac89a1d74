"""What the reference's piecewise activations do where they are not differentiable, and why it
is torch's convention. The strategies never draw these points (engines may legitimately
differ there); these tests pin the reference's choice so that it cannot drift unseen.

torch's kernels (aten/src/ATen/native/cpu/Activation.cpp) decide by strict comparisons with
the input: leaky_relu_backward takes the slope unless x > 0; elu_backward (elu, celu, selu)
takes the exponential branch where x <= 0; hardtanh_backward gives 0 where x <= min_val or
x >= max_val, and hardsigmoid_backward the slope 1/6 only where -3 < x < 3; softplus is linear
(value x, gradient 1) only where beta * x > threshold.
"""
import math

import numpy as np
import pytest

import reference
from reference import autograd, ops

SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def value_and_grad(op, xs, **params):
    x = reference.tensor(np.array(xs, dtype=np.float64), requires_grad=True)
    y = getattr(ops, op)(x, **params)
    (g,) = autograd.grad(y, [x], reference.tensor(np.ones(len(xs))))
    return y.data.tolist(), g.data.tolist()


@pytest.mark.parametrize("op, params, slope_at_zero", [
    ("relu", {}, 0.0),
    ("leaky_relu", {"negative_slope": 0.2}, 0.2),  # the negative side's slope
    ("elu", {"alpha": 2.0}, 2.0),  # alpha * exp(0)
    ("celu", {"alpha": 2.0}, 1.0),  # exp(0 / alpha)
    ("selu", {}, SELU_SCALE * SELU_ALPHA),
])
def test_the_kink_at_zero_takes_the_negative_side(op, params, slope_at_zero):
    values, grads = value_and_grad(op, [0.0], **params)
    assert values == [0.0] and grads == pytest.approx([slope_at_zero], rel=1e-15)


def test_hardtanh_is_flat_at_its_bounds():
    """Both bounds belong to the flat sides: gradient 0 at min_val and at max_val."""
    values, grads = value_and_grad("hardtanh", [-0.5, 0.75, 0.0], min_val=-0.5, max_val=0.75)
    assert values == [-0.5, 0.75, 0.0] and grads == [0.0, 0.0, 1.0]


def test_hardsigmoid_is_flat_at_its_kinks():
    """Both kinks belong to the flat sides: gradient 0 at -3 and at 3, 1/6 between."""
    values, grads = value_and_grad("hardsigmoid", [-3.0, 3.0, 0.5])
    assert values == [0.0, 1.0, 3.5 / 6.0] and grads == [0.0, 0.0, 1.0 / 6.0]


def test_softplus_is_linear_only_strictly_above_its_threshold():
    """beta * x == threshold is still the smooth side (value log(1 + e^20) / beta, gradient
    sigmoid(20)); above it the value is x itself and the gradient exactly 1."""
    values, grads = value_and_grad("softplus", [10.0, 10.5], beta=2.0, threshold=20.0)
    assert values[0] == pytest.approx(math.log1p(math.exp(20.0)) / 2.0, rel=1e-15)
    assert grads[0] == pytest.approx(1.0 / (1.0 + math.exp(-20.0)), rel=1e-15)
    assert values[1] == 10.5 and grads[1] == 1.0


@pytest.mark.parametrize("op, params", [("leaky_relu", {"negative_slope": 0.2}),
                                        ("hardtanh", {}), ("hardsigmoid", {}),
                                        ("elu", {})])
def test_a_gradient_through_a_mask_requires_grad_under_create_graph(op, params):
    """torch records leaky_relu_backward (and the others) with the input, so the gradient
    requires grad under create_graph=True even for a constant incoming gradient (its
    derivative with respect to the input being zero where it is piecewise linear)."""
    x = reference.tensor(np.array([-0.5, 0.25]), requires_grad=True)
    y = getattr(ops, op)(x, **params)
    (g,) = autograd.grad(y, [x], reference.tensor(np.ones(2)), create_graph=True)
    assert g.requires_grad
