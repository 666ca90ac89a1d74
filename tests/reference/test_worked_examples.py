"""Worked examples with hand-derived (or published) gradients, in the reference's torch API."""
import numpy as np
import pytest

import reference as R
from reference import errors


def test_reused_weight_chain_rule():
    """A weight used twice (w*(w*x)) gets the sum of both paths: dL/dw = 4(w²x - label)·w·x."""
    w0, x0, label = 0.9472, 10.0, 5.0
    w = R.tensor(w0, requires_grad=True)
    x = R.tensor(x0)
    loss = (w * (w * x) - label) ** 2
    loss.backward()
    expected = 4 * (w0 * w0 * x0 - label) * w0 * x0
    assert expected == pytest.approx(150.48653, abs=1e-5)
    assert w.grad.item() == pytest.approx(expected, rel=1e-12)
    assert x.grad is None  # x does not require grad


def _y(a, b, c):
    return 3 * a + 2 * b ** 2 + R.log(c)


def test_vector_output_with_gradient_weights():
    """y.backward(w) accumulates the vjp: w*3, w*4b, w/c for y = 3a + 2b² + log c."""
    a = R.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = R.tensor([3.0, 4.0, 5.0], requires_grad=True)
    c = R.tensor([6.0, 7.0, 8.0], requires_grad=True)
    _y(a, b, c).backward(R.tensor([0.1, 1.0, 0.0001]))
    np.testing.assert_allclose(a.grad.data, [0.3, 3.0, 3e-4], rtol=1e-12)
    np.testing.assert_allclose(b.grad.data, [1.2, 16.0, 0.002], rtol=1e-12)
    np.testing.assert_allclose(c.grad.data, [1 / 60, 1 / 7, 1.25e-5], rtol=1e-12)


def test_retain_graph_accumulates_then_frees():
    """retain_graph=True lets backward run again (grads add up); after one without it, the
    saved tensors are gone and the next backward raises graph_freed."""
    a, b, c = (R.tensor(1.0, requires_grad=True) for _ in range(3))
    y = _y(a, b, c)  # dy/da = 3, dy/db = 4b = 4, dy/dc = 1/c = 1
    y.backward(retain_graph=True)
    y.backward(retain_graph=True)
    assert (a.grad.item(), b.grad.item(), c.grad.item()) == (6.0, 8.0, 2.0)
    y.backward()  # the graph is still there: this one works, then frees it
    assert (a.grad.item(), b.grad.item(), c.grad.item()) == (9.0, 12.0, 3.0)
    with pytest.raises(errors.GraphFreedError) as info:
        y.backward()
    assert info.value.kind == "graph_freed"
    assert (a.grad.item(), b.grad.item(), c.grad.item()) == (9.0, 12.0, 3.0)


def test_pytorch_blitz_example():
    """PyTorch's 60-minute blitz: out = mean(3(x+2)²) with x = ones(2, 2) gives x.grad = 4.5."""
    x = R.ones((2, 2), requires_grad=True)
    y = x + 2
    z = y * y * 3
    out = z.mean()
    assert out.item() == 27.0
    out.backward()
    np.testing.assert_array_equal(x.grad.data, np.full((2, 2), 4.5))


def test_micrograd_readme_example():
    """micrograd's README expression: g = 24.7041, dg/da = 138.8338, dg/db = 645.5773."""
    a = R.tensor(-4.0, requires_grad=True)
    b = R.tensor(2.0, requires_grad=True)
    c = a + b
    d = a * b + b ** 3
    c = c + (c + 1)
    c = c + (1 + c + (-a))
    d = d + (d * 2 + (b + a).relu())
    d = d + (3 * d + (b - a).relu())
    e = c - d
    f = e ** 2
    g = f / 2.0
    g = g + 10.0 / f
    g.backward()
    assert g.item() == pytest.approx(24.7041, abs=1e-4)
    assert a.grad.item() == pytest.approx(138.8338, abs=1e-4)
    assert b.grad.item() == pytest.approx(645.5773, abs=1e-4)
