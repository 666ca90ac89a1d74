"""Known differences between HIPS autograd (autograd.make_vjp, extend.primitive) and the
reference (torch's semantics). Most follow from autograd differentiating pure functions: a
gradient is always an array, and there is no graph to ask whether an input was used or
whether a root requires grad.
"""
import functools

import numpy as np

from harness.deviations import (Deviation, differences_that_vanish, engine_action,
                                 functional_deviations, message_says, nothing_returned,
                                 reference_raised, reference_shapes)
from gradspec.program import (Backward, CallFunction, FunctionSpec, GradRule, Leaf, Op,
                              Program, Term)


def _broadcasting_where(program):
    """Does the program have a `where` (outside no_grad) that broadcasts an operand?"""
    shapes = reference_shapes(program)
    return any(isinstance(s, Op) and s.op == "where" and not s.no_grad
               and any(shapes.get(a) != shapes.get(s.out) for a in s.args) for s in program.steps)


def _raised_or_wrong_shape(m):
    """The candidate raised an error the reference did not, or, after it (its gradients
    are then missing) or instead of it, a gradient has the wrong shape."""
    if m.kind == "error":
        return m.expected is None and str(m.actual).startswith("unexpected ")
    missing = m.actual is None or (isinstance(m.actual, tuple) and not m.actual)  # not `== ()`:
    return m.kind in ("grad", "returned") and (  # an array's == is elementwise
        missing or m.detail.startswith("shape") or "values, expected" in m.detail)


def _where_summed_back():
    """autograd with each where's operands first broadcast to the output's shape by adding
    zeros: anp.where's vjp then has nothing to sum back, and the add's vjp sums (unbroadcasts)
    the gradient to each operand's shape. The values are the same."""
    from adapters.autograd_adapter import AutogradAdapter

    class WhereSummedBack(AutogradAdapter):
        def op(self, name, *args, **params):
            if name == "where":
                shape = np.broadcast_shapes(np.shape(params["condition"]),
                                            *(self.anp.shape(a) for a in args))
                args = tuple(a + np.zeros(shape, dtype=a.dtype) for a in args)
            return super().op(name, *args, **params)
    return WhereSummedBack()


@functools.lru_cache(maxsize=256)
def _left_once_summed_back(program):
    """{where: mismatch} between the reference and autograd with where's gradients summed
    back; None if either cannot run the program."""
    from gradspec.reference_adapter import ReferenceAdapter
    from gradspec.compare import compare
    from gradspec.interpreter import run
    try:
        return {m.where: m for m in compare(program, run(program, ReferenceAdapter()),
                                            run(program, _where_summed_back(), strict=False))}
    except Exception:  # noqa: BLE001 - nothing known: nothing explained this way
        return None


def _same(x, y):
    """The same recorded outcome: error kinds, None, arrays (shape and values), tuples."""
    if isinstance(x, tuple) or isinstance(y, tuple):
        return isinstance(x, tuple) and isinstance(y, tuple) and len(x) == len(y) \
            and all(map(_same, x, y))
    if x is None or y is None or isinstance(x, str) or isinstance(y, str):
        return type(x) is type(y) and x == y
    return np.shape(x) == np.shape(y) and bool(np.array_equal(x, y))


def _where_no_unbroadcast(program, m):
    """With a broadcasting where: a wrong shape or an error the reference did not raise; or
    any difference that goes once where's gradients are summed back (a wrong value where a
    later op summed the broadcast gradient, a NumPy error "non-broadcastable output operand"
    instead of the reference's error), or changes into one another deviation explains."""
    if not _broadcasting_where(program):
        return False
    if _raised_or_wrong_shape(m):
        return True
    left = _left_once_summed_back(program)
    if left is None:
        return False
    rest = left.get(m.where)
    return rest is None or not _same(rest.actual, m.actual) and any(
        d.applies(program, rest) for d in DEVIATIONS if d.applies is not _where_no_unbroadcast)


def _bad_custom_backward(program):
    return any(spec.extra_grads or spec.grad_shape_error for spec in program.functions)


def _unchecked_custom_grads(program, m):
    """torch rejects a custom backward's extra or wrongly-shaped gradient; autograd uses
    what the vjp returns (extra ones dropped, wrong shapes passed on)."""
    if not _bad_custom_backward(program):
        return False
    if m.kind == "error":
        if m.expected == "unused_input":  # autograd would return zeros (its unused-input
            # deviation), but the wrong shape passed on fails a later vjp first
            return str(m.actual).startswith("unexpected ")
        return (m.expected in ("custom_grad_count", "custom_grad_shape", None)
                and (m.actual is None or str(m.actual).startswith("unexpected ")))
    return m.kind in ("grad", "returned")


def _unchecked_weight_shape(program, m):
    """torch rejects a gradient weight whose shape differs from its root's; autograd's vjp
    propagates it (a wrong-shaped result, or a NumPy error further down)."""
    if not reference_raised(program, m.action, "grad_shape_mismatch"):
        return False
    if m.kind == "error":  # no error, a NumPy one, or another root's implicit-grad error
        return m.expected == "grad_shape_mismatch" and (
            m.actual in (None, "nonscalar_implicit_grad")
            or str(m.actual).startswith("unexpected "))
    return m.kind in ("grad", "returned")


