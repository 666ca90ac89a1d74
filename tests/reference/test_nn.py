"""reference.nn layers proven against hand-written forwards and central finite differences.

Gradients w.r.t. every input and every parameter are compared with `fd.numerical_grad` of a
weighted loss <w, out> (a random w, so no output can hide behind a plain sum).

Why eps=1e-6 and rtol=1e-5, atol=1e-6 are right in float64: the central difference has
truncation error eps²/6·|L'''| ≈ 2e-13·|L'''|, rounding error ≈ 1e-16·|L|/eps = 1e-10·|L|.
Inputs and weights here are O(1) and the losses are smooth (tanh, sigmoid, products; relu only
where every pre-activation is checked to be far from 0), so |L|, |L'''| ≲ 1e2 and the error is
≲ 1e-8, a hundred times under atol, while a wrong gradient is off by O(0.01-1).
"""
import numpy as np
import pytest

import reference as R
from reference import nn, ops
from reference.nn import functional as F
from finite_diff import numerical_grad

EPS, RTOL, ATOL = 1e-6, 1e-5, 1e-6
rng = np.random.default_rng(1234)


def rand(*shape):
    return rng.uniform(-1.0, 1.0, size=shape)


def wsum(out, w):
    """<w, out>: a scalar loss that weights every output entry differently."""
    return ops.sum(ops.mul(out, R.tensor(w)))


def check_grads(module, inputs, loss_fn):
    """Compare `.grad` of the inputs and of every parameter with central differences.

    `loss_fn(module, input_tensors)` returns a scalar Tensor.
    """
    params = list(module.parameters())
    n = len(inputs)
    base = [np.array(a, dtype=np.float64) for a in inputs] + [p.data.copy() for p in params]

    def f(arrays):
        for p, a in zip(params, arrays[n:]):
            p.data[...] = a
        with R.no_grad():
            return loss_fn(module, [R.Tensor(a.copy()) for a in arrays[:n]]).item()

    numeric = numerical_grad(f, base, EPS)
    for p, a in zip(params, base[n:]):
        p.data[...] = a
    module.zero_grad()
    xs = [R.tensor(a, requires_grad=True) for a in inputs]
    loss_fn(module, xs).backward()
    analytic = [x.grad for x in xs] + [p.grad for p in params]
    names = [f"input {k}" for k in range(n)] + [name for name, _ in module.named_parameters()]
    for name, got, want in zip(names, analytic, numeric):
        assert got is not None, f"{name}: no gradient"
        np.testing.assert_allclose(got.data, want, rtol=RTOL, atol=ATOL, err_msg=name)


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


# ----- Linear -----------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (3,)])
def test_linear_forward_and_grads(bias, shape):
    m = nn.Linear(3, 4, bias=bias, seed=0)
    x = rand(*shape)
    want = x @ m.weight.data.T + (m.bias.data if bias else 0.0)
    np.testing.assert_allclose(m(R.tensor(x)).data, want, rtol=1e-12)
    w = rand(*want.shape)
    check_grads(m, [x], lambda m, xs: wsum(m(xs[0]), w))


def test_linear_parameters_shapes_dtype_and_init():
    m = nn.Linear(10, 20)
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert m.weight.shape == (20, 10) and m.bias.shape == (20,)
    assert all(p.is_leaf and p.requires_grad and p.dtype == np.float64 for p in m.parameters())
    assert np.abs(m.weight.data).max() <= 1 / np.sqrt(10)  # U(-1/sqrt(in), 1/sqrt(in))
    assert nn.Linear(3, 2, bias=False).bias is None
    assert len(list(nn.Linear(3, 2, bias=False).parameters())) == 1
    m32 = nn.Linear(3, 2, dtype=R.float32)
    assert all(p.dtype == np.float32 for p in m32.parameters())
    assert m32(R.tensor(rand(2, 3), dtype=R.float32)).dtype == np.float32
    a, b = nn.Linear(3, 2, seed=7), nn.Linear(3, 2, seed=7)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)


