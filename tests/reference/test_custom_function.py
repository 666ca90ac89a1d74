"""Custom autograd Functions: how the engine routes gradients into and out of user code."""
import numpy as np
import pytest

import reference as R
from reference import autograd, errors


def leaf(values):
    return R.tensor(values, requires_grad=True)


class Exp(autograd.Function):
    @staticmethod
    def forward(ctx, x):
        out = R.exp(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out


def test_save_for_backward_and_saved_tensors():
    """Tensors saved in forward come back from ctx.saved_tensors in backward."""
    x = leaf([0.0, 1.0])
    Exp.apply(x).backward(R.tensor([1.0, 2.0]))
    np.testing.assert_allclose(x.grad.data, [1.0, 2 * np.e])


def test_needs_input_grad_and_non_tensor_argument():
    """needs_input_grad has one flag per forward argument (False for non-tensors and tensors
    not requiring grad); a gradient returned for the latter is dropped."""
    seen = []

    class ScaledMul(autograd.Function):
        @staticmethod
        def forward(ctx, x, y, k):
            ctx.save_for_backward(x, y)
            ctx.k = k
            return x * y * k

        @staticmethod
        def backward(ctx, g):
            seen.append(ctx.needs_input_grad)
            x, y = ctx.saved_tensors
            return g * y * ctx.k, g * x * ctx.k, None

    x, y = leaf([1.0, 2.0]), R.tensor([3.0, 4.0])
    out = ScaledMul.apply(x, y, 10.0)
    assert out.requires_grad and not out.is_leaf
    out.sum().backward()
    assert seen == [(True, False, False)]
    np.testing.assert_array_equal(x.grad.data, [30.0, 40.0])
    assert y.grad is None


def test_gradient_for_non_tensor_argument_is_refused():
    """A non-None gradient for a non-tensor forward argument is an error in torch."""
    class Bad(autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g, g

    with pytest.raises(errors.CustomGradCountError, match="was not a Variable"):
        Bad.apply(leaf([1.0]), 2.0).sum().backward()


class Split(autograd.Function):
    """Two outputs, 2x and 3x; records what backward received."""
    received = []

    @staticmethod
    def forward(ctx, x, materialize=True):
        ctx.set_materialize_grads(materialize)
        return x * 2, x * 3

    @staticmethod
    def backward(ctx, g2, g3):
        Split.received.append((g2, g3))
        total = None
        for g, k in ((g2, 2), (g3, 3)):
            if g is not None:
                total = g * k if total is None else total + g * k
        return total, None


def test_several_outputs():
    """Each output's gradient arrives in its own backward argument."""
    x = leaf([1.0])
    a, b = Split.apply(x)
    (a * 10 + b * 100).sum().backward()
    assert x.grad.item() == 2 * 10 + 3 * 100


def test_unused_output_gets_zeros_by_default():
    """With materialized grads (the default), an unused output's gradient arrives as zeros."""
    Split.received.clear()
    x = leaf([1.0, 2.0])
    a, _ = Split.apply(x)
    a.sum().backward()
    (g2, g3), = Split.received
    np.testing.assert_array_equal(g3.data, [0.0, 0.0])
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


def test_set_materialize_grads_false_passes_none():
    """After ctx.set_materialize_grads(False), an unused output's gradient arrives as None."""
    Split.received.clear()
    x = leaf([1.0, 2.0])
    a, _ = Split.apply(x, False)
    a.sum().backward()
    (g2, g3), = Split.received
    assert g3 is None and g2 is not None
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


def test_mark_non_differentiable():
    """An output marked non-differentiable does not require grad; the others still do."""
    class ValueAndMask(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            mask = R.Tensor((x.data > 0).astype(np.float64))
            ctx.mark_non_differentiable(mask)
            ctx.save_for_backward(mask)
            return x * mask, mask

        @staticmethod
        def backward(ctx, g, g_mask):
            (mask,) = ctx.saved_tensors
            return g * mask

    x = leaf([-1.0, 2.0])
    y, mask = ValueAndMask.apply(x)
    assert y.requires_grad and not mask.requires_grad and mask.grad_fn is None
    (y * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 3.0])


def test_returning_none_leaves_grad_none():
    """A custom backward returning None for an input that requires grad: its .grad stays None."""
    Fn = type("Fn", (autograd.Function,), {
        "forward": staticmethod(lambda ctx, x, y: x * y),
        "backward": staticmethod(lambda ctx, g: (None, g)),
    })
    x, y = leaf([1.0]), leaf([2.0])
    Fn.apply(x, y).sum().backward()
    assert x.grad is None and y.grad.item() == 1.0


def test_straight_through_estimator():
    """Forward rounds, backward passes the gradient straight through: x.grad == weights."""
    class RoundSTE(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return R.round(x)

        @staticmethod
        def backward(ctx, g):
            return g

    x = leaf([0.2, 1.7, -2.4])
    y = RoundSTE.apply(x)
    np.testing.assert_array_equal(y.data, [0.0, 2.0, -2.0])
    (y * R.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 2.0, 3.0])
    z = leaf([0.2, 1.7])
    R.round(z).sum().backward()
    np.testing.assert_array_equal(z.grad.data, [0.0, 0.0])  # the built-in round: zeros


def test_saved_tensors_freed_only_matters_if_read():
    """After a backward without retain_graph, a second backward fails only if the custom
    backward reads ctx.saved_tensors."""
    class Double(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)  # saved but never read
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = leaf([1.0])
    y = Double.apply(x).sum()
    y.backward()
    y.backward()
    assert x.grad.item() == 4.0
    z = Exp.apply(leaf([0.0])).sum()
    z.backward()
    with pytest.raises(errors.GraphFreedError):
        z.backward()


def test_function_applied_twice_accumulates():
    """Two applications of the same Function to the same leaf: both gradients are summed."""
    x = leaf([0.0, 1.0])
    (Exp.apply(x) + Exp.apply(x)).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * np.exp([0.0, 1.0]))
