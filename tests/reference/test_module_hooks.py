"""Module full backward hooks with torch's semantics (torch/utils/hooks.py BackwardHook).

Expected values are written by hand: for a loss <w, m(x)>, grad_output is w itself and a
Linear's grad_input is w @ W. What is pinned down: one entry per positional arg (None for a
non-tensor), None in grad_output for an output whose gradient is undefined, the hook firing
from the outputs when no input requires grad, a returned grad_input replacing what flows on,
one call per application, and handle.remove().
"""
import warnings

import numpy as np
import pytest

import reference as R
from reference import autograd, errors, nn, ops

rng = np.random.default_rng(99)


def rand(*shape):
    return rng.uniform(-1.0, 1.0, size=shape)


def wsum(out, w):
    return ops.sum(ops.mul(out, R.tensor(w)))


def recorder(calls, ret=None):
    def hook(module, grad_input, grad_output):
        calls.append((module, grad_input, grad_output))
        return ret(grad_input) if ret else None
    return hook


def test_linear_hook_receives_grad_input_and_grad_output():
    m = nn.Linear(10, 20, seed=0)
    x = R.tensor(rand(8, 10), requires_grad=True)
    w = rand(8, 20)
    calls = []
    m.register_full_backward_hook(recorder(calls))
    wsum(m(x), w).backward()
    (mod, gi, go), = calls
    assert mod is m and isinstance(gi, tuple) and isinstance(go, tuple)
    assert [g.shape for g in gi] == [(8, 10)] and [g.shape for g in go] == [(8, 20)]
    np.testing.assert_allclose(go[0].data, w, rtol=1e-12)
    np.testing.assert_allclose(gi[0].data, w @ m.weight.data, rtol=1e-12)
    np.testing.assert_allclose(x.grad.data, w @ m.weight.data, rtol=1e-12)
    np.testing.assert_allclose(m.weight.grad.data, w.T @ x.data, rtol=1e-12)


def test_input_not_requiring_grad_fires_from_the_outputs_with_none():
    m = nn.Linear(10, 20, seed=1)
    x, w = R.tensor(rand(8, 10)), rand(8, 20)
    calls = []
    m.register_full_backward_hook(recorder(calls))
    with pytest.warns(UserWarning, match="no inputs require gradients"):
        wsum(m(x), w).backward()
    (_, gi, go), = calls
    assert gi == (None,)
    np.testing.assert_allclose(go[0].data, w, rtol=1e-12)
    np.testing.assert_allclose(m.weight.grad.data, w.T @ x.data, rtol=1e-12)


