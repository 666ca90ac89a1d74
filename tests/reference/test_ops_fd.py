"""Every op of `reference.ops` against central finite differences, as Hypothesis properties.

Each test draws inputs in the op's smooth domain *by construction* (no filtering), a random
cotangent `w` of the output's shape, and checks `autograd.grad(out, inputs, grad_outputs=w)`
against the central difference of <w, f(x)> (see finite_diff.py for the step and tolerances).
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import reference
from reference import autograd, ops
from reference.ops import elementwise
from finite_diff import analytic_vjp, check_vjp, output_shape

SETTINGS = settings(max_examples=30, deadline=None)


# ----- strategies -------------------------------------------------------------------------------
def floats(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


ANY = floats(-3, 3)
POSITIVE = floats(0.5, 3)  # log, sqrt: at least 0.5 from the pole / branch point at 0


def away_from_zero(lo):
    """|x| in [lo, 3]: kinks (relu, abs) and poles (reciprocal, div) at 0 stay far off."""
    return st.one_of(floats(-3, -lo), floats(lo, 3))


def lane(parity):
    """Values 2k + parity ± 0.3: an even-lane and an odd-lane value differ by at least 0.4,
    so maximum/minimum never meet a tie, whatever the broadcasting pairs up."""
    return st.tuples(st.integers(-1, 1), floats(-0.3, 0.3)).map(lambda t: 2 * t[0] + parity + t[1])


SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)
NONSCALAR = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)


def arrays(shape, elements=ANY):
    return hnp.arrays(np.float64, shape, elements=elements)


def check(data, fn, *arrays_):
    """Draw a cotangent of fn's output shape and check the reference's vjp against FD."""
    w = data.draw(arrays(output_shape(fn, arrays_), floats(-2, 2)), label="w")
    check_vjp(fn, list(arrays_), w)


def distinct(data, shape):
    """An array whose entries are pairwise at least 0.4 apart (no ties for max, by construction)."""
    size = int(np.prod(shape))
    perm = np.array(data.draw(st.permutations(range(size)), label="order"), dtype=np.float64)
    jitter = data.draw(arrays((size,), floats(0, 0.1)), label="jitter")
    return (0.5 * perm + jitter - size / 4).reshape(shape)


def dims_arg(data, ndim, allow_none=True):
    """None, an int (possibly negative), or a tuple of distinct axes."""
    if ndim == 0:  # torch accepts dim 0 / -1 on a 0-d tensor
        return data.draw(st.sampled_from([None, 0, -1, (0,)] if allow_none else [0, -1]))
    kinds = (["none"] if allow_none else []) + ["int", "tuple"]
    kind = data.draw(st.sampled_from(kinds), label="dim kind")
    if kind == "none":
        return None
    if kind == "int":
        return data.draw(st.integers(-ndim, ndim - 1), label="dim")
    return tuple(data.draw(st.lists(st.integers(0, ndim - 1), min_size=1, unique=True),
                           label="dims"))


# ----- elementwise ------------------------------------------------------------------------------
UNARY = {
    "neg": ANY, "exp": ANY, "log": POSITIVE, "tanh": ANY, "sigmoid": ANY, "sin": ANY, "cos": ANY,
    "sqrt": POSITIVE, "relu": away_from_zero(0.1), "abs": away_from_zero(0.1),
    "reciprocal": away_from_zero(0.5), "clone": ANY,
}


def unary(name):
    return lambda x: getattr(ops, name)(x)  # looked up per call, so a patched op is seen


@pytest.mark.parametrize("name", sorted(UNARY))
@SETTINGS
@given(data=st.data())
def test_unary(name, data):
    """Elementwise unary vjps (torch's XBackward0 formulas) match FD in the smooth domain."""
    check(data, unary(name), data.draw(arrays(SHAPES, UNARY[name]), label="x"))


@pytest.mark.parametrize("name", ["sign", "round"])
@SETTINGS
@given(data=st.data())
def test_piecewise_constant_gives_zero_gradient(name, data):
    """sign and round have derivative 0 a.e.; torch returns zeros (not None) for them."""
    x = data.draw(arrays(SHAPES), label="x")
    w = data.draw(arrays(x.shape, floats(-2, 2)), label="w")
    (g,) = analytic_vjp(unary(name), [x], w)
    np.testing.assert_array_equal(g, np.zeros(x.shape))


SCALAR_OPS = {
    "add_scalar": (ANY, lambda x, c: ops.add_scalar(x, c)),
    "rsub_scalar": (ANY, lambda x, c: ops.rsub_scalar(x, c)),
    "scale": (ANY, lambda x, c: ops.scale(x, c)),
    "rdiv_scalar": (away_from_zero(0.5), lambda x, c: ops.rdiv_scalar(x, c)),
}


@pytest.mark.parametrize("name", sorted(SCALAR_OPS))
@SETTINGS
@given(data=st.data(), c=ANY)
def test_tensor_scalar(name, data, c):
    """Ops with a Python-scalar operand: x + c, c - x, x * c, c / x."""
    domain, op = SCALAR_OPS[name]
    check(data, lambda x: op(x, c), data.draw(arrays(SHAPES, domain), label="x"))


@SETTINGS
@given(data=st.data(), p=st.sampled_from([0.0, 1.0, 2.0, 3.0, -1.0, 0.5, 1.5, -2.5]))
def test_pow(data, p):
    """x ** p for a scalar exponent (PowBackward0: p * x**(p-1); zero for p == 0)."""
    check(data, lambda x: ops.pow(x, p), data.draw(arrays(SHAPES, POSITIVE), label="x"))


BINARY = {
    "add": (ANY, ANY), "sub": (ANY, ANY), "mul": (ANY, ANY), "div": (ANY, away_from_zero(0.5)),
    "maximum": (lane(0), lane(1)), "minimum": (lane(0), lane(1)),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(data=st.data(), shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3,
                                                                 max_side=3))
def test_binary_broadcasting(name, data, shapes):
    """Binary ops broadcast in forward and sum the gradient back to each input's shape."""
    ea, eb = BINARY[name]
    a = data.draw(arrays(shapes.input_shapes[0], ea), label="a")
    b = data.draw(arrays(shapes.input_shapes[1], eb), label="b")
    check(data, lambda a, b: getattr(ops, name)(a, b), a, b)


@SETTINGS
@given(data=st.data(), shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3,
                                                                 max_side=3))
