"""Known differences between tinygrad 0.14 and the reference (torch's semantics), each one
tinygrad's coded behaviour (tinygrad/tensor.py Tensor.backward, mixin/op.py Tensor.gradient)."""
import functools

import numpy as np

from harness.deviations import (Deviation, differences_that_vanish, engine_action, leaves,
                                message_says, nothing_returned, raised_instead, reference_env,
                                reference_shapes)
from gradspec.program import Backward, Grad, Op, Program, RetainGrad

STATE = ("grad", "retained", "nonleaf_grad", "returned")


@functools.lru_cache(maxsize=256)
def _reference_trace(program):
    from gradspec.reference_adapter import ReferenceAdapter
    from gradspec.interpreter import run
    return run(program, ReferenceAdapter())


def _no_requires_grad(program, m):
    """A value torch says does not require grad (tinygrad: every float tensor does), the errors
    torch raises for such values, and the gradients gradient() returns instead of raising
    (zeros through a detach(), the gradient w.r.t. a leaf torch does not differentiate)."""
    if m.kind == "requires_grad":
        return m.expected is False and m.actual is True
    if m.kind == "returned":  # the reference raised, so returned nothing
        return nothing_returned(m.expected) and bool(m.actual) and _reference_trace(program).actions[
            m.action].error in ("no_grad_fn", "input_no_grad")
    return m.kind == "error" and m.expected in ("no_grad_fn", "input_no_grad") \
        and m.actual is None


def _all_zero(value):
    if isinstance(value, tuple):
        return all(v is not None and _all_zero(v) for v in value)
    return not np.any(np.asarray(value))


def _zeros_for_none(program, m):
    """Zeros where torch has None: a tensor of the graph that no gradient reaches, an input
    gradient() is asked for that the output does not use (torch raises without allow_unused:
    then the reference returned nothing)."""
    if m.kind == "error":
        return m.expected == "unused_input" and m.actual is None
    if m.kind == "returned" and nothing_returned(m.expected) and m.actual:  # the reference raised
        return _reference_trace(program).actions[m.action].error == "unused_input" and \
            any(v is not None and _all_zero(v) for v in m.actual)
    return m.kind in STATE and m.expected is None and m.actual is not None and \
        _all_zero(m.actual)


@functools.lru_cache(maxsize=256)
def _shared_nodes(program):
    """Names of values that are one node of tinygrad's graph with another value: tinygrad
    hash-conses its UOps, so the same op on the same inputs (or an identity view) is the same
    node, and the gradient w.r.t. it is the sum over all of them."""
    from adapters.tinygrad_adapter import TinygradAdapter
    from gradspec.interpreter import build
    try:
        env = build(program, TinygradAdapter()).env
    except Exception:  # noqa: BLE001 - a forward error: nothing to explain here
        return frozenset()
    by_node = {}
    for name, t in env.items():
        by_node.setdefault(t.uop, []).append(name)
    return frozenset(n for names in by_node.values() if len(names) > 1 for n in names)


def _one_node(program, m):
    """The gradient w.r.t. a value that shares its graph node with another value."""
    shared = _shared_nodes(program)
    if m.kind in ("retained", "nonleaf_grad"):
        return m.name in shared
    if m.kind == "returned":
        action = program.plan[m.action]
        return isinstance(action, Grad) and bool(shared & set(action.inputs))
    return False


def _nonleaf_grad(program, m):
    return m.kind == "nonleaf_grad" and m.expected is None and m.actual is not None \
        and bool(np.any(np.asarray(m.actual)))


def _at(program, m, error):
    """At an action where the reference raised `error` (what tinygrad did instead, and what
    it left different there; later actions are judged by what they add, gradspec/compare.py)."""
    return 0 <= m.action < len(program.plan) and \
        _reference_trace(program).actions[m.action].error == error


def _graph_never_freed(program, m):
    """At an action where the reference raised graph_freed: tinygrad ran it."""
    if m.kind == "error":
        return m.expected == "graph_freed" and m.actual is None and _at(program, m, "graph_freed")
    return m.kind in STATE and _at(program, m, "graph_freed")


