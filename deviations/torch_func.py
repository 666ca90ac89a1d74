"""Known differences between torch.func's transforms and the reference (eager torch's
semantics). The first three follow from differentiating pure functions, as in JAX: a gradient
is always a tensor, and there is no graph to ask whether an input was used or whether a root
requires grad. Then: torch.func.vjp checks a cotangent's shape only against an output
that depends on the primals; eager torch's own differences that a transform meets too
(`EAGER`), kept as torch states them; and its nn kernels' bugs (`KERNELS`), stated as torch
states them but judged on torch.func's own runs.
"""
from dataclasses import replace

import numpy as np

from harness.deviations import (Deviation, action_roots, all_zero, engine_action,
                                 functional_deviations, implicit_checked_before_weights,
                                 implicit_grad_needs_0d, leaves, load, message_says,
                                 raised_instead, reference_env, reference_raised)
from gradspec.program import (Backward, Call, CallFunction, Detach, Functional, FunctionSpec, Grad,
                              GradRule, Op, Program, Term)


def _unchecked_weight_of_constant_root(program, m):
    """The reference raised grad_shape_mismatch; torch.func raised nothing, and the action's
    wrongly shaped weight is on a root that does not depend on the differentiated inputs (the
    transform's primals: a Grad's inputs, or every leaf that requires grad)."""
    if not 0 <= m.action < len(program.plan):
        return False
    if m.kind == "error":
        if not raised_instead(m, "grad_shape_mismatch", None):
            return False
    elif not (m.kind in ("grad", "returned") and _zeros(m.actual)
              and reference_raised(program, m.action, "grad_shape_mismatch")):
        return False  # after the missing error: the zeros of the constant root's vjp
    action, env = program.plan[m.action], reference_env(program)
    if not isinstance(action, (Backward, Grad)):
        return False
    wrt = set(action.inputs) if isinstance(action, Grad) else {
        leaf.name for leaf in program.all_leaves() if leaf.requires_grad}
    return any(w is not None and r in env and not (_leaves_behind(program, r) & wrt)
               and tuple(env[r].data.shape) != np.shape(w)
               for r, w in zip(action_roots(action), action.weights))


def _zeros(value):
    """A returned tuple, or a .grad, of zeros only (and not empty)."""
    values = value if isinstance(value, tuple) else (value,)
    return bool(values) and all_zero(values)


def _leaves_behind(program, name):
    """The leaves (and layer parameters) a value is computed from, through recorded steps
    (detach() and no_grad cut the dependency, as they cut the graph)."""
    deps = {leaf.name: {leaf.name} for leaf in program.all_leaves()}
    for step in program.steps:
        if isinstance(step, Detach) or getattr(step, "no_grad", False):
            ins = ()
        elif isinstance(step, Call):
            ins = tuple(a for a in step.args if a) + tuple(
                p.name for p in program.layer(step.layer).params)
        else:
            ins = tuple(getattr(step, "args", ()) or getattr(step, "outputs", ()))
        found = set().union(*(deps.get(i, set()) for i in ins)) if ins else set()
        for out in getattr(step, "outs", None) or (getattr(step, "out", None),):
            if out:
                deps[out] = found
    return deps.get(name, set())


def _unchecked_custom_grad_of_constant_input(program, m):
    """The reference raised a custom Function's gradient error (wrong shape or count) for an
    input that does not depend on what the transform differentiates (a Grad's inputs): torch.func
    discards that input's gradient unchecked, and returns the others."""
    if not 0 <= m.action < len(program.plan) or not isinstance(program.plan[m.action], Grad):
        return False
    errors = ("custom_grad_shape", "custom_grad_count")
    if m.kind == "error":
        if not any(raised_instead(m, e, None) for e in errors):
            return False
    elif not (m.kind == "returned" and any(reference_raised(program, m.action, e)
                                            for e in errors)):
        return False
    wrt = set(program.plan[m.action].inputs)
    calls = [s for s in program.steps if isinstance(s, CallFunction)
             and any(f.grad_shape_error or f.extra_grads for f in program.functions
                     if f.name == s.function)]
    return bool(calls) and all(not (_leaves_behind(program, s.args[0]) & wrt) for s in calls)


# Eager torch's own, which torch.func's transforms meet too: the eager _make_grads bug
# (torch.func.vjp calls torch.autograd.grad), and hardsigmoid's backward kernel, the same
# aten op under a transform (its float32 1/6, and no derivative of its own).
EAGER = ("torch-make-grads-index", "torch-hardsigmoid-float64-grad-float32-sixth",
         "torch-hardsigmoid-no-double-backward")
# The nn ops' kernels, the same aten ops under a transform: batch_norm's backward reading an
# incoming gradient's strides wrongly, the norms' double backward with constant statistics,
# gelu's tanh form with its sech as 1/cosh, and mse_loss's double backward dividing a
# ZeroTensor in place. Their predicates ask torch.func's own runs (`on("torch-func")`): a
# transform's gradients are not eager torch's wherever the functional deviations above differ.
KERNELS = ("torch-batch-norm-grad-channels-last-strides", "torch-layer-norm-third-order",
           "torch-batch-norm-third-order", "torch-gelu-tanh-third-order-nan",
           "torch-mse-loss-double-backward-zerotensor")

