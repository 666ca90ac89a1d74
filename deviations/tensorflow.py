"""Known differences between TensorFlow (tf.GradientTape, tf.custom_gradient, eager) and the
reference (torch's semantics). The first ones follow from TF differentiating what a tape
recorded: there is no graph to ask whether an input was used or whether a root requires
grad, and a source the targets do not reach gets None (UnconnectedGradients.NONE) where
torch raises. The others are TF's own conventions: the default output gradient is ones
whatever the target's shape, the tape checks neither the shapes of output gradients nor those
a custom grad_fn returns, and it calls no grad_fn that no gradient reached. The plan runs over
one recorded tape (gradspec/adapter.py's recorded forward): a tape answers one gradient call
unless persistent, then keeps everything; and it runs the gradient functions of every op
between the targets and any watched tensor. Four are engine bugs (a SystemError, a
half-released tape after a failed call, and two crashes the adapter keeps away), with
scripts in findings/tensorflow/.
"""
import functools

import numpy as np

from harness.deviations import (Deviation, differences_that_vanish, engine_action,
                                functional_deviations, message_says, never,
                                no_error_for_root_without_grad, no_error_for_unused_input,
                                nothing_returned, raised_instead, reference_raised,
                                reference_shapes)
from gradspec.interpreter import recorded_persistent, recorded_sources
from gradspec.program import (Backward, CallFunction, FunctionSpec, Grad, GradRule, GradStep,
                              Leaf, Op, Program, Term)


def _all_none(values):
    return isinstance(values, tuple) and all(v is None for v in values)


def _action(program, m):
    return program.plan[m.action] if 0 <= m.action < len(program.plan) else None


def _wrong_shaped_weight(program, action):
    """Does `action` give a root a weight whose shape differs from the root's?"""
    if not isinstance(action, (Backward, Grad)):
        return False
    shapes = reference_shapes(program)
    roots = action.roots if isinstance(action, Backward) else action.outputs
    return any(w is not None and r in shapes and np.shape(w) != shapes[r]
               for r, w in zip(roots, action.weights))


def _bad_custom_shape(program):
    return any(spec.grad_shape_error for spec in program.functions)


def _bad_custom_count(program):
    return any(spec.extra_grads for spec in program.functions)


# What an op's gradient function (or the sum of two gradients, AddN) raises on a gradient
# of the wrong shape: TF's kernels check shapes, the tape does not.
_KERNEL_SHAPE_ERRORS = ("unexpected InvalidArgumentError",)


def _root_without_grad(program, m):
    """torch raised no_grad_fn; TF ran, and gave None (unconnected) for every source."""
    if m.kind == "returned" and reference_raised(program, m.action, "no_grad_fn"):
        return nothing_returned(m.expected) and _all_none(m.actual)
    return no_error_for_root_without_grad(program, m)


def _gradients_after(program, m, kind):
    """A gradient the candidate gave where the reference, having raised `kind`, has none."""
    return m.kind in ("grad", "returned") and reference_raised(program, m.action, kind)


def _implicit_grad_sums(program, m):
    """torch raised nonscalar_implicit_grad; TF has no such check: it ran, or went on to an
    error the program provokes later (a custom backward's wrong count, a wrong shape)."""
    if m.kind != "error":
        return _gradients_after(program, m, "nonscalar_implicit_grad")
    if m.expected != "nonscalar_implicit_grad":
        return False
    action = _action(program, m)
    return (m.actual is None
            or m.actual == "custom_grad_count" and _bad_custom_count(program)
            or m.actual in _KERNEL_SHAPE_ERRORS and (
                _wrong_shaped_weight(program, action) or _bad_custom_shape(program)))


def _unchecked_weight_shape(program, m):
    """torch raised grad_shape_mismatch; TF ran (a gradient of some shape), or an op's
    gradient function failed on the weight, or it went on to a custom backward's wrong count."""
    if m.kind != "error":
        return _gradients_after(program, m, "grad_shape_mismatch")
    return (m.expected == "grad_shape_mismatch"
            and (m.actual is None or m.actual in _KERNEL_SHAPE_ERRORS
                 or m.actual == "custom_grad_count" and _bad_custom_count(program))
            and _wrong_shaped_weight(program, _action(program, m)))