def _weight_shape_late(program, m):
    """At an action with a wrongly shaped gradient weight: tinygrad's own shape check fires
    after some .grad were written (or another error fires, or none)."""
    if m.kind == "error":
        return m.expected == "grad_shape_mismatch" and _at(program, m, "grad_shape_mismatch")
    return m.kind in STATE and _at(program, m, "grad_shape_mismatch")


def _gradient_skips_retained(program, m):
    """A retained .grad after a gradient() call (torch's grad() fills retained grads)."""
    return m.kind == "retained" and any(isinstance(a, Grad) for a in program.plan[:m.action + 1])


def _logsumexp_axes(program, m):
    """The forward error of logsumexp over a tuple of axes without keepdim."""
    return m.kind == "error" and m.action < 0 and m.actual == "unexpected TypeError" and any(
        isinstance(s, Op) and s.op == "logsumexp" and isinstance(s.kw["dim"], tuple)
        and not s.kw["keepdim"] for s in program.steps)


def _one_element_implicit(program, i):
    """Does plan[i] ask an implicit gradient of a one-element root that is not 0-d?"""
    if not 0 <= i < len(program.plan):
        return False
    a, values = program.plan[i], {n: t.data for n, t in reference_env(program).items()}
    roots = a.roots if isinstance(a, Backward) else a.outputs if isinstance(a, Grad) else ()
    return any(w is None and values.get(r) is not None and values[r].ndim > 0
               and values[r].size == 1 for r, w in zip(roots, getattr(a, "weights", ())))


def _implicit_needs_0d(program, m):
    """At an implicit gradient of a one-element, not 0-d, root: tinygrad raises."""
    if not _one_element_implicit(program, m.action):
        return False
    if m.kind == "error":  # torch makes the implicit gradient, then may raise graph_freed
        # (tinygrad never frees its graph: it gets to its own 0-d check instead)
        return m.expected in (None, "graph_freed") and m.actual == "nonscalar_implicit_grad"
    return m.kind in STATE


SIN_COS_SAFE = 16.0  # |x| beyond which tinygrad's float64 sin/cos lose digits (measured)


def _large_sin_cos(program, m):
    """A small numerical difference in a float64 program that takes sin or cos of a value
    beyond SIN_COS_SAFE (directly, or cos as the derivative of sin and vice versa)."""
    if program.dtype != "float64" or m.kind not in ("forward",) + STATE:
        return False
    if m.expected is None or m.actual is None or isinstance(m.expected, tuple):
        return False
    values = {n: t.data for n, t in reference_env(program).items()}
    if not any(isinstance(s, Op) and s.op in ("sin", "cos") and s.args[0] in values
               and np.abs(values[s.args[0]]).max() > SIN_COS_SAFE for s in program.steps):
        return False
    e, a = np.asarray(m.expected, dtype=float), np.asarray(m.actual, dtype=float)
    scale = max(1.0, float(np.abs(e).max(initial=0.0)))
    return e.shape == a.shape and bool(np.allclose(a, e, rtol=1e-5, atol=1e-6 * scale))


def _argmax_of_0d(program, m):
    """The forward error of argmax along dim 0 (or -1) of a 0-d value."""
    shapes = reference_shapes(program)
    return raised_instead(m, None, "IndexError") and m.action < 0 and message_says(
        m, "tuple index out of range") and any(
        isinstance(s, Op) and s.op == "argmax" and shapes.get(s.args[0]) == ()
        for s in program.steps)


# Ops tinygrad computes by a polynomial approximation (mixin/elementwise.py): asin by
# Abramowitz & Stegun 4.4.46 (atan as asin(x / sqrt(1 + x^2))), erf by A&S 7.1.26 (gelu with
# approximate='none' through erf). Their forward is off by up to ~2e-8 (asin, atan) and
# ~1.5e-7 (erf), their derivatives by up to ~1.5e-6 and ~5e-6: far inside float32's
# tolerance, far outside float64's.
APPROXIMATED = ("asin", "atan", "erf")
APPROXIMATION_RTOL = 1e-4  # the derivatives' error, ~5e-6, with room for what follows


