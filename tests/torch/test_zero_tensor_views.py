"""A gradient through sgn's backward is an efficient ZeroTensor, which has no memory: a strided
view of one (g[0:4:2]) read with numpy(force=True) gives uninitialized memory on torch 2.13.
The adapters read it as the zeros it stands for (found by the soundness campaign on
torch-func: 2.7e98 where the reference said 0)."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from adapters.torch_adapter import TorchAdapter, zero_tensor_safe_numpy  # noqa: E402


def _zero_gradient():
    a = torch.tensor([[1.94, 1.52], [1.41, 1.0], [-0.44, -1.79], [0.5, 0.76]],
                     dtype=torch.float64, requires_grad=True)
    g, = torch.autograd.grad(torch.abs(a), a, torch.ones(4, 2, dtype=torch.float64),
                             create_graph=True)
    h, = torch.autograd.grad(g.sum(), a)
    return h


def test_a_view_of_a_zero_tensor_reads_as_zeros():
    h = _zero_gradient()
    assert h._is_zerotensor()
    view = h[0:4:2]
    np.testing.assert_array_equal(zero_tensor_safe_numpy(view), np.zeros((2, 2)))
    assert zero_tensor_safe_numpy(view).dtype == np.float64
    np.testing.assert_array_equal(TorchAdapter().to_numpy(view.t()), np.zeros((2, 2)))