def test_where(data, shapes):
    """where(cond, a, b) routes the gradient by the (broadcast) condition, summed back."""
    sc, sa, sb = shapes.input_shapes
    cond = data.draw(hnp.arrays(np.bool_, sc), label="cond")
    a = data.draw(arrays(sa), label="a")
    b = data.draw(arrays(sb), label="b")
    check(data, lambda a, b: ops.where(cond, a, b), a, b)


# ----- linear algebra ---------------------------------------------------------------------------
@SETTINGS
@given(data=st.data(), nkm=st.tuples(*[st.integers(1, 3)] * 3), a_vec=st.booleans(),
       b_vec=st.booleans(),
       batch=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3))
def test_matmul(data, nkm, a_vec, b_vec, batch):
    """matmul: 1-D (promoted, then squeezed), 2-D, and batched with broadcast batch dims."""
    n, k, m = nkm
    a = data.draw(arrays((k,) if a_vec else batch.input_shapes[0] + (n, k)), label="a")
    b = data.draw(arrays((k,) if b_vec else batch.input_shapes[1] + (k, m)), label="b")
    check(data, ops.matmul, a, b)


@pytest.mark.parametrize("bias", [True, False])
@SETTINGS
@given(data=st.data(), lead=hnp.array_shapes(min_dims=0, max_dims=2, max_side=3),
       fan=st.tuples(st.integers(1, 3), st.integers(1, 3)))