def _approximated(step):
    return step.op in APPROXIMATED or (step.op == "gelu" and step.kw["approximate"] == "none")


def _polynomial_approximations(program, m):
    """A small numerical difference in a float64 program that applies one of the
    approximated functions."""
    if program.dtype != "float64" or m.kind not in ("forward",) + STATE:
        return False
    if m.expected is None or m.actual is None or isinstance(m.expected, tuple):
        return False
    if not any(isinstance(s, Op) and _approximated(s) for s in program.steps):
        return False
    e, a = np.asarray(m.expected, dtype=float), np.asarray(m.actual, dtype=float)
    scale = max(1.0, float(np.abs(e).max(initial=0.0)))
    return e.shape == a.shape and bool(np.allclose(a, e, rtol=APPROXIMATION_RTOL,
                                                   atol=APPROXIMATION_RTOL * scale))


# torch's SELU constants (tinygrad's defaults are these rounded to 6 and 5 digits).
SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805


@functools.lru_cache(maxsize=1)
def _selu_exact():
    """tinygrad with selu given torch's constants, the one difference
    `tinygrad-selu-rounded-constants` states."""
    from adapters.tinygrad_adapter import TinygradAdapter

    class SeluExact(TinygradAdapter):
        def __init__(self):
            super().__init__()
            ops = self.op

            def op(name, *args, **params):
                if name == "selu":
                    return args[0].selu(alpha=SELU_ALPHA, gamma=SELU_SCALE)
                return ops(name, *args, **params)
            self.op = op
    return SeluExact


def _selu_constants(program, m):
    from adapters.tinygrad_adapter import TinygradAdapter
    return any(isinstance(s, Op) and s.op == "selu" for s in program.steps) and \
        m.where in differences_that_vanish(program, TinygradAdapter, _selu_exact())


@functools.lru_cache(maxsize=1)
def _grads_apart():
    """tinygrad with every `.grad` its own buffer after each backward (and the gradient weight
    a copy), the one behaviour `tinygrad-aliased-grads-accumulate-into-each-other` states."""
    from adapters.tinygrad_adapter import TinygradAdapter

    class GradsApart(TinygradAdapter):
        def __init__(self):
            super().__init__()
            self.made = []
            tensor, op = self.tensor, self.op

            def kept(t):
                self.made.extend(t if isinstance(t, (tuple, list)) else (t,))
                return t
            self.tensor = lambda *a, **k: kept(tensor(*a, **k))
            self.op = lambda *a, **k: kept(op(*a, **k))

        def backward(self, roots, weights, retain_graph, create_graph):
            weights = [None if w is None else w.clone().realize() for w in weights]
            super().backward(roots, weights, retain_graph, create_graph)
            for t in self.made:
                if getattr(t, "grad", None) is not None:
                    t.grad = t.grad.clone().realize()
    return GradsApart


def _second_backward_into_view_weight(program, m):
    """tinygrad's scheduler fails ('attempting multiple stores') when the gradients after a
    backward are read, the root's .grad being an earlier explicit 0-d weight (a view) that
    this backward accumulated into; the state after that action is then unspecified."""
    if not 0 < m.action < len(program.plan):
        return False
    earlier = [a for a in program.plan[:m.action] if isinstance(a, Backward)]
    if not any(w is not None and np.ndim(w) == 0 for a in earlier for w in a.weights):
        return False
    if m.kind == "error":
        return raised_instead(m, m.expected, "AssertionError") and message_says(
            m, "attempting multiple stores")
    return m.kind in STATE and _reference_trace(program).actions[m.action].error is None and \
        _raised_multiple_stores(program, m.action)


def _raised_multiple_stores(program, action):
    from adapters.tinygrad_adapter import TinygradAdapter
    result = engine_action(program, TinygradAdapter, action)
    return result is not None and "attempting multiple stores" in result.message