def _unchecked_custom_shape(program, m):
    """A custom backward returned a gradient of the wrong shape: torch raises (or sums it
    down to a one-element input); TF passes it on, to a wrong-shaped gradient, or a kernel's
    error, or a later custom backward's error, or nothing where no later op needs the shapes
    to agree."""
    if not _bad_custom_shape(program):
        return False
    if m.kind == "error":  # a kernel's error also where torch, having summed the gradient
        # down, met a later error (e.g. unused_input); or TF went on to another custom
        # backward's wrong count
        return (m.actual in _KERNEL_SHAPE_ERRORS
                or m.actual is None and m.expected in ("custom_grad_shape", None)
                or m.actual == "custom_grad_count" and m.expected == "custom_grad_shape"
                and _bad_custom_count(program))
    return m.kind in ("grad", "returned")


def _returns_none(program):
    """Does a custom backward return None for some input (a rule without terms)?"""
    return any(not rule.terms for spec in program.functions for rule in spec.backward)


def _unreached_custom_backward(program, m):
    """torch calls a custom backward with zeros where no gradient reached its outputs (a
    later custom backward returned None): its inputs get zeros, or its wrong count raises.
    TF's tape does not call a grad_fn that nothing reached: None, and no error."""
    if not _returns_none(program):
        return False
    if m.kind == "error":
        return m.expected == "custom_grad_count" and m.actual is None \
            and _bad_custom_count(program)
    if _gradients_after(program, m, "custom_grad_count"):
        return True
    return (m.kind in ("grad", "returned") and m.actual is None and m.expected is not None
            and not np.any(np.asarray(m.expected)))


def _systemerror_on_failed_aggregation(program, m):
    """TF raised SystemError where summing two gradients of different shapes failed ahead of
    a custom_gradient (findings/tensorflow/systemerror-on-failed-aggregation.py), or raised
    nothing: the Python error indicator the tape leaves set is sometimes cleared before any
    call checks it (in a process that ran other TF programs first; the suites' runs met
    both), and the failure is lost."""
    return (m.kind == "error" and m.actual in ("unexpected SystemError", None)
            and bool(program.functions) and m.expected is not None
            and (_wrong_shaped_weight(program, _action(program, m))
                 or _bad_custom_shape(program)))


def _raised_on_tensorflow(program, action, kind):
    """Did TF itself raise `kind` at plan[action]? (Its trace, run once per program.)"""
    from adapters.tensorflow_adapter import TensorFlowAdapter
    result = engine_action(program, TensorFlowAdapter, action)
    return result is not None and result.error == kind


def _gradient_calls_before(program, action):
    """How many gradient calls (Backward, Grad) the recording answered before plan[action]."""
    return sum(isinstance(a, (Backward, Grad)) for a in program.plan[:max(action, 0)])


_ONCE = "non-persistent GradientTape can only be used"


def _tape_answers_once(program, m):
    """The tape is not persistent (no action retains the graph): TF raised graph_freed on a
    later gradient call, before checking anything else, where torch ran (that call went
    through no node whose saved tensors the earlier call freed) or raised another error
    (its checks of the call's arguments come first), and returned nothing there."""
    if recorded_persistent(program) or not _gradient_calls_before(program, m.action):
        return False
    if m.kind == "error":
        return m.expected != "graph_freed" and raised_instead(m, m.expected, "graph_freed") \
            and message_says(m, _ONCE)
    return m.kind in ("grad", "returned") and reference_raised(program, m.action, None) \
        and _raised_on_tensorflow(program, m.action, "graph_freed")


def _persistent_tape_kept(program, m):
    """The tape is persistent (an action retains the graph): it keeps everything it recorded
    for the whole plan, so a gradient call after one without retain_graph, where torch
    raised graph_freed, ran and returned gradients (or met the next error the program
    provokes, as torch would with the graph kept)."""
    if not recorded_persistent(program) or not _gradient_calls_before(program, m.action):
        return False
    if m.kind == "error":
        return m.expected == "graph_freed" and m.actual != "graph_freed"
    return m.kind in ("grad", "returned") and reference_raised(program, m.action, "graph_freed")


def _runs_past_sources(program, m):
    """A Grad whose sources are not all the watched leaves (some others are watched, or some
    sources are intermediate values): TF also ran the gradient functions on the paths to the
    other watched tensors (or before the sources), and one of those failed as it was made to
    (a custom backward's wrong count or shape), where torch, which runs only what leads to
    the inputs, raised nothing or its own checks' error first (so nothing was returned)."""
    action = program.plan[m.action] if 0 <= m.action < len(program.plan) else None
    if not isinstance(action, Grad):
        return False
    leaves = {leaf.name for leaf in program.all_leaves()}
    if set(action.inputs) <= leaves and set(recorded_sources(program)) <= set(action.inputs):
        return False
    provoked = [kind for kind, made in (("custom_grad_count", _bad_custom_count(program)),
                                        ("unexpected InvalidArgumentError",
                                         _bad_custom_shape(program))) if made]
    if m.kind == "error":
        return m.actual in provoked and m.expected != m.actual
    if m.kind != "returned" or not reference_raised(program, m.action, None):
        return False
    return any(_raised_on_tensorflow(program, m.action, kind) for kind in provoked)