def test_linear(bias, data, lead, fan):
    """linear(x, W, b) = x @ W.T + b, for x of any leading shape, with and without bias."""
    fan_in, fan_out = fan
    x = data.draw(arrays(lead + (fan_in,)), label="x")
    wt = data.draw(arrays((fan_out, fan_in)), label="weight")
    if bias:
        b = data.draw(arrays((fan_out,)), label="bias")
        check(data, ops.linear, x, wt, b)
    else:
        check(data, ops.linear, x, wt)


# ----- reductions and the softmax family --------------------------------------------------------
@pytest.mark.parametrize("name", ["sum", "mean"])
@SETTINGS
@given(data=st.data(), shape=SHAPES, keepdim=st.booleans())
def test_sum_mean(name, data, shape, keepdim):
    """sum/mean over all, one (possibly negative) or several dims, keepdim both ways."""
    dim = dims_arg(data, len(shape))
    x = data.draw(arrays(shape), label="x")
    check(data, lambda x: getattr(ops, name)(x, dim, keepdim), x)


@SETTINGS
@given(data=st.data(), shape=SHAPES, keepdim=st.booleans())
def test_max_along_dim(data, shape, keepdim):
    """max(x, dim).values: the whole gradient goes to the (unique) argmax."""
    dim = data.draw(st.integers(-max(len(shape), 1), max(len(shape), 1) - 1), label="dim")
    check(data, lambda x: ops.max(x, dim, keepdim), distinct(data, shape))


MULTI = {  # name: (params drawn for a dim of `size`, the op)
    "max_dim": (lambda data, size: {"keepdim": data.draw(st.booleans())}, ops.max_dim),
    "min_dim": (lambda data, size: {"keepdim": data.draw(st.booleans())}, ops.min_dim),
    "sort": (lambda data, size: {"descending": data.draw(st.booleans())}, ops.sort),
    "topk": (lambda data, size: {"k": data.draw(st.integers(1, size)),
                                 "largest": data.draw(st.booleans())}, ops.topk),
    "split": (lambda data, size: {"split_size": data.draw(st.integers(1, size))}, ops.split),
    "chunk": (lambda data, size: {"chunks": data.draw(st.integers(1, size + 1))}, ops.chunk),
    "unbind": (lambda data, size: {}, ops.unbind),
}


@pytest.mark.parametrize("name", sorted(MULTI))
@SETTINGS
@given(data=st.data(), shape=NONSCALAR)
def test_multi_output(name, data, shape):
    """Ops with several outputs, some of them unused: the used ones' gradients (flattened and
    joined, so one cotangent weights them all) match FD; unused ones contribute nothing and
    indices are int64 tensors that do not require grad."""
    draw_params, op = MULTI[name]
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    params = draw_params(data, shape[dim])
    x = distinct(data, shape)
    outs = op(reference.Tensor(x), dim=dim, **params)
    floats = [k for k, o in enumerate(outs) if o.dtype.kind == "f"]
    assert all(o.dtype == np.int64 and not o.requires_grad for o in outs if o.dtype.kind != "f")
    used = data.draw(st.lists(st.sampled_from(floats), min_size=1, unique=True), label="used")

    def fn(x):
        outs = op(x, dim=dim, **params)
        return ops.cat([ops.reshape(outs[k], (-1,)) for k in used], 0)
    check(data, fn, x)


@SETTINGS
@given(data=st.data(), shape=SHAPES, keepdim=st.booleans())
def test_logsumexp(data, shape, keepdim):
    """logsumexp over one or several dims: the gradient is the softmax, keepdim both ways."""
    dim = dims_arg(data, len(shape), allow_none=False)
    check(data, lambda x: ops.logsumexp(x, dim, keepdim),
          data.draw(arrays(shape), label="x"))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@SETTINGS
@given(data=st.data(), shape=SHAPES)
def test_softmax_family(name, data, shape):
    """softmax / log_softmax along any dim (0-d included)."""
    dim = data.draw(st.integers(-max(len(shape), 1), max(len(shape), 1) - 1), label="dim")
    check(data, lambda x: getattr(ops, name)(x, dim), data.draw(arrays(shape), label="x"))