def test_no_input_requiring_grad_hook_may_return_only_nones():
    m = nn.Linear(3, 2, seed=2)
    x = R.tensor(rand(4, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.register_full_backward_hook(lambda mod, gi, go: gi)  # (None,): allowed
        m(x).sum().backward()
        m.register_full_backward_hook(lambda mod, gi, go: (R.tensor(rand(4, 3)),))
        with pytest.raises(errors.ModuleHookError, match="where no input requires gradient"):
            m(x).sum().backward()


def test_returned_grad_input_replaces_what_flows_to_the_input():
    m = nn.Linear(4, 3, seed=3)
    x, w = R.tensor(rand(5, 4), requires_grad=True), rand(5, 3)
    m.register_full_backward_hook(lambda mod, gi, go: tuple(3.0 * g for g in gi))
    wsum(m(x), w).backward()
    np.testing.assert_allclose(x.grad.data, 3.0 * (w @ m.weight.data), rtol=1e-12)
    np.testing.assert_allclose(m.weight.grad.data, w.T @ x.data, rtol=1e-12)  # untouched
    (gx,) = autograd.grad(wsum(m(x), w), x)  # grad() sees the replacement too
    np.testing.assert_allclose(gx.data, 3.0 * (w @ m.weight.data), rtol=1e-12)


def test_hooks_chain_and_wrong_length_is_an_error():
    m = nn.Linear(4, 3, seed=4)
    x = R.tensor(rand(2, 4), requires_grad=True)
    seen, order = [], []
    m.register_full_backward_hook(lambda mod, gi, go: order.append(1) or (2.0 * gi[0],))
    m.register_full_backward_hook(lambda mod, gi, go: seen.append(gi[0].data.copy()))
    m.register_full_backward_hook(lambda mod, gi, go: order.append(0), prepend=True)
    m(x).sum().backward()
    assert order == [0, 1]
    np.testing.assert_allclose(seen[0], 2.0 * np.ones((2, 3)) @ m.weight.data, rtol=1e-12)
    np.testing.assert_allclose(x.grad.data, seen[0], rtol=1e-12)
    m.register_full_backward_hook(lambda mod, gi, go: gi + gi)
    with pytest.raises(errors.ModuleHookError, match="got 2, but expected 1"):
        m(x).sum().backward()


def test_lstm_cell_unused_c_gives_none_grad_output_and_tuple_hx_gives_none():
    cell = nn.LSTMCell(3, 4, seed=5)
    x = R.tensor(rand(2, 3), requires_grad=True)
    h0, c0 = R.tensor(rand(2, 4), requires_grad=True), R.tensor(rand(2, 4), requires_grad=True)
    w = rand(2, 4)
    calls = []
    cell.register_full_backward_hook(recorder(calls))
    hy, _ = cell(x, (h0, c0))
    wsum(hy, w).backward()
    (_, gi, go), = calls
    assert len(go) == 2 and go[1] is None
    np.testing.assert_allclose(go[0].data, w, rtol=1e-12)
    assert len(gi) == 2 and gi[1] is None  # hx is a tuple, not a Tensor
    np.testing.assert_allclose(gi[0].data, x.grad.data, rtol=1e-12)
    # The hook is an observer: every gradient equals the unhooked cell's.
    plain = nn.LSTMCell(3, 4, seed=5)
    xs = [R.tensor(t.data, requires_grad=True) for t in (x, h0, c0)]
    wsum(plain(xs[0], (xs[1], xs[2]))[0], w).backward()
    for a, b in zip([x, h0, c0] + list(cell.parameters()), xs + list(plain.parameters())):
        np.testing.assert_allclose(a.grad.data, b.grad.data, rtol=1e-12)


def test_lstm_cell_both_outputs_used():
    cell = nn.LSTMCell(3, 4, seed=6)
    x = R.tensor(rand(2, 3), requires_grad=True)
    wh, wc = rand(2, 4), rand(2, 4)
    calls = []
    cell.register_full_backward_hook(recorder(calls))
    hy, cy = cell(x)
    (wsum(hy, wh) + wsum(cy, wc)).backward()
    (_, gi, go), = calls
    np.testing.assert_allclose(go[0].data, wh, rtol=1e-12)
    np.testing.assert_allclose(go[1].data, wc, rtol=1e-12)
    assert len(gi) == 1


def test_module_applied_twice_calls_hook_twice_outer_first():
    m = nn.Linear(4, 4, seed=7)
    x, w = R.tensor(rand(2, 4), requires_grad=True), rand(2, 4)
    calls = []
    m.register_full_backward_hook(recorder(calls))
    wsum(m(m(x)), w).backward()
    assert len(calls) == 2
    (_, gi_outer, go_outer), (_, gi_inner, go_inner) = calls
    np.testing.assert_allclose(go_outer[0].data, w, rtol=1e-12)
    np.testing.assert_allclose(go_inner[0].data, gi_outer[0].data, rtol=1e-12)
    np.testing.assert_allclose(gi_inner[0].data, w @ m.weight.data @ m.weight.data, rtol=1e-12)
    calls.clear()
    (m(x).sum() + m(x).sum()).backward()
    assert len(calls) == 2


def test_handle_remove_and_retain_graph():
    m = nn.Linear(3, 2, seed=8)
    x = R.tensor(rand(4, 3), requires_grad=True)
    calls, other = [], []
    handle = m.register_full_backward_hook(recorder(calls))
    m.register_full_backward_hook(recorder(other))
    out = m(x).sum()
    out.backward(retain_graph=True)
    out.backward()
    assert len(calls) == 2 and len(other) == 2  # once per backward pass
    handle.remove()
    m(x).sum().backward()
    assert len(calls) == 2 and len(other) == 3
    handle.remove()  # removing twice is harmless


def test_non_tensor_positional_arg_and_output_are_none():
    class Scale(nn.Module):
        def forward(self, factor, t):
            return ops.scale(t, factor), factor

    m = Scale()
    x = R.tensor(rand(3), requires_grad=True)
    calls = []
    m.register_full_backward_hook(recorder(calls))
    out, _ = m(2.0, x)
    out.sum().backward()
    (_, gi, go), = calls
    assert gi[0] is None and go[1] is None
    np.testing.assert_allclose(gi[1].data, [2.0, 2.0, 2.0])
    np.testing.assert_allclose(go[0].data, [1.0, 1.0, 1.0])


def test_tensor_input_not_requiring_grad_next_to_one_that_does_gets_zeros():
    """torch materializes the non-differentiable slot of BackwardHookFunction (its default
    materialize_non_diff_grads=True), so that input's grad_input entry is zeros, not None."""
    class Mul(nn.Module):
        def forward(self, a, b):
            return ops.mul(a, b)

    m = Mul()
    a, b = R.tensor(rand(3), requires_grad=True), R.tensor(rand(3))
    calls = []
    m.register_full_backward_hook(recorder(calls))
    m(a, b).sum().backward()
    (_, gi, _), = calls
    np.testing.assert_allclose(gi[0].data, b.data, rtol=1e-12)
    np.testing.assert_array_equal(gi[1].data, np.zeros(3))
    assert b.grad is None


def test_backward_pre_hook_replaces_grad_output():
    m = nn.Linear(3, 2, seed=9)
    x, w = R.tensor(rand(4, 3), requires_grad=True), rand(4, 2)
    seen = []
    m.register_full_backward_pre_hook(lambda mod, go: (0.5 * go[0],))
    m.register_full_backward_hook(lambda mod, gi, go: seen.append(go[0].data.copy()))
    wsum(m(x), w).backward()
    np.testing.assert_allclose(seen[0], 0.5 * w, rtol=1e-12)
    np.testing.assert_allclose(x.grad.data, 0.5 * w @ m.weight.data, rtol=1e-12)
    np.testing.assert_allclose(m.weight.grad.data, 0.5 * w.T @ x.data, rtol=1e-12)
    m.register_full_backward_pre_hook(lambda mod, go: ())
    with pytest.raises(errors.ModuleHookError, match="got 0, but expected 1"):
        m(x).sum().backward()


def test_hook_never_fires_when_no_output_requires_grad():
    class Detach(nn.Module):
        def forward(self, t):
            return t.detach()

    m = Detach()
    x = R.tensor(rand(3), requires_grad=True)
    calls = []
    m.register_full_backward_hook(recorder(calls))
    (ops.sum(m(x)) + ops.sum(x)).backward()
    assert calls == []


def test_unused_output_gives_none_grad_output_and_a_zero_input_grad():
    """An output the loss ignores: grad_output None (the output hook passes None on, as
    torch's does); the input identity node then materializes zeros, so b.grad is 0, not None."""
    class Two(nn.Module):
        def forward(self, a, b):
            return ops.scale(a, 2.0), ops.scale(b, 3.0)

    m = Two()
    a, b = R.tensor(rand(3), requires_grad=True), R.tensor(rand(3), requires_grad=True)
    calls = []
    m.register_full_backward_hook(recorder(calls))
    ops.sum(m(a, b)[0]).backward()
    (_, gi, go), = calls
    assert go[1] is None
    np.testing.assert_allclose(gi[0].data, [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(gi[1].data, np.zeros(3))
    np.testing.assert_array_equal(b.grad.data, np.zeros(3))
