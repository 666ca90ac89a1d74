"""What the reference's reductions do where they are not differentiable, or where a vjp is
easy to get wrong, against hand-computed derivatives.

The strategies keep away from ties and kinks (engines may legitimately differ there); these
tests state the reference's choice, which is torch's, and why. prod's zeros are no kink at
all (prod is a polynomial), only a classic bug site: a vjp written as result / x is 0/0 there.
"""
import numpy as np
import pytest

import reference as R
from reference import autograd, ops


def leaf(values):
    return R.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def grad(y, x, w=None):
    """d<w, y>/dx (w: ones), recorded (create_graph) so that it can be differentiated again."""
    w = R.tensor(np.ones(y.shape) if w is None else np.asarray(w, dtype=np.float64))
    return autograd.grad([y], [x], [w], create_graph=True)[0]


def hessian(f, values):
    """The Hessian of scalar f at `values`, one Hessian-vector product per basis vector."""
    n = np.size(values)
    rows = []
    for i in range(n):
        x = leaf(values)
        g = grad(f(x), x)
        e = np.zeros(n)
        e[i] = 1.0
        h = autograd.grad([g], [x], [R.tensor(e.reshape(np.shape(values)))],
                          allow_unused=True)[0]
        rows.append(np.zeros(n) if h is None else h.data.reshape(-1))
    return np.array(rows)