def test_linear_reused_weight_grad_is_sum_of_uses():
    """m(m(x)) against FD, and m(a) + m(b): the weight's grad is the sum of the two uses'."""
    m = nn.Linear(4, 4, seed=1)
    x, w = rand(2, 4), rand(2, 4)
    check_grads(m, [x], lambda m, xs: wsum(m(m(xs[0])), w))

    a, b = rand(2, 4), rand(3, 4)
    wa, wb = rand(2, 4), rand(3, 4)
    uses = []
    for inp, wt in ((a, wa), (b, wb)):
        m.zero_grad()
        wsum(m(R.tensor(inp)), wt).backward()
        uses.append(m.weight.grad.data.copy())
    m.zero_grad()
    (wsum(m(R.tensor(a)), wa) + wsum(m(R.tensor(b)), wb)).backward()
    np.testing.assert_allclose(m.weight.grad.data, uses[0] + uses[1], rtol=1e-12)
    np.testing.assert_allclose(uses[0], wa.T @ a, rtol=1e-12)  # by hand: dL/dW = w^T x
    check_grads(m, [a, b], lambda m, xs: wsum(m(xs[0]), wa) + wsum(m(xs[1]), wb))


# ----- RNNCell ----------------------------------------------------------------------------------
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("batched", [True, False])
def test_rnn_cell_forward_and_grads(nonlinearity, batched):
    cell = nn.RNNCell(3, 4, nonlinearity=nonlinearity, seed=2)
    shape = (5,) if batched else ()
    x, h = rand(*shape, 3), rand(*shape, 4)
    W_ih, W_hh, b_ih, b_hh = (p.data for p in cell.parameters())
    pre = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh
    if nonlinearity == "relu":
        assert np.abs(pre).min() > 1e-3, "a pre-activation near relu's kink would spoil FD"
    want = np.tanh(pre) if nonlinearity == "tanh" else np.maximum(pre, 0)
    np.testing.assert_allclose(cell(R.tensor(x), R.tensor(h)).data, want, rtol=1e-12)
    w = rand(*want.shape)
    check_grads(cell, [x, h], lambda c, xs: wsum(c(xs[0], xs[1]), w))


def test_rnn_cell_without_hx_starts_from_zeros():
    cell = nn.RNNCell(3, 4, seed=3)
    x = rand(2, 3)
    want = cell(R.tensor(x), R.zeros((2, 4))).data
    np.testing.assert_allclose(cell(R.tensor(x)).data, want, rtol=1e-12)
    assert cell(R.tensor(x[0])).shape == (4,)
    w = rand(2, 4)
    check_grads(cell, [x], lambda c, xs: wsum(c(xs[0]), w))
    np.testing.assert_array_equal(cell.weight_hh.grad.data, 0.0)  # used, against h = 0


def test_rnn_cell_recurrence_three_steps():
    """h3 = cell(x3, cell(x2, cell(x1, h0))): every weight is used three times."""
    cell = nn.RNNCell(3, 4, seed=4)
    xs_, h0, w = [rand(2, 3) for _ in range(3)], rand(2, 4), rand(2, 4)

    def loss(c, xs):
        h = xs[3]
        for x in xs[:3]:
            h = c(x, h)
        return wsum(h, w)

    check_grads(cell, xs_ + [h0], loss)


def test_rnn_cell_checks_like_torch():
    cell = nn.RNNCell(3, 4)
    assert [n for n, _ in cell.named_parameters()] == ["weight_ih", "weight_hh", "bias_ih",
                                                       "bias_hh"]
    assert cell.weight_ih.shape == (4, 3) and cell.weight_hh.shape == (4, 4)
    assert cell.bias_ih.shape == (4,) and cell.bias_hh.shape == (4,)
    assert np.abs(np.concatenate([p.data.ravel() for p in cell.parameters()])).max() <= 0.5
    with pytest.raises(ValueError, match="Expected input to be 1D or 2D, got 3D"):
        cell(R.zeros((1, 2, 3)))
    with pytest.raises(RuntimeError, match="Unknown nonlinearity: sin"):
        nn.RNNCell(3, 4, nonlinearity="sin")(R.zeros((2, 3)))
    assert len(list(nn.RNNCell(3, 4, bias=False).parameters())) == 2


