"""Central finite differences in float64, and a vjp check of the reference against them.

Shared by the reference's proof tests (`from finite_diff import check_vjp`). Only NumPy and
the reference are used: the reference is proven against calculus, never against torch.
"""
import numpy as np

import reference
from reference import autograd

# Why h=1e-6 and atol=1e-6, rtol=1e-5 are right in float64: the central difference
# (F(x+h) - F(x-h)) / 2h of F = <w, f(x)> has truncation error h²/6·|F'''| ≈ 2e-13·|F'''| and
# rounding error ≈ eps_mach·|F|/h ≈ 2e-16·|F|/1e-6 = 2e-10·|F|. The tests keep inputs in a box
# of side ≲ 3, at least 0.1 from any kink, tie or pole (so the function is smooth within ±h),
# which keeps |F| ≲ 1e2 and |F'''| ≲ 1e2: the total error is ≲ 1e-7, ten times under atol, while
# a wrong vjp is off by O(1). (gradcheck uses the same eps=1e-6, with atol=1e-5.)
EPS = 1e-6
RTOL = 1e-5
ATOL = 1e-6


def numerical_grad(f, arrays, eps=EPS):
    """d f(arrays) / d arrays[k] for every k, by (f(x+eps) - f(x-eps)) / (2 eps), in float64.

    `f` maps a list of float64 arrays (perturbed one entry at a time, not to be kept) to a
    float, so any test (a module with its parameters, a loop of cells) can use it.
    """
    xs = [np.array(a, dtype=np.float64, copy=True) for a in arrays]
    grads = []
    for a in xs:
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            orig = a[idx]
            a[idx] = orig + eps
            plus = float(f(xs))
            a[idx] = orig - eps
            minus = float(f(xs))
            a[idx] = orig
            g[idx] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def numerical_vjp(fn, arrays, w, eps=EPS):
    """d<w, fn(*x)>/dx for each array in `arrays`, by central differences (fn maps Tensors)."""
    def weighted(xs):
        # Fresh tensors that do not require grad: nothing is recorded, yet `fn` may itself
        # call autograd (the second-order tests differentiate a gradient).
        out = fn(*[reference.Tensor(a.copy()) for a in xs])
        return float(np.sum(np.asarray(w) * out.data))
    return numerical_grad(weighted, arrays, eps)


def analytic_vjp(fn, arrays, w):
    """The reference's vjp: `autograd.grad(fn(*leaves), leaves, grad_outputs=w)` (None -> 0)."""
    leaves = [reference.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)
              for a in arrays]
    out = fn(*leaves)
    assert out.requires_grad, "output does not require grad"
    grads = autograd.grad(out, leaves, grad_outputs=reference.tensor(w), allow_unused=True)
    return [np.zeros(leaf.shape) if g is None else g.data for g, leaf in zip(grads, leaves)]


def output_shape(fn, arrays):
    return fn(*[reference.Tensor(np.array(a, dtype=np.float64)) for a in arrays]).shape


def check_vjp(fn, arrays, w, eps=EPS, rtol=RTOL, atol=ATOL):
    """Assert the reference's vjp of `fn` at `arrays`, weighted by `w`, matches central FD."""
    before = [np.array(a, copy=True) for a in arrays]
    analytic = analytic_vjp(fn, arrays, w)
    for a, b in zip(arrays, before):
        np.testing.assert_array_equal(a, b, err_msg="the forward pass mutated its input")
    numeric = numerical_vjp(fn, arrays, w, eps)
    for k, (got, want) in enumerate(zip(analytic, numeric)):
        assert got.shape == want.shape, f"input {k}: gradient shape {got.shape} != {want.shape}"
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol,
                                   err_msg=f"input {k}: reference vjp vs central differences")


def assert_close_to_fd(names, analytic, numeric, rtol, atol, what):
    """Each leaf's analytic gradient against its central-difference one, the absolute term
    scaled by the largest element of the difference quotient: its rounding error is relative
    to the size of the whole weighted sum, not to each element. `what` starts the message."""
    for name, got, want in zip(names, analytic, numeric):
        scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * scale,
                                   err_msg=f"d/d{name}{what}")
