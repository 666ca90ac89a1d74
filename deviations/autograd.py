"""Known differences between HIPS autograd (autograd.make_vjp, extend.primitive) and the
reference (torch's semantics). Most follow from autograd differentiating pure functions: a
gradient is always an array, and there is no graph to ask whether an input was used or
whether a root requires grad.
"""
from gradspec.deviations import (Deviation, functional_deviations, reference_raised,
                                 reference_shapes)
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
    return m.kind in ("grad", "returned") and (
        m.actual is None or m.actual == () or m.detail.startswith("shape")
        or "values, expected" in m.detail)


def _where_no_unbroadcast(program, m):
    return _broadcasting_where(program) and _raised_or_wrong_shape(m)


def _bad_custom_backward(program):
    return any(spec.extra_grads or spec.grad_shape_error for spec in program.functions)


def _unchecked_custom_grads(program, m):
    """torch rejects a custom backward's extra or wrongly-shaped gradient; autograd uses
    what the vjp returns (extra ones dropped, wrong shapes passed on)."""
    if not _bad_custom_backward(program):
        return False
    if m.kind == "error":
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


DEVIATIONS = functional_deviations('autograd', 'make_vjp', ' (with a warning)') + [
    Deviation(
        id="autograd-where-no-unbroadcast",
        reason="the vjp of anp.where returns the broadcast output's shape for an operand that "
               "was broadcast (it is not summed back to the operand's shape), so the gradient "
               "has the wrong shape or a later vjp fails",
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
]
