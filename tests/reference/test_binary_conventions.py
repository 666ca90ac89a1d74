"""What the reference does where the binary ops' draws keep away (exact zeros, ties, lo > hi,
a zero exponent, floor_divide's missing derivative), and why each is torch's behaviour or the
calculus one. Proven by hand and by finite differences, never against torch."""
import numpy as np
import pytest

import reference
from finite_diff import check_vjp
from reference import autograd, ops
from reference.errors import AutogradError


def _t(values, requires_grad=True):
    return reference.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def _vjp(fn, inputs, w):
    return [g.data for g in autograd.grad(fn(*inputs), inputs, _t(w, False))]


# ----- cumprod at exact zeros: the classic division bug ---------------------------------------
# d/dx_i of <w, cumprod(x)> = sum over j >= i of w_j * prod_{m <= j, m != i} x_m, by hand:
# x = [2, 0, 3, 0.5], w = [1, 2, 3, 4]:
#   i=0: w0 + w1 x1 + w2 x1 x2 + w3 x1 x2 x3           = 1
#   i=1: w1 x0 + w2 x0 x2 + w3 x0 x2 x3 = 4 + 18 + 12  = 34
#   i=2, 3: every term keeps the factor x1 = 0         = 0
# x = [0, 2, 0, 3], w = ones: i=0: 1 + 2 + 0 + 0 = 3; every other term keeps x0 = 0.
# x = [1.5, -2, 0.5, 0], w = [1, -1, 2, 0.5] (the zero last: only the last term is lost):
#   i=0: 1 + 2 - 2 + 0 = 1;  i=1: -1.5 + 1.5 + 0 = 0;  i=2: 2 (1.5)(-2) + 0 = -6;
#   i=3: 0.5 (1.5)(-2)(0.5) = -0.75
@pytest.mark.parametrize("x, w, want", [
    ([2.0, 0.0, 3.0, 0.5], [1.0, 2.0, 3.0, 4.0], [1.0, 34.0, 0.0, 0.0]),
    ([0.0, 2.0, 0.0, 3.0], [1.0, 1.0, 1.0, 1.0], [3.0, 0.0, 0.0, 0.0]),
    ([1.5, -2.0, 0.5, 0.0], [1.0, -1.0, 2.0, 0.5], [1.0, 0.0, -6.0, -0.75]),
])
def test_cumprod_vjp_at_exact_zeros_is_the_analytic_derivative(x, w, want):
    (got,) = _vjp(lambda a: ops.cumprod(a, 0), [_t(x)], w)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_cumprod_at_zeros_matches_finite_differences_to_second_order():
    """cumprod is a polynomial: smooth at zeros, so central differences hold there; its
    vjp divides by nothing, so both derivatives are right with zeros in the input (a vjp
    dividing by x gives nan or inf here)."""
    x = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, -1.5]])
    w = np.array([[1.0, -2.0, 0.5], [2.0, 1.0, -1.0]])
    check_vjp(lambda a: ops.cumprod(a, 1), [x], w)
    check_vjp(lambda a: ops.cumprod(a, 0), [x], w)

    def grad_of(a):  # the first derivative, recorded, as a function to differentiate again
        a = a if a.requires_grad else a.requires_grad_()
        return autograd.grad(ops.cumprod(a, 1), a, _t(w, False), create_graph=True)[0]
    check_vjp(grad_of, [x], np.array([[1.0, 0.5, -1.0], [2.0, -0.5, 1.0]]))


# ----- clamp with tensor bounds ---------------------------------------------------------------
def test_clamp_ties_send_the_gradient_to_x():
    """At x == lo or x == hi the gradient goes to x, none to the bound: torch's
    clamp_backward masks x with (x >= lo) & (x <= hi) and lo with x < lo (unlike
    maximum/minimum, which split a tie). The draws keep x KINK away from both bounds."""
    x, lo, hi = _t([0.5, 1.0, 2.0]), _t([0.5, 0.0, 0.0]), _t([1.0, 1.0, 1.0])
    gx, glo, ghi = _vjp(ops.clamp_tensor, [x, lo, hi], [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(gx, [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(glo, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(ghi, [0.0, 0.0, 1.0])


def test_clamp_with_lo_above_hi_is_hi_and_its_gradient_goes_to_hi():
    """torch documents that where min > max, clamp sets the element to max: min(max(x, lo),
    hi). Its gradient goes to hi alone (clamp_backward_min_max: lo gets x < lo < hi, hi gets
    x > hi or hi < lo). The draws keep lo < hi."""
    x, lo, hi = _t([-1.0, 0.5, 3.0]), _t([1.0, 1.0, 1.0]), _t([0.0, 0.0, 0.0])
    out = ops.clamp_tensor(x, lo, hi)
    np.testing.assert_array_equal(out.data, [0.0, 0.0, 0.0])
    gx, glo, ghi = _vjp(ops.clamp_tensor, [x, lo, hi], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(gx, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(glo, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(ghi, [1.0, 2.0, 3.0])


# ----- pow with a tensor exponent at exponent 0 ------------------------------------------------
def test_pow_tensor_mixed_second_derivative_at_a_zero_exponent_is_the_calculus_one():
    """d²(x^y)/dx dy = x^(y-1) (1 + y log x) = 1/x at y = 0, whichever way it is taken. torch
    masks its x-gradient to zero where y == 0 (a where() against 0 * 0^-1 at x = 0), which
    loses that term on one path: d(gx)/dy is 0 there, d(gy)/dx is 1/x. The reference keeps
    the calculus value on both; the draws keep |y| > KINK so engines are not compared there."""
    x, y = _t(2.0), _t(0.0)
    gx, gy = autograd.grad(ops.pow_tensor(x, y), (x, y), create_graph=True)
    assert gx.data == 0.0 and gy.data == pytest.approx(np.log(2.0))
    (d_gx_dy,) = autograd.grad(gx, y, retain_graph=True)
    (d_gy_dx,) = autograd.grad(gy, x)
    assert d_gx_dy.data == pytest.approx(0.5) and d_gy_dx.data == pytest.approx(0.5)


# ----- floor_divide: no derivative -------------------------------------------------------------
def test_floor_divide_rounds_down_and_its_backward_raises_as_torchs():
    """torch.floor_divide rounds towards -inf (since torch 1.13), and torch has no derivative
    for it: its output requires grad when an input does (a NotImplemented node), and a
    backward through it raises. The draws give it operands that need no gradient."""
    a, b = _t([-7.0, 7.0, 2.5]), _t([2.0, -2.0, 0.5], requires_grad=False)
    out = ops.floor_divide(a, b)
    np.testing.assert_array_equal(out.data, [-4.0, -4.0, 5.0])
    assert out.requires_grad and out.grad_fn.name == "NotImplemented"
    with pytest.raises(AutogradError, match="derivative for aten::floor_divide is not "
                                            "implemented"):
        autograd.grad(ops.sum(out), a)
    plain = ops.floor_divide(_t([-7.0], False), _t([2.0], False))
    assert not plain.requires_grad
