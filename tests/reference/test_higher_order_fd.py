"""The reference's first and second derivatives against finite differences, on random
programs around each op of the vocabulary (ops with several outputs included).

These tests read the op records (gradspec/vocabulary): an op added there is proven here,
first and second order, inside its drawn domain, with no line added to this file.

A program drawn by the suite's own strategy is a function of its leaves that require grad;
its first derivative G(x) = d<w, root(x)>/dx comes from `autograd.grad(..., create_graph=True)`
and is itself recorded. The vjp of G (a Hessian-vector product, computed by differentiating
the recorded backward pass) must match the central differences of <v, G(x)>. Layers, custom
Functions (whose backward is any rule, not the derivative) and no_grad/detach (FD sees through
them) are left out of these programs.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import reference
from gradspec.reference_adapter import REFERENCE_OPS, ReferenceAdapter
from gradspec.interpreter import build
from gradspec.vocabulary import ALL_OPS, MULTI_OUTPUT, PIECEWISE_CONSTANT
from reference import autograd, ops
from strategies import Config, programs
from finite_diff import assert_close_to_fd, numerical_vjp

REFERENCE = ReferenceAdapter()
PROGRAMS = Config(dtypes=("float64",), max_steps=5, multi_output=0.1, weights=0.75)
OPS = sorted(ALL_OPS - set(PIECEWISE_CONSTANT)) + list(MULTI_OUTPUT)


def first_derivative(program):
    """(G, names): G(*leaves) is the first derivative of <w, roots> w.r.t. the leaves that
    require grad, flattened and joined, as a recorded tensor."""
    names = [leaf.name for leaf in program.all_leaves() if leaf.requires_grad]
    action = program.plan[0]

    def G(*xs):
        xs = [x if x.requires_grad else x.requires_grad_() for x in xs]  # FD passes plain ones
        env = build(program, REFERENCE, bound=dict(zip(names, xs))).env
        roots = [env[r] for r in action.roots]
        weights = [None if w is None else reference.tensor(np.asarray(w, dtype=np.float64))
                   for w in action.weights]
        grads = autograd.grad(roots, xs, weights, create_graph=True, allow_unused=True)
        return ops.cat([ops.reshape(reference.zeros(x.shape) if g is None else g, (-1,))
                        for g, x in zip(grads, xs)], 0)
    return G, names


def roots_of(program):
    """R(*leaves): the plan's roots, flattened and joined, and the weights to match (a None
    weight is torch's implicit one: ones, for the scalar root it goes with)."""
    names = [leaf.name for leaf in program.all_leaves() if leaf.requires_grad]
    action = program.plan[0]

    def R(*xs):
        env = build(program, REFERENCE, bound=dict(zip(names, xs))).env
        return ops.cat([ops.reshape(env[r], (-1,)) for r in action.roots], 0)
    return R, names


@pytest.mark.parametrize("op", OPS)
def test_first_derivatives_of_random_programs(op):
    """Every op of the vocabulary, in random programs around it: the reference's gradient of
    <w, roots> matches central differences."""
    @settings(max_examples=15, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(program=programs(PROGRAMS.but(focus_op=op), REFERENCE))
    def check(program):
        R, names = roots_of(program)
        by_name = {leaf.name: leaf for leaf in program.all_leaves()}
        arrays = [by_name[n].array("float64") for n in names]
        env = build(program, REFERENCE).env
        w = np.concatenate([np.broadcast_to(np.asarray(1.0 if wt is None else wt, float),
                                            env[r].shape).reshape(-1)
                            for r, wt in zip(program.plan[0].roots, program.plan[0].weights)])
        leaves = [reference.tensor(a, requires_grad=True) for a in arrays]
        grads = autograd.grad(R(*leaves), leaves, reference.tensor(w), allow_unused=True)
        analytic = [np.zeros(a.shape) if g is None else g.data for g, a in zip(grads, arrays)]
        numeric = numerical_vjp(R, arrays, w)
        # The difference quotient of <w, R> rounds to eps·|<w, R>|/h: relative to the size of
        # the gradient as a whole, not to each of its elements.
        assert_close_to_fd(names, analytic, numeric, rtol=1e-5, atol=1e-6,
                           what=f": the reference's gradient vs central differences\n{program}")
    check()


@pytest.mark.parametrize("op", OPS)
def test_second_derivatives_of_random_programs(op):
    """Every op of the vocabulary, in random programs around it (as the suites draw them)."""
    @settings(max_examples=15, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(program=programs(PROGRAMS.but(focus_op=op), REFERENCE), data=st.data())
    def check(program, data):
        size = sum(leaf.array("float64").size for leaf in program.all_leaves()
                   if leaf.requires_grad)
        v = data.draw(st.lists(st.sampled_from([-1.0, -0.5, 0.5, 1.0, 2.0]), min_size=size,
                               max_size=size), label="v")
        check_second_derivatives(program, np.array(v))
    check()


def check_second_derivatives(program, v):
    G, names = first_derivative(program)
    by_name = {leaf.name: leaf for leaf in program.all_leaves()}
    arrays = [by_name[n].array("float64") for n in names]
    leaves = [reference.tensor(a, requires_grad=True) for a in arrays]
    g = G(*leaves)
    # A program linear in its leaves has a constant first derivative: no graph, zero Hessian.
    hvp = autograd.grad(g, leaves, reference.tensor(v), allow_unused=True) \
        if g.requires_grad else [None] * len(leaves)
    analytic = [np.zeros(a.shape) if h is None else h.data for h, a in zip(hvp, arrays)]
    numeric = numerical_vjp(G, arrays, v)
    # The difference quotient of <v, G> rounds to eps·|<v, G>|/h: relative to the size of the
    # Hessian-vector product, not to each of its elements.
    assert_close_to_fd(names, analytic, numeric, rtol=1e-4, atol=1e-5,
                       what=f" of <v, G>: the reference's second derivative vs central "
                            f"differences\n{program}")


def test_the_check_catches_a_second_derivative_missing(monkeypatch):
    """Meta: tanh with a right first derivative whose backward treats its saved output as a
    constant (so its second derivative is lost) fails the check above; the real one passes."""
    from gradspec.program import Backward, Leaf, Op, Program
    from reference.ops._core import const, new, record
    program = Program(dtype="float64", leaves=(Leaf("a", (3,), (0.5, -1.25, 1.5)),),
                      steps=(Op("t1", "tanh", ("a",)),),
                      plan=(Backward(("t1",), ((1.0, -2.0, 0.5),)),))
    v = np.array([1.0, 0.5, -1.0])
    check_second_derivatives(program, v)

    def tanh_first_order_only(x):
        out = new(np.tanh(x.data), x)
        record("TanhBackward0", (out,), (x,),
               lambda g, n, r: (ops.mul(g, const(1.0 - r.data ** 2, g.dtype)),), save=(out,))
        return out
    monkeypatch.setitem(REFERENCE_OPS, "tanh", tanh_first_order_only)
    with pytest.raises(AssertionError, match="second derivative vs central differences"):
        check_second_derivatives(program, v)


def test_the_first_order_check_catches_a_wrong_gradient(monkeypatch):
    """Meta: sin with cos's derivative negated fails the first-order property above."""
    from reference.ops import elementwise
    broken = elementwise._unary("SinBackward0", np.sin,
                                lambda g, n, x: (ops.neg(ops.mul(g, ops.cos(x))),), "input")
    monkeypatch.setitem(REFERENCE_OPS, "sin", broken)
    with pytest.raises(AssertionError, match="gradient vs central differences"):
        test_first_derivatives_of_random_programs("sin")