def _gelu_exact(args, params):
    x = args[0]
    if params["approximate"] == "tanh":
        return (f"0.5 * {x} * (1.0 + tf.math.tanh(0.7978845608028654 * "
                f"({x} + 0.044715 * tf.math.pow({x}, 3.0))))")
    return f"0.5 * {x} * tf.math.erfc(-{x} * 0.7071067811865476)"


@functools.lru_cache(maxsize=1)
def _exact_constants():
    """TF with gelu's and leaky_relu's constants in the operand's dtype (a Python float times
    a float64 tensor is a float64 constant): the one behaviour the two float32-constant
    deviations state, changed. Everything else is the adapter's."""
    from adapters.tensorflow_adapter import TF_TEMPLATES, TensorFlowAdapter
    from adapters.templates import TemplateOps
    templates = dict(TF_TEMPLATES, gelu=_gelu_exact,
                     leaky_relu="tf.where({0} > 0, {0}, {0} * {negative_slope})")

    class ExactConstants(TensorFlowAdapter):
        def __init__(self):
            super().__init__()
            self._ops = TemplateOps(templates, self._helpers)
    return ExactConstants


def _float32_constant(op):
    """A float64 program using `op`: the differences that vanish where gelu's and
    leaky_relu's constants are float64 (`_exact_constants`)."""
    def applies(program, m):
        if program.dtype != "float64" or op not in program.requirements()[0]:
            return False
        from adapters.tensorflow_adapter import TensorFlowAdapter
        return m.where in differences_that_vanish(program, TensorFlowAdapter, _exact_constants())
    return applies


_NO_SOFTSIGN_GRAD_GRAD = "gradient registry has no entry for: SoftsignGrad"


def _softsign_no_second_order(program, m):
    """A program differentiating through softsign's gradient (a gradient used as a value): TF
    raised LookupError there (SoftsignGrad has no gradient) where torch ran, and so returned
    no gradients for that action."""
    if "softsign" not in program.requirements()[0]:
        return False
    if m.kind == "error":
        return m.actual == "unexpected LookupError" and message_says(m, _NO_SOFTSIGN_GRAD_GRAD)
    return m.kind in ("grad", "returned") and reference_raised(program, m.action, None) \
        and _raised_on_tensorflow(program, m.action, "unexpected LookupError")


_SHARED = {d.id: d for d in functional_deviations("tensorflow", "tape.gradient")}