# ----- ties: amax / amin / norm(inf) split the gradient evenly -----------------------------
def test_amax_and_amin_split_the_gradient_evenly_among_ties():
    """torch's AmaxBackward0/AminBackward0 (scale_grad_by_count): grad * (x == result) / count,
    so every tied element gets an equal share, unlike max(dim), which picks one index."""
    x = leaf([[1.0, 3.0, 3.0], [2.0, 0.5, 2.0]])
    np.testing.assert_array_equal(grad(ops.amax(x, 1), x).data,
                                  [[0.0, 0.5, 0.5], [0.5, 0.0, 0.5]])
    np.testing.assert_array_equal(grad(ops.amin(x, 1), x).data,
                                  [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    # Over a tuple of dims the share is 1/count of the ties in the whole reduced slice.
    np.testing.assert_array_equal(grad(ops.amax(x, (0, 1)), x).data,
                                  [[0.0, 0.5, 0.5], [0.0, 0.0, 0.0]])
    y = leaf([[2.0, 2.0], [2.0, 1.0]])
    np.testing.assert_allclose(grad(ops.amax(y, (0, 1), keepdim=True), y).data,
                               [[1 / 3, 1 / 3], [1 / 3, 0.0]], rtol=1e-15)


def test_norm_inf_splits_the_gradient_evenly_among_ties_of_abs():
    """torch's linalg_vector_norm_backward for ord=inf: sgn(x) * grad * mask / mask.sum(),
    the mask the entries whose |x| equals the norm (both signs)."""
    x = leaf([[-3.0, 3.0, 1.0], [0.5, -2.0, 1.0]])
    np.testing.assert_array_equal(grad(ops.norm(x, "inf", 1), x).data,
                                  [[-0.5, 0.5, 0.0], [0.0, -1.0, 0.0]])


def test_norm_at_its_kinks_takes_torchs_values():
    """ord 1 at a zero entry: sgn(0) = 0 (torch's sgn). ord 2 at the zero vector: zero (torch
    masks result == 0 instead of dividing 0 by 0)."""
    x = leaf([[0.0, -2.0, 1.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(grad(ops.norm(x, 1, 1), x).data,
                                  [[0.0, -1.0, 1.0], [0.0, 0.0, 0.0]])
    g = grad(ops.norm(x, 2, 1), x).data
    np.testing.assert_allclose(g, [[0.0, -2 / np.sqrt(5), 1 / np.sqrt(5)], [0.0, 0.0, 0.0]],
                               rtol=1e-15)


# ----- prod with exact zeros ---------------------------------------------------------------
@pytest.mark.parametrize("values, want", [
    ([2.0, 0.0, 3.0], [0.0, 6.0, 0.0]),  # one zero: only it has a gradient, the others' product
    ([2.0, 0.0, 0.0, 5.0], [0.0, 0.0, 0.0, 0.0]),  # two zeros: every other product has a zero
    ([0.0], [1.0]),  # the empty product
    ([2.0, -0.5, 3.0], [-1.5, 6.0, -1.0]),
])
def test_prod_gradient_at_zeros(values, want):
    x = leaf(values)
    np.testing.assert_array_equal(grad(ops.prod(x), x).data, want)
    x = leaf(values)
    np.testing.assert_array_equal(grad(ops.prod(x, 0), x).data, want)


def test_prod_gradient_along_a_dim_with_zeros_in_some_slices():
    """Rows with no, one and two zeros, reduced along dim 1 with weights per row."""
    x = leaf([[1.0, 2.0, 3.0], [4.0, 0.0, 5.0], [0.0, 6.0, 0.0]])
    g = grad(ops.prod(x, 1, keepdim=True), x, [[1.0], [2.0], [-1.0]]).data
    np.testing.assert_array_equal(g, [[6.0, 3.0, 2.0], [0.0, 40.0, 0.0], [0.0, 0.0, 0.0]])
    # Along dim 0, columns [1, 4, 0], [2, 0, 6], [3, 5, 0].
    x = leaf([[1.0, 2.0, 3.0], [4.0, 0.0, 5.0], [0.0, 6.0, 0.0]])
    g = grad(ops.prod(x, 0), x).data
    np.testing.assert_array_equal(g, [[0.0, 0.0, 0.0], [0.0, 12.0, 0.0], [4.0, 0.0, 15.0]])


@pytest.mark.parametrize("values, want", [
    # H[i, j] = product of the entries other than i and j (0 on the diagonal).
    ([2.0, 0.0, 3.0], [[0.0, 3.0, 0.0], [3.0, 0.0, 2.0], [0.0, 2.0, 0.0]]),
    ([2.0, 0.0, 0.0, 5.0], [[0, 0, 0, 0], [0, 0, 10.0, 0], [0, 10.0, 0, 0], [0, 0, 0, 0]]),
    ([0.0, 0.0], [[0.0, 1.0], [1.0, 0.0]]),
])
def test_prod_second_derivative_at_zeros(values, want):
    """The vjp is written with prod itself (no division), so its own derivative is right at
    zeros too: two zeros leave the gradient zero but not the Hessian."""
    np.testing.assert_array_equal(hessian(ops.prod, values), np.array(want, dtype=float))
    np.testing.assert_array_equal(hessian(lambda t: ops.prod(t, -1), values),
                                  np.array(want, dtype=float))


def test_prod_second_derivative_along_a_dim():
    """prod along dim 1 of a 2x2 summed: each row's Hessian block, zero between rows."""
    h = hessian(lambda t: ops.sum(ops.prod(t, 1)), [[0.0, 3.0], [0.0, 0.0]])
    np.testing.assert_array_equal(h, [[0, 1.0, 0, 0], [1.0, 0, 0, 0],
                                      [0, 0, 0, 1.0], [0, 0, 1.0, 0]])


# ----- argmax: a float constant ------------------------------------------------------------
def test_argmax_is_a_float_constant_with_the_first_index_at_ties():
    """torch.argmax returns the first maximal index (its documented rule); the vocabulary
    spells it `.to(x.dtype)`, a float tensor that never requires grad, so a later op uses it
    as a constant and no backward goes through it."""
    x = leaf([[1.0, 3.0, 3.0], [2.0, 0.5, 2.0]])
    i = ops.argmax(x, 1)
    assert i.dtype == x.dtype and not i.requires_grad and i.grad_fn is None
    np.testing.assert_array_equal(i.data, [1.0, 0.0])
    np.testing.assert_array_equal(ops.argmax(x, 0, keepdim=True).data, [[1.0, 0.0, 0.0]])
    y = ops.sum(ops.mul(x, ops.argmax(x, 0, keepdim=True)))
    np.testing.assert_array_equal(grad(y, x).data, [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])


def test_prod_of_a_0d_tensor_passes_the_gradient_through():
    """torch's prod_backward returns the incoming gradient itself for a 0-d input (whole or
    along dim 0): the gradient of the gradient then does not require grad."""
    for kw in ({}, {"dim": 0}):
        x = R.tensor(2.0, requires_grad=True)
        (g,) = autograd.grad(ops.prod(x, **kw), [x], create_graph=True)
        assert g.data == 1.0 and not g.requires_grad, kw


@pytest.mark.parametrize("values, kw, needs_grad", [
    ([[0.0]], {}, False),  # a lone zero, the whole product
    ([[0.0]], {"dim": 0}, False),
    ([[0.0, 1.0]], {"dim": 0}, False),  # a zero anywhere, a dim of size 1
    ([[0.0], [1.0]], {"dim": 1, "keepdim": True}, False),
    ([[2.0]], {"dim": 0}, True),  # no zero: g * result / x, which depends on x
    ([[0.0, 1.0]], {"dim": 1}, True),  # a zero, but a dim of size 2: cumprods of x
    ([[0.0], [1.0]], {"dim": 0}, True),
    ([[0.0, 0.0]], {}, True),
])
def test_prod_with_a_zero_passes_the_gradient_through_a_dim_of_size_one(values, kw, needs_grad):
    """torch's prod_backward takes prod_safe_zeros_backward once x holds a zero anywhere, and
    that returns the incoming gradient itself along a dim of size 1 (or for a lone element):
    the gradient of the gradient then does not require grad, and a backward through it
    raises. Found by a campaign (`var` of one element is an exact zero); the values are the
    same either way, the structure is torch's."""
    x = leaf(values)
    g = grad(ops.prod(x, **kw), x)
    assert g.requires_grad == needs_grad, (values, kw)
    if not needs_grad:  # the product of no other entry: 1
        np.testing.assert_array_equal(g.data, np.ones_like(x.data))


def test_prod_of_every_element_takes_rounding_noise():
    """The noisy runs that size float32's rounding slack (reference/rounding.py) perturb
    prod's result relative to its terms; a noisy run that raised (it read `Tensor.size`, a
    method, as a count) left every program with a whole-tensor prod without that slack."""
    from reference import rounding
    x = leaf([[2.0, 3.0]])  # float64 values hold float32's unit of noise unrounded
    with rounding.noise(2.0 ** -24, 0):
        y = ops.prod(x)
    assert y.data != 6.0 and abs(y.data - 6.0) <= 2 * 6.0 * 2.0 ** -24  # 2 terms of 6