# ----- LSTMCell ---------------------------------------------------------------------------------
def lstm_by_hand(cell, x, h, c):
    """Gate rows in torch's order i, f, g, o; c' = f*c + i*g, h' = o*tanh(c')."""
    W_ih, W_hh, b_ih, b_hh = (p.data for p in cell.parameters())
    gates = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh
    i, f, g, o = np.split(gates, 4, axis=-1)
    c2 = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c2), c2


@pytest.mark.parametrize("batched", [True, False])
def test_lstm_cell_forward_and_grads(batched):
    cell = nn.LSTMCell(3, 4, seed=5)
    shape = (5,) if batched else ()
    x, h, c = rand(*shape, 3), rand(*shape, 4), rand(*shape, 4)
    hy, cy = cell(R.tensor(x), (R.tensor(h), R.tensor(c)))
    want_h, want_c = lstm_by_hand(cell, x, h, c)
    np.testing.assert_allclose(hy.data, want_h, rtol=1e-12)
    np.testing.assert_allclose(cy.data, want_c, rtol=1e-12)
    wh, wc = rand(*want_h.shape), rand(*want_c.shape)

    def loss(m, xs):
        hy, cy = m(xs[0], (xs[1], xs[2]))
        return wsum(hy, wh) + wsum(cy, wc)

    check_grads(cell, [x, h, c], loss)


def test_lstm_cell_gate_order_by_construction():
    """Biases (0, 40, 40, -40) give c' = 1·c + ½·1 and h' ≈ 0 only in the order i, f, g, o."""
    cell = nn.LSTMCell(1, 1)
    for p in cell.parameters():
        p.data[...] = 0.0
    cell.bias_ih.data[...] = [0.0, 40.0, 40.0, -40.0]  # i=1/2, f=1, g=1, o=0
    hy, cy = cell(R.zeros((1, 1)), (R.zeros((1, 1)), R.tensor([[2.0]])))
    np.testing.assert_allclose(cy.data, [[2.5]], rtol=1e-12)
    np.testing.assert_allclose(hy.data, [[0.0]], atol=1e-16)


def test_lstm_cell_shapes_and_default_state():
    cell = nn.LSTMCell(3, 4, seed=6)
    assert cell.weight_ih.shape == (16, 3) and cell.weight_hh.shape == (16, 4)
    assert cell.bias_ih.shape == (16,) and cell.bias_hh.shape == (16,)
    x = rand(2, 3)
    hy, cy = cell(R.tensor(x))
    want_h, want_c = lstm_by_hand(cell, x, np.zeros((2, 4)), np.zeros((2, 4)))
    np.testing.assert_allclose(hy.data, want_h, rtol=1e-12)
    np.testing.assert_allclose(cy.data, want_c, rtol=1e-12)
    assert [t.shape for t in cell(R.tensor(x[0]))] == [(4,), (4,)]
    with pytest.raises(ValueError, match=r"Expected hx\[1\] to be 1D or 2D, got 3D"):
        cell(R.tensor(x), (R.zeros((2, 4)), R.zeros((1, 2, 4))))
    w = rand(2, 4)
    check_grads(cell, [x], lambda m, xs: wsum(m(xs[0])[0], w))


def test_lstm_cell_recurrence_three_steps():
    cell = nn.LSTMCell(2, 3, seed=8)
    xs_, h0, c0, w = [rand(2, 2) for _ in range(3)], rand(2, 3), rand(2, 3), rand(2, 3)

    def loss(m, xs):
        h, c = xs[3], xs[4]
        for x in xs[:3]:
            h, c = m(x, (h, c))
        return wsum(h, w)

    check_grads(cell, xs_ + [h0, c0], loss)


