"""Known differences between JAX (jax.vjp, jax.grad, jax.custom_vjp) and the reference
(torch's semantics). The first three follow from JAX differentiating pure functions: a
gradient is always an array, and there is no graph to ask whether an input was used or whether
a root requires grad; the others come from JAX's own checks (stricter shapes, and which
of two errors is met first).
"""
from harness.deviations import (Deviation, functional_deviations,
                                 implicit_checked_before_weights, implicit_grad_needs_0d,
                                 nothing_returned)
from gradspec.program import (Backward, CallFunction, FunctionSpec, GradRule, Leaf, Op,
                              Program, Term)


def _raised_instead(program, m, kind, condition, first=False):
    """JAX raised `kind` where the reference raised nothing (so its gradients are missing
    after it), in a program for which `condition(program, action)` holds. `first`: JAX checks
    this before running anything, so it also stands where the reference raised a later error
    (one met while running the backward, e.g. a custom Function's gradient count)."""
    if not (0 <= m.action < len(program.plan) and condition(program, program.plan[m.action])):
        return False
    if m.kind == "error":
        return (m.expected is None or first) and m.actual == kind
    return m.kind in ("grad", "returned") and (m.actual is None or nothing_returned(m.actual))


def _custom_grad_exact_shape(program, m):
    # first=True: where torch sums the wrong-shaped gradient down and meets a later error.
    return _raised_instead(program, m, "custom_grad_shape", lambda p, a: any(
        spec.grad_shape_error for spec in p.functions), first=True)


DEVIATIONS = functional_deviations('jax', 'jax.vjp') + [
    Deviation(
        id="jax-implicit-grad-needs-0d",
        reason="an implicit gradient (jax.grad) needs a 0-d output, where torch accepts any "
               "one-element root (numel() == 1, e.g. shape (1,))",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (1,), (0.5,)),),
            steps=(Op("t1", "scale", ("a",), (("c", 2.0),)),),
            plan=(Backward(("t1",), (None,)),),
        ),
        applies=implicit_grad_needs_0d,
    ),
    Deviation(
        id="jax-custom-vjp-exact-grad-shape",
        reason="a custom_vjp bwd must return, for every input, a cotangent of exactly that "
               "input's shape; torch sums a gradient the input broadcasts to (e.g. shape (2,) "
               "for a one-element input) and ignores the gradient of an input that does not "
               "require grad",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (), (0.5,)),),
            functions=(FunctionSpec("Fn0", 1, (("sin", (0,)),), (),
                                    (GradRule((Term(0, ("one",)),)),), grad_shape_error=True),),
            steps=(CallFunction(("f1",), "Fn0", ("a",)),),
            plan=(Backward(("f1",), (None,)),),
        ),
        applies=_custom_grad_exact_shape,
    ),
    Deviation(
        id="jax-implicit-grad-error-first",
        reason="with a wrongly-shaped weight on one root and an implicit gradient on a later "
               "non-scalar root, jax.grad's error on the implicit root comes first (the vjp "
               "checks the weights' shapes only when applied); torch reports the roots in order",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2,), (0.5, -0.75)),),
            steps=(Op("t1", "scale", ("a",), (("c", 2.0),)),
                   Op("loss", "sum", ("t1",), (("dim", (0,)), ("keepdim", False)))),
            plan=(Backward(("loss", "t1"), ((0.5, -0.75), None)),),
        ),
        applies=implicit_checked_before_weights,
    ),
]