# ----- shape ops --------------------------------------------------------------------------------
@SETTINGS
@given(data=st.data(), shape=SHAPES)
def test_reshape(data, shape):
    """reshape (view) to several shapes of the same size, -1 included."""
    size = int(np.prod(shape))
    new = data.draw(st.sampled_from([(size,), (-1,), tuple(reversed(shape)), (1,) + shape,
                                     (size, 1), (1, -1)]), label="shape")
    check(data, lambda x: ops.reshape(x, new), data.draw(arrays(shape), label="x"))


@SETTINGS
@given(data=st.data(), shape=NONSCALAR)
def test_transpose_permute(data, shape):
    """transpose(d0, d1) and permute(dims) move the gradient back by the inverse permutation."""
    nd = len(shape)
    d0, d1 = data.draw(st.tuples(*[st.integers(-nd, nd - 1)] * 2), label="d0, d1")
    perm = data.draw(st.permutations(range(nd)), label="perm")
    x = data.draw(arrays(shape), label="x")
    check(data, lambda x: ops.transpose(x, d0, d1), x)
    check(data, lambda x: ops.permute(x, perm), x)


@SETTINGS
@given(data=st.data(), target=SHAPES)
def test_expand(data, target):
    """expand to a larger shape (new leading dims, size-1 dims stretched, -1 kept)."""
    lead = data.draw(st.integers(0, len(target)), label="new leading dims")
    src = tuple(s if data.draw(st.booleans(), label="keep") else 1 for s in target[lead:])
    arg = target[:lead] + tuple(-1 if s != 1 and data.draw(st.booleans(), label="-1") else t
                                for s, t in zip(src, target[lead:]))
    check(data, lambda x: ops.expand(x, arg), data.draw(arrays(src), label="x"))


@SETTINGS
@given(data=st.data(), shape=SHAPES)
def test_unsqueeze_squeeze(data, shape):
    """unsqueeze(dim) and squeeze() / squeeze(dim) (a no-op on a dim whose size is not 1)."""
    nd = len(shape)
    u = data.draw(st.integers(-nd - 1, nd), label="unsqueeze dim")
    x = data.draw(arrays(shape), label="x")
    check(data, lambda x: ops.unsqueeze(x, u), x)
    check(data, ops.squeeze, x)
    if nd:
        s = data.draw(st.integers(-nd, nd - 1), label="squeeze dim")
        check(data, lambda x: ops.squeeze(x, s), x)


@st.composite
def basic_index(draw, shape):
    """A tuple of ints and slices (with steps), one per leading dim."""
    parts = []
    for size in shape[:draw(st.integers(1, len(shape)))]:
        if draw(st.booleans()):
            parts.append(draw(st.integers(-size, size - 1)))
        else:
            parts.append(slice(draw(st.none() | st.integers(-size, size)),
                               draw(st.none() | st.integers(-size, size)),
                               draw(st.none() | st.integers(1, 3))))
    return tuple(parts)


@SETTINGS
@given(data=st.data(), shape=NONSCALAR)
def test_getitem_basic(data, shape):
    """Basic indexing with ints and stepped slices scatters the gradient back into zeros."""
    index = data.draw(basic_index(shape), label="index")
    check(data, lambda x: ops.getitem(x, index), data.draw(arrays(shape), label="x"))


@SETTINGS
@given(data=st.data(), shape=NONSCALAR, two_d=st.booleans())
def test_index_with_repeats(data, shape, two_d):
    """Integer-array indexing along a dim: gradients of repeated indices add up."""
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    size = shape[dim]
    idx = data.draw(st.lists(st.integers(-size, size - 1), min_size=1, max_size=4), label="idx")
    idx = np.array(idx + [idx[0]])  # a repeat, by construction
    if two_d:
        idx = np.stack([idx, idx[::-1]])
    check(data, lambda x: ops.index(x, idx, dim), data.draw(arrays(shape), label="x"))