# ----- Module: parameters, zero_grad --------------------------------------------------------------
class TwoParams(nn.Module):
    def __init__(self):
        super().__init__()
        self.used = nn.Parameter(rand(3))
        self.unused = nn.Parameter(rand(3))
        self.inner = nn.Linear(3, 3, seed=9)
        self.shared = self.inner  # the same module twice: its parameters listed once

    def forward(self, x):
        return self.inner(ops.mul(x, self.used))


def test_parameters_recurse_in_order_without_duplicates():
    m = TwoParams()
    assert [n for n, _ in m.named_parameters()] == ["used", "unused", "inner.weight",
                                                    "inner.bias"]
    assert list(m.parameters())[2] is m.inner.weight


def test_zero_grad_set_to_none_default():
    m = TwoParams()
    m(R.tensor(rand(3))).sum().backward()
    assert m.used.grad is not None and m.unused.grad is None
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_zero_grad_in_place_keeps_the_grad_object_and_leaves_none_alone():
    m = TwoParams()
    m(R.tensor(rand(3))).sum().backward()
    g = m.used.grad
    version = g._version[0]
    m.zero_grad(set_to_none=False)
    assert m.used.grad is g and np.all(g.data == 0) and g._version[0] == version + 1
    assert m.unused.grad is None


def test_zero_grad_in_place_detaches_a_grad_with_history():
    """After create_graph=True the grad has a grad_fn: torch detaches it in place, then zeroes."""
    m = nn.Linear(3, 2, seed=10)
    x = R.tensor(rand(4, 3), requires_grad=True)
    wsum(m(x), rand(4, 2)).backward(create_graph=True)
    g = m.weight.grad
    assert g.grad_fn is not None and g.requires_grad
    m.zero_grad(set_to_none=False)
    assert m.weight.grad is g and g.grad_fn is None and not g.requires_grad
    assert np.all(g.data == 0) and np.all(m.bias.grad.data == 0)


def test_zero_grad_in_place_drops_requires_grad_of_a_leaf_grad():
    m = nn.Linear(2, 2)
    m.weight.grad = R.tensor(rand(2, 2), requires_grad=True)
    g = m.weight.grad
    m.zero_grad(set_to_none=False)
    assert m.weight.grad is g and not g.requires_grad and np.all(g.data == 0)


# ----- functional ---------------------------------------------------------------------------------
def test_functional_values():
    x, W, b = rand(2, 3), rand(4, 3), rand(4)
    np.testing.assert_allclose(F.linear(R.tensor(x), R.tensor(W), R.tensor(b)).data,
                               x @ W.T + b, rtol=1e-12)
    np.testing.assert_allclose(F.relu(R.tensor(x)).data, np.maximum(x, 0))
    np.testing.assert_allclose(F.tanh(R.tensor(x)).data, np.tanh(x), rtol=1e-12)
    np.testing.assert_allclose(F.sigmoid(R.tensor(x)).data, _sigmoid(x), rtol=1e-12)
    e = np.exp(x)
    np.testing.assert_allclose(F.softmax(R.tensor(x), 1).data, e / e.sum(1, keepdims=True),
                               rtol=1e-12)
    np.testing.assert_allclose(F.log_softmax(R.tensor(x), dim=0).data,
                               np.log(e / e.sum(0, keepdims=True)), rtol=1e-12)
    t = rand(2, 3)
    assert np.isclose(F.mse_loss(R.tensor(x), R.tensor(t)).item(), np.mean((x - t) ** 2))
    assert np.isclose(F.mse_loss(R.tensor(x), R.tensor(t), reduction="sum").item(),
                      np.sum((x - t) ** 2))
    target = np.array([2, 0])
    logp = np.log(e / e.sum(1, keepdims=True))
    assert np.isclose(F.cross_entropy(R.tensor(x), R.tensor(target)).item(),
                      -(logp[0, 2] + logp[1, 0]) / 2)


def test_functional_is_importable_as_a_module():
    import reference.nn.functional as F2
    assert F2 is F and F.relu is ops.relu