def _prod_by_products():
    """autograd with prod spelled as the product of the slices along its dim, multiplied in
    turn (all of x's elements for dim None): the same values, and multiply's vjp gives each
    factor the product of the others, zero or not."""
    from adapters.autograd_adapter import AutogradAdapter

    class ProdByProducts(AutogradAdapter):
        def op(self, name, *args, **params):
            if name != "prod":
                return super().op(name, *args, **params)
            anp, x = self.anp, args[0]
            if anp.ndim(x) == 0:
                return super().op(name, *args, **params)
            dim, keepdim = params["dim"], params.get("keepdim", False)
            moved = anp.reshape(x, (-1,)) if dim is None else anp.moveaxis(x, dim, 0)
            out = functools.reduce(anp.multiply, [moved[i] for i in range(anp.shape(moved)[0])])
            out = anp.expand_dims(out, dim) if dim is not None and keepdim else out
            return self._detach(out) if self._no_grad_depth else out
    return ProdByProducts


def _prod_nan_at_zero(program, m):
    """A difference that goes once prod is spelled as the product of its factors."""
    from adapters.autograd_adapter import AutogradAdapter
    return any(isinstance(s, Op) and s.op == "prod" and not s.no_grad for s in program.steps) \
        and m.where in differences_that_vanish(program, AutogradAdapter, _prod_by_products())


_EINSUM_DIAGONAL = "includes output subscript"


def _einsum_with_diagonal(program):
    """Does the program have an einsum (outside no_grad) with a letter twice in one operand's
    subscript ("ii->", "ij,jj->i")?"""
    return any(isinstance(s, Op) and s.op == "einsum" and not s.no_grad and any(
        len(set(sub)) < len(sub) for sub in dict(s.params)["equation"].split("->")[0].split(","))
        for s in program.steps)


def _einsum_diagonal_grad_raises(program, m):
    """NumPy's "includes output subscript ... multiple times" where the reference raised
    nothing, and the gradients missing after it, in a program with such an einsum."""
    from adapters.autograd_adapter import AutogradAdapter
    if not _einsum_with_diagonal(program):
        return False
    if m.kind == "error":
        return m.expected is None and message_says(m, _EINSUM_DIAGONAL, "multiple times")
    if m.kind in ("grad", "returned") and (m.actual is None or nothing_returned(m.actual)):
        done = engine_action(program, AutogradAdapter, m.action)
        return done is not None and _EINSUM_DIAGONAL in done.message
    return False


DEVIATIONS = functional_deviations('autograd', 'make_vjp', ' (with a warning)') + [
    Deviation(
        id="autograd-where-no-unbroadcast",
        reason="the vjp of anp.where returns the broadcast output's shape for an operand that "
               "was broadcast (it is not summed back to the operand's shape), so the gradient "
               "has the wrong shape, or a later vjp fails (non-broadcastable output operand), "
               "or a later op sums it into a wrong value",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2,), (0.5, -0.75)), Leaf("c", (), (0.75,))),
            steps=(Op("t1", "where", ("a", "c"), (("condition", (False, True)),)),),
            plan=(Backward(("t1",), ((-1.0, 1.25),)),),
        ),
        applies=_where_no_unbroadcast,
    ),
    Deviation(
        id="autograd-unchecked-custom-grads",
        reason="a primitive's vjp may return more gradients than inputs (the extra ones are "
               "dropped) or gradients of the wrong shape (passed on): autograd checks neither, "
               "where torch raises",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (), (0.5,)),),
            functions=(FunctionSpec("Fn0", 1, (("sin", (0,)),), (),
                                    (GradRule((Term(0, ("one",)),)),), extra_grads=1),),
            steps=(CallFunction(("f1",), "Fn0", ("a",)),),
            plan=(Backward(("f1",), (None,)),),
        ),
        applies=_unchecked_custom_grads,
    ),
    Deviation(
        id="autograd-unchecked-weight-shape",
        reason="make_vjp's vjp does not check the cotangent's shape against the output's: a "
               "gradient weight of the wrong shape is propagated, where torch raises",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2,), (0.5, -0.75)),),
            steps=(Op("t1", "scale", ("a",), (("c", 2.0),)),),
            plan=(Backward(("t1",), (((1.0, 2.0), (3.0, 4.0)),)),),
        ),
        applies=_unchecked_weight_shape,
    ),
    Deviation(
        id="autograd-prod-grad-nan-at-zero",
        reason="the vjp of anp.prod is g * prod(x) / x: where a factor is exactly zero it "
               "gives 0 / 0 = NaN in place of the product of the other factors (HIPS/autograd#93)",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (3,), (0.0, 2.0, 3.0)),),
            steps=(Op("t1", "prod", ("a",), (("dim", None),)),),
            plan=(Backward(("t1",), (None,)),),
        ),
        finding="findings/autograd/prod-grad-nan-at-zero.py",
        applies=_prod_nan_at_zero,
    ),
    Deviation(
        id="autograd-einsum-diagonal-grad-raises",
        reason="the vjp of anp.einsum w.r.t. an operand whose subscript repeats a letter "
               "(\"ii->\", \"ij,jj->i\") is an einsum with that subscript as output, which "
               "NumPy rejects: 'includes output subscript multiple times' (HIPS/autograd#115)",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2, 2), (1.0, 2.0, 3.0, 4.0)),),
            steps=(Op("t1", "einsum", ("a",), (("equation", "ii->"),)),),
            plan=(Backward(("t1",), (None,)),),
        ),
        finding="findings/autograd/einsum-diagonal-grad-raises.py",
        applies=_einsum_diagonal_grad_raises,
    ),
]
