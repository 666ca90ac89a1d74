"""torch's autograd semantics, one unit test per rule, on the reference engine."""
import numpy as np
import pytest

import reference as R
from gradspec.reference_adapter import ReferenceAdapter
from reference import autograd, errors


def leaf(values):
    return R.tensor(values, requires_grad=True)


def arr(t):
    return None if t is None else np.asarray(t.data)


# ----- accumulation and reuse -------------------------------------------------------------------
def test_same_leaf_twice_in_one_op():
    """x*x: both operands' gradients reach x and are summed (2x)."""
    x = leaf([1.0, -2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_array_equal(arr(x.grad), [2.0, -4.0, 6.0])


def _tied_vs_untied(program, w_values, *other):
    """grad of a program with one weight used at k sites == sum of grads with k copies."""
    w = leaf(w_values)
    program([w] * program.uses, *other).backward()
    copies = [leaf(w_values) for _ in range(program.uses)]
    program(copies, *other).backward()
    return arr(w.grad), sum(arr(c.grad) for c in copies)


def test_layer_reuse_sums_gradients():
    """A layer applied twice (y = W tanh(W x)): W.grad is the sum over both applications."""
    def program(ws, x):
        return (ws[1] @ R.tanh(ws[0] @ x)).sum()
    program.uses = 2
    tied, untied = _tied_vs_untied(program, [[0.5, -0.3], [0.8, 0.1]], R.tensor([1.0, 2.0]))
    np.testing.assert_allclose(tied, untied, rtol=1e-14)
    assert np.abs(tied).min() > 0


def test_recurrence_sums_gradients_over_time():
    """h_{t+1} = tanh(W h_t + x_t) for 3 steps: W.grad sums the contributions of every step."""
    xs = [R.tensor([0.1, -0.2]), R.tensor([0.3, 0.4]), R.tensor([-0.5, 0.6])]

    def program(ws, xs):
        h = R.zeros((2,))
        for w, x in zip(ws, xs):
            h = R.tanh(w @ h + x)
        return (h * h).sum()
    program.uses = 3
    tied, untied = _tied_vs_untied(program, [[0.5, -0.3], [0.8, 0.1]], xs)
    np.testing.assert_allclose(tied, untied, rtol=1e-14)


def test_grad_accumulates_across_backward_calls():
    """.grad is added to by each backward until the user resets it."""
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(arr(x.grad), [3 + 2.0, 3 + 4.0])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(arr(x.grad), [3.0, 3.0])


def test_unreached_leaf_keeps_grad_none():
    """A leaf requiring grad that the loss does not depend on keeps .grad None (not zeros)."""
    x, unused, cut = leaf([1.0]), leaf([2.0]), leaf([3.0])
    (x * 2 + cut.detach()).sum().backward()
    assert unused.grad is None and cut.grad is None
    assert x.grad is not None


def test_broadcasting_sums_back():
    """An input broadcast in forward gets its gradient summed back to its own shape."""
    a = leaf(np.zeros((2, 3)))
    b = leaf([1.0, 2.0, 3.0])
    c = leaf([[1.0], [2.0]])
    w = np.arange(6.0).reshape(2, 3)
    (a + b * c).backward(R.tensor(w))
    np.testing.assert_array_equal(arr(b.grad), (w * [[1.0], [2.0]]).sum(0))
    np.testing.assert_array_equal(arr(c.grad), (w * [1.0, 2.0, 3.0]).sum(1, keepdims=True))
    assert b.grad.shape == (3,) and c.grad.shape == (2, 1)


# ----- leaves, non-leaves, modes ----------------------------------------------------------------
def test_nonleaf_grad_is_none_unless_retained():
    """Non-leaf tensors get no .grad, unless retain_grad() was called on them."""
    x = leaf([1.0, 2.0])
    h, k = x * 2, x * 3
    k.retain_grad()
    (h * k).sum().backward()
    assert h.grad is None
    np.testing.assert_array_equal(arr(k.grad), arr(h))
    assert k.retains_grad and not h.retains_grad


def test_retained_grad_accumulates():
    """A retained non-leaf .grad also accumulates over backward calls."""
    x = leaf([1.0, 2.0])
    h = x * 2
    h.retain_grad()
    y = (h * h).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(arr(h.grad), 2 * 2 * arr(h))


def test_detach_cuts_graph_and_shares_data():
    """detach() returns a leaf that does not require grad and aliases the same storage."""
    x = leaf([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.data, y.data)
    d.data[0] = 7.0
    assert y.data[0] == 7.0
    (d * x).sum().backward()
    np.testing.assert_array_equal(arr(x.grad), [7.0, 4.0])  # no path through d


def test_no_grad_blocks_recording():
    """Under no_grad, results do not require grad and have no grad_fn; enable_grad undoes it."""
    x = leaf([1.0])
    with R.no_grad():
        y = x * 2
        with R.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert z.requires_grad and z.grad_fn is not None
    assert R.is_grad_enabled()


def test_requires_grad_propagation_and_is_leaf():
    """A result requires grad iff some input does; user-made tensors are leaves."""
    a, b = leaf([1.0]), R.tensor([2.0])
    assert a.is_leaf and b.is_leaf and a.requires_grad and not b.requires_grad
    ab, bb = a * b, b * b
    assert ab.requires_grad and not ab.is_leaf and ab.grad_fn is not None
    assert not bb.requires_grad and bb.is_leaf and bb.grad_fn is None
    b.requires_grad_()
    assert (b * b).requires_grad


# ----- freeing saved tensors --------------------------------------------------------------------
def test_second_backward_fails_only_if_saved_tensors_needed():
    """(a+a).sum() saves nothing and can be backwarded twice; (a*a).sum() cannot."""
    a = leaf([1.0, 2.0])
    y = (a + a).sum()
    y.backward()
    y.backward()
    np.testing.assert_array_equal(arr(a.grad), [4.0, 4.0])
    z = (a * a).sum()
    z.backward()
    with pytest.raises(errors.GraphFreedError):
        z.backward()


def test_python_scalar_operands():
    """a + 2.0 saves nothing and can be backwarded twice; a * 2.0 cannot: torch wraps the
    scalar in a 0-d tensor and saves it (MulBackward0; checked on torch 2.13)."""
    a = leaf([1.0, 2.0])
    y = (a + 2.0).sum()
    y.backward()
    y.backward()
    np.testing.assert_array_equal(arr(a.grad), [2.0, 2.0])
    z = (a * 2.0).sum()
    z.backward()
    with pytest.raises(errors.GraphFreedError):
        z.backward()


# ----- backward / grad verbs --------------------------------------------------------------------
def test_multi_root_backward():
    """autograd.backward([y1, y2], [w1, w2]) accumulates <w1, dy1> + <w2, dy2>."""
    x = leaf([1.0, 2.0])
    y1, y2 = x * x, (x * 3).sum()
    autograd.backward([y1, y2], [R.tensor([1.0, 10.0]), R.tensor(2.0)])
    np.testing.assert_array_equal(arr(x.grad), [1.0 * 2 + 6, 10.0 * 4 + 6])


def test_functional_grad_leaves_dot_grad_untouched():
    """autograd.grad returns gradients and does not accumulate into .grad."""
    x = leaf([1.0, 2.0])
    (gx,) = autograd.grad((x * x).sum(), [x])
    np.testing.assert_array_equal(arr(gx), [2.0, 4.0])
    assert x.grad is None


def test_functional_grad_unused_inputs():
    """allow_unused=True gives None for an unused input; without it, unused_input is raised."""
    x, u = leaf([1.0]), leaf([2.0])
    gx, gu = autograd.grad((x * 2).sum(), [x, u], allow_unused=True)
    assert gu is None and arr(gx).tolist() == [2.0]
    with pytest.raises(errors.UnusedInputError) as info:
        autograd.grad((x * 2).sum(), [x, u])
    assert info.value.kind == "unused_input"


def test_functional_grad_input_without_requires_grad():
    """autograd.grad w.r.t. a tensor that does not require grad raises input_no_grad."""
    x, c = leaf([1.0]), R.tensor([2.0])
    with pytest.raises(errors.InputNoGradError) as info:
        autograd.grad((x * c).sum(), [c])
    assert info.value.kind == "input_no_grad"


# ----- tensor hooks -----------------------------------------------------------------------------
def test_hooks_on_leaf_and_nonleaf_see_gradients():
    """A tensor hook gets the gradient w.r.t. that tensor, on leaves and non-leaves."""
    x = leaf([1.0, 2.0])
    h = x * 3
    seen = {}
    x.register_hook(lambda g: seen.update(x=arr(g).copy()))  # returns None: grad unchanged
    h.register_hook(lambda g: seen.update(h=arr(g).copy()))
    (h * h).sum().backward()
    np.testing.assert_array_equal(seen["h"], 2 * arr(h))
    np.testing.assert_array_equal(seen["x"], 3 * 2 * arr(h))


def test_hook_replacement_changes_downstream_and_grad():
    """A hook's return value replaces the gradient: downstream (non-leaf) and .grad (leaf)."""
    x, y = leaf([1.0, 2.0]), leaf([5.0, 5.0])
    h = x * 3
    h.register_hook(lambda g: g * 10)
    y.register_hook(lambda g: g * 0 + 1)
    (h + y * y).sum().backward()
    np.testing.assert_array_equal(arr(x.grad), [30.0, 30.0])
    np.testing.assert_array_equal(arr(y.grad), [1.0, 1.0])


def test_hooks_run_in_registration_order_and_remove():
    """Several hooks run in registration order, each on the previous one's result; a removed
    handle's hook no longer runs."""
    x = leaf([1.0])
    calls = []
    x.register_hook(lambda g: calls.append(("first", arr(g).item())) or g + 1)
    handle = x.register_hook(lambda g: calls.append(("removed", arr(g).item())))
    x.register_hook(lambda g: calls.append(("last", arr(g).item())) or g * 2)
    handle.remove()
    (x * 1.0).sum().backward()
    assert calls == [("first", 1.0), ("last", 2.0)]
    assert arr(x.grad).tolist() == [4.0]


def test_retain_grad_sees_hook_modified_gradient():
    """torch 2.x runs the retains_grad hook last, so .grad shows every hook's change, even
    hooks registered after retain_grad()."""
    x = leaf([1.0, 2.0])
    h = x * 1.0
    h.retain_grad()
    h.register_hook(lambda g: g * 5)
    h.sum().backward()
    np.testing.assert_array_equal(arr(h.grad), [5.0, 5.0])
    np.testing.assert_array_equal(arr(x.grad), [5.0, 5.0])


# ----- higher order -----------------------------------------------------------------------------
def test_create_graph_gives_second_derivatives():
    """create_graph=True records the backward pass: d²(x³y)/dx² = 6xy and d²/dxdy = 3x²."""
    x, y = leaf(2.0), leaf(5.0)
    f = x ** 3 * y
    gx, = autograd.grad(f, [x], create_graph=True)
    assert gx.requires_grad and gx.item() == pytest.approx(3 * 4 * 5)
    gxx, gxy = autograd.grad(gx, [x, y])
    assert gxx.item() == pytest.approx(6 * 2 * 5)
    assert gxy.item() == pytest.approx(3 * 4)
    g = R.sin(x)
    (d1,) = autograd.grad(g, [x], create_graph=True)
    d1.backward()
    assert x.grad.item() == pytest.approx(-np.sin(2.0))


# ----- version counter --------------------------------------------------------------------------
def test_inplace_modification_of_saved_tensor_raises():
    """Modifying in place a tensor saved for backward makes backward raise inplace_modified."""
    w = leaf([1.0, 2.0])
    c = R.tensor([3.0, 4.0])
    y = (w * c).sum()  # MulBackward0 saves c for w's gradient
    c.zero_()
    with pytest.raises(errors.InplaceModifiedError) as info:
        y.backward()
    assert info.value.kind == "inplace_modified"


def test_inplace_through_detached_alias_raises():
    """A detached alias shares the version counter: writing through it invalidates the save."""
    x = leaf([1.0, 2.0])
    y = R.sin(x).sum()  # SinBackward0 saves x
    x.detach().zero_()
    with pytest.raises(errors.InplaceModifiedError):
        y.backward()


# ----- independence -----------------------------------------------------------------------------
def test_reference_imports_only_numpy_and_stdlib():
    """The oracle is independent: every module of reference/ imports only NumPy, the standard
    library, or itself (checked on the source, since a conftest may have loaded torch)."""
    import ast
    import pathlib
    import sys
    root = pathlib.Path(R.__file__).parent
    allowed = set(sys.stdlib_module_names) | {"numpy", "reference"}
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


def test_a_batched_grad_that_raises_after_running_frees_the_graph_as_torch_does():
    """torch's is_grads_batched runs the backward once: where it then raises (an input the
    outputs do not use), the graph is freed as retain_graph says, so a later backward raises
    graph_freed. The reference loops one grad() a row and must free it the same way."""
    a = R.tensor([0.5], requires_grad=True)
    b = R.tensor([-1.25], requires_grad=True)
    unused = R.ops.neg(a)
    loss = R.ops.sum(R.ops.mul(a, b), 0)
    with pytest.raises(errors.AutogradError) as raised:
        ReferenceAdapter().grad([loss], [a, unused], [R.tensor([-0.75, 1.0])], None, False,
                                False, is_grads_batched=True)
    assert raised.value.kind == "unused_input", raised.value
    with pytest.raises(errors.AutogradError) as again:
        autograd.backward([loss], [None])
    assert again.value.kind == "graph_freed", again.value