@SETTINGS
@given(data=st.data(), shape=NONSCALAR, count=st.integers(1, 3))
def test_cat_stack(data, shape, count):
    """cat along a dim (inputs of different sizes there) and stack along a new dim."""
    nd = len(shape)
    d = data.draw(st.integers(-nd, nd - 1), label="cat dim")
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=count, max_size=count), label="sizes")
    parts = [data.draw(arrays(shape[:d % nd] + (s,) + shape[d % nd + 1:]), label="part")
             for s in sizes]
    check(data, lambda *ts: ops.cat(ts, d), *parts)
    s = data.draw(st.integers(-nd - 1, nd), label="stack dim")
    same = [data.draw(arrays(shape), label="part") for _ in range(count)]
    check(data, lambda *ts: ops.stack(ts, s), *same)


@SETTINGS
@given(data=st.data(), shape=SHAPES)
def test_backward_helpers_are_ops(data, shape):
    """sum_to, getitem_backward and index_add_zeros (used by vjps) are differentiable too."""
    nd = len(shape)
    lead = data.draw(st.integers(0, nd), label="dropped leading dims")
    small = tuple(1 if data.draw(st.booleans(), label="to one") else s for s in shape[lead:])
    check(data, lambda x: ops.sum_to(x, small), data.draw(arrays(shape), label="x"))
    if nd:
        index = data.draw(basic_index(shape), label="index")
        g = data.draw(arrays(np.zeros(shape)[index].shape), label="g")
        check(data, lambda g: ops.getitem_backward(g, shape, index), g)
        idx = np.array([0, shape[0] - 1, 0])
        g = data.draw(arrays((3,) + shape[1:]), label="g")
        check(data, lambda g: ops.index_add_zeros(g, shape, idx, 0), g)


# ----- losses -----------------------------------------------------------------------------------
REDUCTIONS = st.sampled_from(["mean", "sum", "none"])


@SETTINGS
@given(data=st.data(), shape=SHAPES, reduction=REDUCTIONS)
def test_mse_loss(data, shape, reduction):
    """mse_loss w.r.t. both input and target, every reduction."""
    x = data.draw(arrays(shape), label="input")
    t = data.draw(arrays(shape), label="target")
    check(data, lambda x, t: ops.mse_loss(x, t, reduction), x, t)


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
@SETTINGS
@given(data=st.data(), batch=st.none() | st.integers(1, 4), classes=st.integers(1, 4),
       reduction=REDUCTIONS)
def test_class_index_losses(name, data, batch, classes, reduction):
    """cross_entropy / nll_loss with class-index targets, batched (N, C) and unbatched (C,)."""
    shape = (classes,) if batch is None else (batch, classes)
    tshape = () if batch is None else (batch,)
    target = data.draw(hnp.arrays(np.int64, tshape, elements=st.integers(0, classes - 1)),
                       label="target")
    check(data, lambda x: getattr(ops, name)(x, reference.Tensor(target), reduction),
          data.draw(arrays(shape), label="input"))


# ----- composites -------------------------------------------------------------------------------
# Steps of a random chain: name -> (shapes of the extra leaves given x, fn(x, *leaves)).
# Each step keeps values bounded (squashing before anything that grows), so every chain stays in
# the smooth, moderate range the FD tolerance assumes.
def _last(x):
    return x.shape[-1] if x.ndim else 1


