"""Every normalized error kind the backward verbs raise: class, `.kind`, torch's wording."""
import numpy as np
import pytest

import reference as R
from reference import autograd, errors


def leaf(values):
    return R.tensor(values, requires_grad=True)


def raises(cls, kind, match=None):
    """pytest.raises for `cls`, plus a check that it is a RuntimeError with the given kind."""
    assert issubclass(cls, RuntimeError) and cls.kind == kind
    return pytest.raises(cls, match=match)


def test_nonscalar_implicit_grad():
    """backward() without a gradient on a non-scalar output is refused."""
    with raises(errors.NonScalarImplicitGradError, "nonscalar_implicit_grad",
                "grad can be implicitly created only for scalar outputs"):
        (leaf([1.0, 2.0]) * 2).backward()


def test_grad_shape_mismatch():
    """A gradient whose shape differs from the output's is refused (no broadcasting)."""
    y = leaf([1.0, 2.0]) * 2
    with raises(errors.GradShapeMismatchError, "grad_shape_mismatch", "Mismatch in shape"):
        y.backward(R.tensor([1.0]))


def test_graph_freed():
    """A second backward through saved tensors without retain_graph fails."""
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with raises(errors.GraphFreedError, "graph_freed", "backward through the graph a second"):
        y.backward()


def test_no_grad_fn():
    """backward of a tensor that does not require grad: 'element 0 of tensors does not...'."""
    y = R.tensor([1.0, 2.0]).sum()
    with raises(errors.NoGradFnError, "no_grad_fn", "element 0 of tensors does not require grad"):
        y.backward()
    with R.no_grad():
        z = (leaf([1.0]) * 2).sum()
    with raises(errors.NoGradFnError, "no_grad_fn"):
        z.backward()


def _custom(backward):
    """A two-input custom Function `x * y` whose backward is the given function."""
    class Fn(autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y
    Fn.backward = staticmethod(backward)
    return Fn


def test_custom_grad_count_too_many():
    """A custom backward returning more non-None gradients than forward had inputs fails."""
    Fn = _custom(lambda ctx, g: (g, g, g))
    out = Fn.apply(leaf([1.0]), leaf([2.0])).sum()
    with raises(errors.CustomGradCountError, "custom_grad_count",
                r"incorrect number of gradients \(expected 2, got 3\)"):
        out.backward()


def test_custom_grad_count_too_few():
    """A custom backward returning fewer gradients than forward had inputs fails."""
    Fn = _custom(lambda ctx, g: g)
    out = Fn.apply(leaf([1.0]), leaf([2.0])).sum()
    with raises(errors.CustomGradCountError, "custom_grad_count",
                r"incorrect number of gradients \(expected 2, got 1\)"):
        out.backward()


def test_custom_grad_count_extra_trailing_nones_allowed():
    """Extra trailing Nones beyond the inputs' count are dropped, as torch does."""
    Fn = _custom(lambda ctx, g: (g * 2, g * 3, None, None))
    x, y = leaf([1.0]), leaf([2.0])
    Fn.apply(x, y).sum().backward()
    assert (x.grad.item(), y.grad.item()) == (2.0, 3.0)


def test_custom_grad_shape_incompatible():
    """A custom gradient whose shape the input cannot broadcast to is refused."""
    Fn = _custom(lambda ctx, g: (R.ones((2,)), None))
    out = Fn.apply(leaf([1.0, 2.0, 3.0]), leaf([1.0, 1.0, 1.0])).sum()
    with raises(errors.CustomGradShapeError, "custom_grad_shape",
                r"invalid gradient at index 0 - got \[2\] but expected shape compatible with "
                r"\[3\]"):
        out.backward()


def test_custom_grad_shape_broadcastable_is_summed_down():
    """A custom gradient of a shape the input broadcasts to is summed down to the input."""
    Fn = _custom(lambda ctx, g: (R.tensor([[1.0, 2.0, 3.0], [10.0, 20.0, 30.0]]),
                                 R.tensor([[5.0]])))
    x, y = leaf([1.0, 2.0, 3.0]), leaf(np.ones((1, 1)))
    Fn.apply(x, y).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [11.0, 22.0, 33.0])
    np.testing.assert_array_equal(y.grad.data, [[5.0]])


def test_hook_on_no_grad():
    """register_hook on a tensor that does not require grad is refused."""
    with raises(errors.HookOnNoGradError, "hook_on_no_grad",
                "cannot register a hook on a tensor that doesn't require gradient"):
        R.tensor([1.0]).register_hook(lambda g: g)


def test_leaf_inplace():
    """An in-place op on a leaf that requires grad is refused, except under no_grad."""
    x = leaf([1.0, 2.0])
    with raises(errors.LeafInplaceError, "leaf_inplace",
                "a leaf Variable that requires grad is being used in an in-place operation"):
        x.zero_()
    with R.no_grad():
        x.zero_()
    np.testing.assert_array_equal(x.data, [0.0, 0.0])