def _aliased_grads(program, m):
    """A difference that goes once every .grad is its own buffer (`_grads_apart`)."""
    from adapters.tinygrad_adapter import TinygradAdapter
    return m.kind in ("grad", "retained", "nonleaf_grad") and m.action > 0 and \
        m.where in differences_that_vanish(program, TinygradAdapter, _grads_apart())


@functools.lru_cache(maxsize=1)
def _cats_padded():
    """tinygrad with each cat of one graph node twice (cat(a, a), or of two equal expressions,
    which hash-consing makes one node) built as tinygrad builds a cat of unequal pieces (each
    padded to the result's shape, then added), not as stack(...).flatten(dim, dim + 1), the
    form it takes for equal pieces. Gradients flow through both alike."""
    from adapters.tinygrad_adapter import TinygradAdapter

    class CatsPadded(TinygradAdapter):
        def __init__(self):
            super().__init__()
            ops = self.op

            def op(name, *args, **params):
                if name == "cat" and len({t.uop for t in args}) < len(args):
                    return _padded_cat(args, params["dim"])
                return ops(name, *args, **params)
            self.op = op
    return CatsPadded


def _padded_cat(tensors, dim):
    dim %= tensors[0].ndim
    ends = np.cumsum([0] + [t.shape[dim] for t in tensors])
    out = None
    for t, start, stop in zip(tensors, ends, ends[1:]):
        piece = t.pad(tuple((int(start), int(ends[-1] - stop)) if j == dim else None
                            for j in range(t.ndim)))
        out = piece if out is None else out + piece
    return out


def _cat_of_itself_reduced(program, m):
    """A value (and what is computed from it, gradients too) that is wrong only while a cat of
    one tensor twice is a flattened stack: a reduction over the cat's dim and a neighbouring
    one (a full sum) of it comes out wrong."""
    from adapters.tinygrad_adapter import TinygradAdapter
    return any(isinstance(s, Op) and s.op == "cat" for s in program.steps) and \
        m.where in differences_that_vanish(program, TinygradAdapter, _cats_padded())