CHAIN_STEPS = {
    "sin": (lambda x: [], lambda x: ops.sin(x)),
    "tanh": (lambda x: [], lambda x: ops.tanh(x)),
    "sigmoid": (lambda x: [], lambda x: ops.sigmoid(x)),
    "exp_tanh": (lambda x: [], lambda x: ops.exp(ops.tanh(x))),
    "log1p_sq": (lambda x: [], lambda x: ops.log(ops.add_scalar(ops.mul(x, x), 1.0))),
    "square_reuse": (lambda x: [], lambda x: (lambda t: ops.mul(t, t))(ops.tanh(x))),
    "add_self": (lambda x: [], lambda x: ops.add(x, x)),
    "mul_leaf": (lambda x: [(_last(x),)], lambda x, p: ops.mul(x, p)),
    "add_leaf": (lambda x: [()], lambda x, p: ops.add(x, p)),
    "div_leaf": (lambda x: [x.shape],
                 lambda x, p: ops.div(x, ops.add_scalar(ops.mul(p, p), 1.0))),
    "matmul_leaf": (lambda x: [(_last(x), 2)],
                    lambda x, p: ops.matmul(ops.tanh(x) if x.ndim else ops.reshape(x, (1,)), p)),
    "softmax": (lambda x: [], lambda x: ops.softmax(x, -1)),
    "log_softmax": (lambda x: [], lambda x: ops.log_softmax(x, -1)),
    "logsumexp": (lambda x: [], lambda x: ops.logsumexp(x, -1, True) if x.ndim else x),
    "sum0_keep": (lambda x: [], lambda x: ops.sum(x, 0, True) if x.ndim else x),
    "transpose": (lambda x: [], lambda x: ops.transpose(x, 0, -1) if x.ndim else x),
    "flatten": (lambda x: [], lambda x: ops.reshape(x, (-1,))),
    "unsqueeze": (lambda x: [], lambda x: ops.unsqueeze(x, 0) if x.ndim < 3 else x),
    "index_repeat": (lambda x: [], lambda x: ops.index(x, [0, 0, -1], 0) if x.ndim else x),
    "cat_sin": (lambda x: [], lambda x: ops.cat([x, ops.sin(x)], -1) if x.ndim else x),
}


@SETTINGS
@given(data=st.data(),
       steps=st.lists(st.sampled_from(sorted(CHAIN_STEPS)), min_size=3, max_size=8))
def test_random_chains(data, steps):
    """Chains of 3-8 ops (reuse and extra leaves included) match FD end to end."""
    arrays_ = [data.draw(arrays((2, 3)), label="x")]
    plan = []  # (step name, indices of its leaves in arrays_)
    x = reference.Tensor(arrays_[0])
    with reference.no_grad():
        for name in steps:
            shapes, fn = CHAIN_STEPS[name]
            idx = []
            for shape in shapes(x):
                idx.append(len(arrays_))
                arrays_.append(data.draw(arrays(shape, floats(-1, 1)), label=name))
            plan.append((name, idx))
            x = fn(x, *[reference.Tensor(arrays_[i]) for i in idx])

    def program(*leaves):
        y = leaves[0]
        for name, idx in plan:
            y = CHAIN_STEPS[name][1](y, *[leaves[i] for i in idx])
        return y
    check(data, program, *arrays_)


# ----- second order: every vjp is itself differentiable ---------------------------------------
def _flat_cat(tensors):
    return ops.cat([ops.reshape(t, (-1,)) for t in tensors], 0)