_NO_HARDSIGMOID_FORWARD_AD = "forward AD with aten::hardsigmoid_backward"


def _hardsigmoid_no_forward_ad(program, m):
    """A hessian (torch.func's forward-over-reverse) through hardsigmoid: torch.func raised
    that hardsigmoid_backward has no forward-AD formula where the reference answered, and the
    values that action then lacks."""
    from adapters.torch_func_adapter import TorchFuncAdapter
    if not (0 <= m.action < len(program.plan) and isinstance(program.plan[m.action], Functional)
            and any(isinstance(s, Op) and s.op == "hardsigmoid" for s in program.steps)):
        return False
    if m.kind == "error":
        return raised_instead(m, None, "NotImplementedError") and message_says(
            m, _NO_HARDSIGMOID_FORWARD_AD)
    if m.kind != "returned" or not reference_raised(program, m.action, None):
        return False
    result = engine_action(program, TorchFuncAdapter, m.action)
    return result is not None and _NO_HARDSIGMOID_FORWARD_AD in (result.message or "")


DEVIATIONS = functional_deviations("torch-func", "torch.func.vjp") + [
    Deviation(
        id="torch-func-hardsigmoid-no-forward-ad",
        reason="hardsigmoid_backward has no forward-AD formula: torch.func.hessian "
               "(jacfwd over jacrev) through hardsigmoid raises NotImplementedError 'Trying to "
               "use forward AD with aten::hardsigmoid_backward that does not support it', where "
               "the second derivative is zero away from the kinks",
        program=Program(dtype="float64", leaves=leaves(("a", (), (0.5,), True)),
                        steps=(Op("t1", "hardsigmoid", ("a",)),),
                        plan=(Functional("hessian", "t1", ("a",)),)),
        applies=_hardsigmoid_no_forward_ad,
    ),
    Deviation(
        id="torch-func-unchecked-weight-of-constant-root",
        reason="torch.func.vjp's vjp_fn does not check a cotangent's shape against an output "
               "that does not depend on the primals (detached, computed from constants, or from "
               "other leaves than a grad()'s inputs): "
               "it returns zeros, where eager torch raises the shape mismatch",
        program=Program(dtype="float64", leaves=leaves(("a", (), (0.5,), True)),
                        steps=(Detach("d1", "a"),),
                        plan=(Backward(("d1",), ((0.5, -0.75),)),)),
        applies=_unchecked_weight_of_constant_root,
    ),
    Deviation(
        id="torch-func-implicit-grad-needs-0d",
        reason="torch.func.grad (an implicit gradient) needs a 0-d output, where eager torch "
               "accepts any one-element root (numel() == 1, e.g. shape (1,))",
        program=Program(dtype="float64", leaves=leaves(("a", (1,), (0.5,), True)),
                        steps=(Op("t1", "scale", ("a",), (("c", 2.0),)),),
                        plan=(Backward(("t1",), (None,)),)),
        applies=implicit_grad_needs_0d,
    ),
    Deviation(
        id="torch-func-implicit-grad-error-first",
        reason="with a wrongly-shaped weight on one root and an implicit gradient on a later "
               "non-scalar root, torch.func.grad's error on the implicit root comes first "
               "(vjp_fn checks the weights' shapes only when applied); eager torch reports the "
               "roots in order",
        program=Program(dtype="float64", leaves=leaves(("a", (2,), (0.5, -0.75), True)),
                        steps=(Op("t1", "scale", ("a",), (("c", 2.0),)),
                               Op("loss", "sum", ("t1",), (("dim", (0,)), ("keepdim", False)))),
                        plan=(Backward(("loss", "t1"), ((0.5, -0.75), None)),)),
        applies=implicit_checked_before_weights,
    ),
    Deviation(
        id="torch-func-unchecked-custom-grad-of-constant-input",
        reason="a custom Function's gradient for an input that does not depend on what the "
               "transform differentiates is discarded unchecked (a wrong shape or count passes), "
               "where eager torch checks the gradient of every input that requires grad",
        program=Program(
            dtype="float64", leaves=leaves(("a", (2,), (0.5, -0.75), True), ("c", (), (0.25,), True)),
            functions=(FunctionSpec("Fn0", 2, (("sin", (0,)),), (),
                                    (GradRule((Term(0, ("one",)),)), GradRule(())),
                                    grad_shape_error=True),),
            steps=(CallFunction(("f1",), "Fn0", ("a", "c")),),
            plan=(Grad(("f1",), ("c",), ((1.0, 1.0),)),)),
        applies=_unchecked_custom_grad_of_constant_input,
    ),
] + [d for d in load("torch") if d.id in EAGER] + [
    replace(d, applies=d.applies.on("torch-func")) for d in load("torch") if d.id in KERNELS]