DEVIATIONS = [
    Deviation(
        id="tinygrad-no-requires-grad",
        reason="tinygrad has no requires_grad flag: every float tensor is differentiable, so a "
               "value torch computes from requires_grad=False leaves (or detach()) still "
               "'requires grad' and backward from it raises nothing",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (2,), (0.5, -1.25), True), ("b", (2,), (1.5, 2.0), False)),
            steps=(Op("t1", "exp", ("b",)), Op("t2", "mul", ("a", "t1")), RetainGrad("t2")),
            plan=(Backward(("t2",), ((1.0, 1.0),)),),
        ),
        applies=_no_requires_grad,
    ),
    Deviation(
        id="tinygrad-zeros-for-unreached",
        reason="backward fills .grad of every tensor of the graph, with zeros where no gradient "
               "reaches it (e.g. only through detach()), and gradient() returns zeros for an "
               "input the output does not depend on; torch gives None (and grad() raises "
               "without allow_unused)",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (), (0.5,), True), ("b", (), (-1.25,), True)),
            steps=(Op("t1", "exp", ("a",)),),
            plan=(Grad(("t1",), ("b",), (None,), allow_unused=True),),
        ),
        applies=_zeros_for_none,
    ),
    Deviation(
        id="tinygrad-nonleaf-grads-kept",
        reason="backward fills .grad of every live tensor of the graph, intermediate ones "
               "included; torch keeps a non-leaf's gradient only after retain_grad()",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (), (0.5,), True)),
            steps=(Op("t1", "scale", ("a",), (("c", 2.0),)),),
            plan=(Backward(("t1",), (None,)),),
        ),
        applies=_nonleaf_grad,
    ),
    Deviation(
        id="tinygrad-graph-never-freed",
        reason="the graph is a lazy expression that backward never frees (there is no "
               "retain_graph): a second backward through saved values works and accumulates "
               "where torch raises 'Trying to backward through the graph a second time'",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (), (0.5,), True)),
            steps=(Op("t1", "exp", ("a",)), RetainGrad("t1")),
            plan=(Backward(("t1",), (None,)), Backward(("t1",), (None,))),
        ),
        applies=_graph_never_freed,
    ),
    Deviation(
        id="tinygrad-gradient-weight-shape-checked-late",
        reason="backward does not check the gradient weight's shape: a wrong one flows through "
               "the vjps, and fails on the 'grad shape must match tensor shape' assertion after "
               "some tensors' .grad were written, or with an unrelated shape error, or not at "
               "all (broadcast and summed); torch checks it first and changes nothing",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (), (0.5,), True), ("b", (), (-1.25,), True)),
            steps=(Op("t1", "add", ("a", "b")), RetainGrad("t1")),
            plan=(Backward(("t1",), ((0.5, -0.75),)),),
        ),
        applies=_weight_shape_late,
    ),
    Deviation(
        id="tinygrad-gradient-leaves-retained-grads",
        reason="Tensor.gradient() (torch's autograd.grad) never touches .grad, where torch's "
               "grad() also fills the .grad of non-leaves that retain_grad() was called on",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (), (0.5,), True)),
            steps=(Op("t1", "scale", ("a",), (("c", 2.0),)), RetainGrad("t1"),
                   Op("t2", "neg", ("t1",))),
            plan=(Grad(("t2",), ("a",), (None,)),),
        ),
        applies=_gradient_skips_retained,
    ),
    Deviation(
        id="tinygrad-logsumexp-tuple-axis",
        reason="Tensor.logsumexp(axis=<tuple>, keepdim=False) raises TypeError: it squeezes "
               "the kept max with squeeze(axis), which takes a single dim",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (1, 2), (0.5, -1.25), True)),
            steps=(Op("t1", "logsumexp", ("a",), (("dim", (0, 1)), ("keepdim", False))),),
            plan=(Backward(("t1",), (None,)),),
        ),
        applies=_logsumexp_axes,
    ),
    Deviation(
        id="tinygrad-equal-expressions-share-gradient",
        reason="tinygrad hash-conses its graph: two tensors computed by the same op from the "
               "same inputs are one node, so .grad / gradient() w.r.t. either is the sum over "
               "both; torch keeps them apart",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (), (0.5,), True), ("b", (), (-1.25,), True)),
            steps=(Op("t1", "add", ("a", "b")), Op("t2", "add", ("a", "b")),
                   Op("t3", "scale", ("t2",), (("c", 2.0),)), Op("t4", "add", ("t1", "t3"))),
            plan=(Grad(("t4",), ("t1",), (None,)),),
        ),
        applies=_one_node,
    ),
    Deviation(
        id="tinygrad-implicit-gradient-needs-0d",
        reason="backward()/gradient() without a gradient asserts shape == (): torch creates the "
               "implicit gradient for any one-element tensor (shape (1,), (1, 1), ...)",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (1,), (0.5,), True)),
            steps=(Op("t1", "exp", ("a",)), RetainGrad("t1")),
            plan=(Backward(("t1",), (None,)),),
        ),
        applies=_implicit_needs_0d,
    ),
    Deviation(
        id="tinygrad-float64-sin-cos-large-arguments",
        reason="float64 sin/cos lose accuracy as |x| grows (absolute error ~3e-8 for |x| in "
               "20..100, ~3e-6 for |x| in 1000..10000: the range reduction is not done in "
               "extended precision), above the float64 tolerance downstream",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (), (-43.99,), True)),
            steps=(Op("t1", "sin", ("a",)), RetainGrad("t1")),
            plan=(Backward(("t1",), (None,)),),
        ),
        applies=_large_sin_cos,
    ),
    Deviation(
        id="tinygrad-aliased-grads-accumulate-into-each-other",
        reason="backward stores the incoming gradient tensor itself as .grad (`t.grad = g`), "
               "so tensors whose gradients are one expression (both operands of an add, the "
               "root and the gradient weight) share it; the next backward's in-place "
               "`t.grad.assign(t.grad + g)` into one of them changes the others (and the "
               "gradient weight passed by the user)",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (), (0.5,), True), ("b", (), (-1.25,), True)),
            steps=(Op("t1", "add", ("a", "b")), RetainGrad("t1")),
            plan=(Backward(("t1",), (-1.0,)), Backward(("t1",), (None,))),
        ),
        applies=_aliased_grads,
    ),
    Deviation(
        id="tinygrad-cat-of-itself-sum",
        reason="a reduction over the cat's dim and a neighbouring one (a full sum or mean) of "
               "a tensor concatenated with itself is wrong: a.cat(a).sum() of a 2x2 `a` is "
               "4*a.sum(), not 2*a.sum() (tinygrad builds a cat of equal pieces as "
               "stack(...).flatten(); sum(axis=0), or the cat realized first, is right), and "
               "so is what is computed from it, gradients included",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (2, 2), (0.5, -0.75, 1.0, -1.25), True)),
            steps=(Op("t1", "cat", ("a", "a"), (("dim", 0),)),
                   Op("t2", "sum", ("t1",), (("dim", (0, 1)), ("keepdim", False))),
                   Op("t3", "exp", ("t2",))),
            plan=(Grad(("t3",), ("a",), (None,)),),
        ),
        applies=_cat_of_itself_reduced,
        finding="findings/tinygrad/cat-of-itself-sum.py",
    ),
    Deviation(
        id="tinygrad-second-backward-into-view-weight",
        reason="after a backward with an explicit 0-d gradient weight that is a view (kept "
               "as the root's .grad), the next backward's accumulation writes through it and "
               "reading any gradient fails in tinygrad's scheduler ('attempting multiple "
               "stores') instead of giving the sum of both backwards",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (4,), (0.5, -0.75, 1.0, -1.25), True)),
            steps=(Op("loss1", "sum", ("a",), (("dim", (0,)), ("keepdim", False))),
                   RetainGrad("loss1")),  # retained: its .grad is torch's too
            plan=(Backward(("loss1",), (-1.0,)), Backward(("loss1",), (None,))),
        ),
        applies=_second_backward_into_view_weight,
        finding="findings/tinygrad/second-backward-into-view-weight.py",
    ),
    Deviation(
        id="tinygrad-polynomial-asin-atan-erf",
        reason="asin, atan and erf (and gelu with approximate='none', through erf) are "
               "polynomial approximations (Abramowitz & Stegun 4.4.46, 7.1.26): values off by "
               "up to ~1.5e-7 and derivatives by up to ~5e-6, outside the float64 tolerance",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (), (0.5,), True)),
            steps=(Op("t1", "atan", ("a",)), RetainGrad("t1")),
            plan=(Backward(("t1",), (None,)),),
        ),
        applies=_polynomial_approximations,
    ),
    Deviation(
        id="tinygrad-selu-rounded-constants",
        reason="Tensor.selu's default constants are alpha=1.67326, gamma=1.0507, torch's "
               "rounded (1.6732632423543772, 1.0507009873554805): values and derivatives off "
               "by ~5e-6 relative, outside the float64 tolerance",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (2,), (0.5, -1.25), True)),
            steps=(Op("t1", "selu", ("a",)), RetainGrad("t1")),
            plan=(Backward(("t1",), ((1.0, 1.0),)),),
        ),
        applies=_selu_constants,
    ),
    Deviation(
        id="tinygrad-argmax-0d",
        reason="argmax(axis=0) of a 0-d tensor raises IndexError (it reads shape[axis]) where "
               "max(axis=0) works and torch (and NumPy) give index 0",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (), (0.5,), True)),
            steps=(Op("t1", "argmax", ("a",), (("dim", 0), ("keepdim", False))),
                   Op("t2", "mul", ("a", "t1"))),
            plan=(Backward(("t2",), (None,)),),
        ),
        applies=_argmax_of_0d,
        finding="findings/tinygrad/argmax-0d.py",
    ),
]