DEVIATIONS = [
    Deviation(
        id="tensorflow-no-error-for-root-without-grad",
        reason="a root that depends on no watched source (detached, computed under "
               "stop_recording, or from leaves that are not sources) gets None gradients "
               "(unconnected) from tape.gradient, where torch raises (the root does not "
               "require grad)",
        program=_SHARED["tensorflow-no-error-for-root-without-grad"].program,
        applies=_root_without_grad,
    ),
    Deviation(
        id="tensorflow-no-error-for-unused-input",
        reason="tape.gradient w.r.t. a source the targets do not use returns None for it "
               "(UnconnectedGradients.NONE), where torch's autograd.grad raises without "
               "allow_unused=True",
        program=_SHARED["tensorflow-no-error-for-unused-input"].program,
        applies=no_error_for_unused_input,
    ),
    Deviation(
        id="tensorflow-implicit-grad-sums",
        reason="tape.gradient without output_gradients starts every target from ones, so a "
               "non-scalar root's gradient is its sum's (documented); torch raises for an "
               "implicit gradient of a root with more than one element",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2,), (0.5, -0.75)),),
            steps=(Op("t1", "scale", ("a",), (("c", 2.0),)),),
            plan=(Backward(("t1",), (None,)),),
        ),
        applies=_implicit_grad_sums,
    ),
    Deviation(
        id="tensorflow-unchecked-weight-shape",
        reason="tape.gradient does not check an output gradient's shape against its target's: "
               "it is passed to the op's gradient function, which broadcasts it or fails, "
               "where torch raises",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2,), (0.5, -0.75)),),
            steps=(Op("t1", "scale", ("a",), (("c", 2.0),)),),
            plan=(Backward(("t1",), (((1.0, 2.0), (3.0, 4.0)),)),),
        ),
        applies=_unchecked_weight_shape,
    ),
    Deviation(
        id="tensorflow-unchecked-custom-grad-shape",
        reason="tf.custom_gradient passes on whatever its grad_fn returns for an input: a "
               "gradient of the wrong shape reaches the input (or fails in a later kernel), "
               "where torch raises (or sums it down to a one-element input)",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2,), (0.5, -0.75)),),
            functions=(FunctionSpec("Fn0", 1, (("sin", (0,)),), (),
                                    (GradRule((Term(0, ("one",)),)),), grad_shape_error=True),),
            steps=(CallFunction(("f1",), "Fn0", ("a",)),),
            plan=(Backward(("f1",), ((1.0, 1.0),)),),
        ),
        applies=_unchecked_custom_shape,
    ),
    Deviation(
        id="tensorflow-unreached-custom-grad-not-called",
        reason="the tape does not call a custom grad_fn whose outputs no gradient reached "
               "(a later custom gradient returned None): its inputs get None and a wrong "
               "gradient count goes unnoticed; torch calls the backward with zeros (so zero "
               "gradients, or its error)",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (), (0.5,)),),
            functions=(FunctionSpec("Fn0", 1, (("sign", (0,)),), (), (GradRule(()),),
                                    extra_grads=1),
                       FunctionSpec("Fn1", 1, (("sign", (0,)),), (), (GradRule(()),))),
            steps=(CallFunction(("f1",), "Fn0", ("a",)), CallFunction(("f2",), "Fn1", ("f1",))),
            plan=(Backward(("f2",), (None,)),),
        ),
        applies=_unreached_custom_backward,
    ),
    Deviation(
        id="tensorflow-tape-answers-once",
        reason="a tape that is not persistent (torch: no retain_graph=True) answers one "
               "gradient call: the second raises RuntimeError (graph_freed) even where torch's "
               "second call goes through no node whose saved tensors the first one freed "
               "(a part of the graph the first call did not reach, or ops that save nothing)",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (), (0.5,)),),
            steps=(Op("t1", "add", ("a", "a")),),
            plan=(Grad(("t1",), ("a",), (None,)), Grad(("t1",), ("a",), (None,))),
        ),
        applies=_tape_answers_once,
    ),
    Deviation(
        id="tensorflow-persistent-tape-never-freed",
        reason="a persistent tape (torch: retain_graph=True on some call) keeps what it "
               "recorded until it is deleted: a gradient call after one without retain_graph "
               "still works, where torch freed the saved tensors and raises graph_freed",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (), (0.5,)),),
            steps=(Op("t1", "mul", ("a", "a")),),
            plan=(Grad(("t1",), ("a",), (None,), True), Grad(("t1",), ("a",), (None,)),
                  Grad(("t1",), ("a",), (None,))),
        ),
        applies=_persistent_tape_kept,
    ),
    Deviation(
        id="tensorflow-gradient-runs-past-sources",
        reason="tape.gradient runs the gradient function of every recorded op between the "
               "targets and any watched tensor, past the sources asked for (the ops that "
               "computed an intermediate source, the paths to other watched leaves), so their "
               "errors (a custom grad_fn's wrong count) surface where torch, which runs only "
               "what leads to the inputs, raises nothing",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (), (0.5,)),),
            functions=(FunctionSpec("Fn0", 1, (("sin", (0,)),), (),
                                    (GradRule((Term(0, ("one",)),)),), extra_grads=1),),
            steps=(CallFunction(("f1",), "Fn0", ("a",)), Op("t2", "neg", ("f1",))),
            plan=(Grad(("t2",), ("f1",), (None,)),),
        ),
        applies=_runs_past_sources,
    ),
    Deviation(
        id="tensorflow-failed-gradient-leaves-tape-invalid",
        reason="engine bug: after a gradient call of a non-persistent tape fails midway (an "
               "op's gradient function raised), the next call raises InternalError (\"Internal "
               "state of the gradient tape is invalid\"), returns None or wrong gradients from "
               "the half-released tape, or crashes, not the tape's RuntimeError; the adapter "
               "rejects a call after a failed one on such a tape (UnsupportedProgram)",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (), (0.5,)),),
            functions=(FunctionSpec("Fn0", 1, (("sign", (0,)),), (), (GradRule(()),),
                                    extra_grads=1),),
            steps=(CallFunction(("f1",), "Fn0", ("a",)),),
            plan=(Grad(("f1",), ("a",), (None,)), Grad(("f1",), ("a",), (None,))),
        ),
        applies=never,
        finding="findings/tensorflow/failed-gradient-leaves-tape-invalid.py",
    ),
    Deviation(
        id="tensorflow-aggregation-at-source-segfault",
        reason="engine bug (crash): where the gradients summed at an intermediate (non-leaf) "
               "source have different shapes (a wrongly shaped output gradient or custom "
               "gradient), tape.gradient kills the process with SIGSEGV instead of raising "
               "InvalidArgumentError; the adapter rejects such calls (UnsupportedProgram)",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (1,), (0.5,)),),
            steps=(Op("t1", "neg", ("a",)), Op("t2", "neg", ("t1",))),
            plan=(Grad(("t2", "t1"), ("t1",), ((-1.0,), ((0.5, -0.75),))),),
        ),
        applies=never,
        finding="findings/tensorflow/aggregation-at-source-segfault.py",
    ),
    Deviation(
        id="tensorflow-systemerror-on-failed-aggregation",
        reason="engine bug: where the sum of a custom_gradient output's gradients fails (two "
               "weights of different shapes), tape.gradient raises a bare SystemError (\"returned "
               "a result with an exception set\") instead of the InvalidArgumentError, or, in a "
               "process that ran other TF code first, sometimes no error at all",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2,), (0.5, -0.75)),),
            functions=(FunctionSpec("Fn0", 1, (("sign", (0,)),), (), (GradRule(()),)),),
            steps=(CallFunction(("f1",), "Fn0", ("a",)),),
            plan=(Backward(("f1", "f1"), ((1.0, 1.0), ((0.5, -0.75), (1.0, -1.25)))),),
        ),
        applies=_systemerror_on_failed_aggregation,
        finding="findings/tensorflow/systemerror-on-failed-aggregation.py",
    ),
    Deviation(
        id="tensorflow-none-output-gradient",
        reason="engine bug (crash): a None entry in tape.gradient's output_gradients, the "
               "implicit gradient of one target among weighted ones, aborts the process "
               "(Check failed: gradient_tensors[i] != Py_None) or reaches a gradient function "
               "as None; the adapter rejects such programs (UnsupportedProgram)",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (), (0.5,)),),
            steps=(Op("t1", "neg", ("a",)),),
            plan=(Backward(("t1", "t1"), (-1.0, None)),),
        ),
        applies=never,
        finding="findings/tensorflow/none-output-gradient.py",
    ),
    Deviation(
        id="tensorflow-gelu-float32-constant",
        reason="engine bug: tf.nn.gelu writes its constants as math_ops.cast(0.7071067811865476, "
               "dtype) (and 0.044715 with approximate=True), which goes through float32 first: "
               "a float64 gelu and its gradient are off by up to ~4e-8 relative",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2,), (-1.38, 0.7)),),
            steps=(Op("t1", "gelu", ("a",), (("approximate", "none"),)),),
            plan=(Backward(("t1",), ((1.0, 1.0),)),),
        ),
        applies=_float32_constant("gelu"),
        finding="findings/tensorflow/gelu-float32-constant.py",
    ),
    Deviation(
        id="tensorflow-leaky-relu-float32-alpha",
        reason="tf.nn.leaky_relu's alpha is the LeakyRelu op's `float` attribute (32 bits, "
               "its op definition): in float64 the slope is float32's rounding of it (0.2 -> "
               "0.200000003), so values and gradients where x < 0 are off by ~1.5e-8 relative",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2,), (-1.49, 0.7)),),
            steps=(Op("t1", "leaky_relu", ("a",), (("negative_slope", 0.2),)),),
            plan=(Backward(("t1",), ((1.0, 1.0),)),),
        ),
        applies=_float32_constant("leaky_relu"),
    ),
    Deviation(
        id="tensorflow-softsign-no-second-order",
        reason="tf.nn.softsign's gradient op, SoftsignGrad, has no registered gradient: "
               "differentiating a gradient through softsign raises LookupError (torch's "
               "softsign is composite and twice differentiable)",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (), (0.5,)),),
            steps=(Op("t1", "softsign", ("a",)), GradStep(("g2",), ("t1",), ("a",), (None,))),
            plan=(Backward(("g2",), (None,)),),
        ),
        applies=_softsign_no_second_order,
    ),
]