SMALL = floats(-1.5, 1.5)  # second-order values grow faster: a smaller box keeps |F| ≲ 1e2
SECOND_ORDER = {  # name: (domain of x, of shape (2, 3), f(x)); f is squared below
    **{name: (dom if dom is not ANY else SMALL, unary(name)) for name, dom in UNARY.items()},
    "pow": (POSITIVE, lambda x: ops.pow(x, 2.5)),
    "scalar_ops": (away_from_zero(0.5),
                   lambda x: ops.rdiv_scalar(ops.rsub_scalar(ops.add_scalar(ops.scale(x, 2.0),
                                                                            1.0), 0.5), 1.5)),
    "add_sub": (SMALL, lambda x: ops.sub(ops.add(x, ops.getitem(x, 0)), ops.getitem(x, (1,)))),
    "mul_div": (SMALL, lambda x: ops.div(ops.mul(x, ops.sum(x, 0)),
                                         ops.add_scalar(ops.mul(x, x), 1.0))),
    "maximum_minimum": (away_from_zero(0.1),
                        lambda x: ops.add(ops.maximum(x, ops.neg(x)), ops.minimum(x, ops.neg(x)))),
    "where": (SMALL, lambda x: ops.where(np.array([True, False, True]), x, ops.sin(x))),
    "matmul_linear": (SMALL, lambda x: ops.linear(ops.matmul(ops.transpose(x, 0, 1), x), x,
                                                  ops.getitem(x, (0, slice(0, 2))))),
    "sum_mean": (SMALL, lambda x: ops.add(ops.sum(x, 1, True), ops.mean(x, (0, 1)))),
    "softmax_family": (SMALL, lambda x: ops.add(ops.softmax(x, 1), ops.add(
        ops.log_softmax(x, 0), ops.logsumexp(x, 1, True)))),
    "shape_ops": (SMALL, lambda x: ops.squeeze(ops.permute(ops.expand(ops.unsqueeze(
        ops.reshape(ops.transpose(x, 0, 1), (2, 3)), 0), (2, 2, 3)), (2, 0, 1)))),
    "indexing": (SMALL, lambda x: ops.cat([ops.getitem(x, (slice(None), slice(None, None, 2))),
                                           ops.index(x, [0, 0, 1], 1)], 1)),
    "stack": (SMALL, lambda x: ops.stack([x, ops.sin(x)], 1)),
    # Offsets 5 apart keep the entries distinct (no ties) in a permuted order.
    "values_and_indices": (SMALL, lambda x: (lambda y: _flat_cat([
        ops.sort(y, 1)[0], ops.sort(y, 0, True)[0], ops.topk(y, 2, 1, False)[0],
        ops.max_dim(y, 1, True)[0], ops.min_dim(y, 0)[0]]))(ops.add(ops.sin(x), reference.tensor(
            [[10.0, 0.0, 5.0], [0.0, 15.0, -5.0]])))),
    "pieces": (SMALL, lambda x: _flat_cat([ops.sin(ops.split(x, 2, 1)[1]),
                                           ops.chunk(ops.mul(x, x), 2, 1)[0],
                                           ops.unbind(ops.exp(x), 0)[1]])),
    "losses": (SMALL, lambda x: ops.add(ops.add(ops.mse_loss(x, ops.sin(x)), ops.cross_entropy(
        x, reference.tensor([2, 0]))), ops.nll_loss(x, reference.tensor([1, 1])))),
    "backward_helpers": (SMALL, lambda x: ops.add(ops.sum_to(x, (1, 3)), ops.add(
        ops.getitem_backward(x, (4, 3), slice(None, None, 2)),
        ops.index_add_zeros(x, (4, 3), [3, 3], 0)))),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
@SETTINGS
@given(data=st.data())
def test_second_order(name, data):
    """create_graph=True: the vjp of the vjp (a Hessian-vector product) matches FD of the vjp.
    f(x) = op(x)², so the incoming gradient depends on x and every vjp is differentiated."""
    domain, op = SECOND_ORDER[name]
    x = data.draw(arrays((2, 3), domain), label="x")
    w = data.draw(arrays(output_shape(op, [x]), floats(-1, 1)), label="w")

    def first_grad(x):
        x = x if x.requires_grad else x.requires_grad_()  # FD passes fresh plain tensors
        y = op(x)
        (g,) = autograd.grad(ops.mul(y, y), [x], grad_outputs=reference.tensor(w),
                             create_graph=True)
        return g
    check(data, first_grad, x)


# ----- the check can fail -----------------------------------------------------------------------
def test_fd_check_catches_a_broken_vjp(monkeypatch):
    """Meta: with sin's vjp broken (sin instead of cos), the same check used above fails."""
    x = np.array([[-1.3, 0.2, 2.1], [0.7, -2.4, 1.0]])
    w = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]])
    check_vjp(unary("sin"), [x], w)  # the genuine op passes
    broken = elementwise._unary("SinBackward0", np.sin,
                                lambda g, n, x: (ops.mul(g, ops.sin(x)),), "input")
    monkeypatch.setattr(ops, "sin", broken)
    with pytest.raises(AssertionError, match="central differences"):
        check_vjp(unary("sin"), [x], w)
