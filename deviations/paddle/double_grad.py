"""Paddle's differences in gradients taken with create_graph=True (paddle.grad, then a
backward through its result): the double-grad kernels, and what they connect. Part of
deviations/paddle.py."""
import functools

from harness.deviations import (Deviation, action_roots, is_zero, leaves, message_says, never,
                                nothing_returned, raised_instead)
from gradspec.program import Backward, Grad, GradStep, Op, Program

from ._common import A, _action_differs, _at, _downstream, _paddle_trace, _reference_env


def _no_double_grad(program, m):
    """An op without a grad-of-grad kernel under create_graph=True: Paddle raises (in the
    forward, for a GradStep; in the plan, for a grad(create_graph=True))."""
    def missing(m):
        return m.actual == "unexpected RuntimeError" and "doesn't have any grad op" in m.message
    if m.kind == "error" and m.action < 0:
        return m.expected is None and missing(m)
    return _action_differs(
        program, m, lambda i, e, a: isinstance(program.plan[i], Grad)
        and program.plan[i].create_graph and e is None and a == "unexpected RuntimeError",
        lambda m: m.expected is None and missing(m))


@functools.lru_cache(maxsize=256)
def _reference_trace(program):
    from gradspec.reference_adapter import ReferenceAdapter
    from gradspec.interpreter import run
    return run(program, ReferenceAdapter())


def _all_zero(value):
    return value is not None and not isinstance(value, tuple) and is_zero(value, "float64")


def _double_grad_drops_zero_terms(program, m):
    """A gradient computed with create_graph=True (a GradStep) that torch connects to an
    input through a zero derivative (abs's sign, relu's mask): Paddle's graph does not, so
    the reference's zeros are Paddle's None, and Paddle's grad raises unused_input."""
    steps = [s for s in program.steps if isinstance(s, GradStep)]
    if not steps:
        return False
    if m.kind == "error" and m.action < 0:  # in a GradStep
        env = _reference_env(program)
        return raised_instead(m, None, "unused_input") and any(
            _all_zero(env.get(o)) for s in steps for o in s.outs)
    if m.kind == "returned" and nothing_returned(m.actual) or m.kind == "error":
        # Paddle's grad (a plan action) raised unused_input where the reference returned zeros
        return _at(program, m, lambda i, e, a: isinstance(program.plan[i], Grad)
                   and e is None and a == "unused_input") and \
            (m.kind == "returned" or raised_instead(m, None, "unused_input")) and any(
                _all_zero(g) for g in _reference_trace(program).actions[m.action].returned or ())
    return m.kind in ("grad", "returned") and _all_zero(m.expected) and m.actual is None


def _double_grad_zeros_for_unconnected(program, m):
    """After a gradient taken with create_graph=True (a GradStep): zeros where torch has None
    for an input its graph does not connect (the gradient of a*b w.r.t. b is a, not b):
    Paddle's double-grad nodes (multiply_double_grad, matmul_double_grad) give every input of
    the first-order op a gradient; and so no unused_input error for it."""
    if not any(isinstance(s, GradStep) for s in program.steps):
        return False
    if m.kind in ("grad", "returned", "retained"):
        if m.expected is None and _all_zero(m.actual):
            return True
    if not _at(program, m, lambda i, e, a: isinstance(program.plan[i], Grad)
               and e == "unused_input" and a is None):
        return False
    returned = _paddle_trace(program).actions[m.action].returned or ()
    if not any(_all_zero(g) for g in returned):
        return False
    if m.kind == "error":
        return raised_instead(m, "unused_input", None)
    return m.kind in ("returned", "retained")


def _pow_double_grad_needs_dx(program, m):
    """Paddle's pow double-grad kernel fails ('The output DenseTensor DX can not be nullptr')
    where the gradient of a pow gradient is asked w.r.t. tensors reached only through its
    incoming gradient: the error (in a GradStep, or at a plan action) and what that action
    left different."""
    if not any(isinstance(s, Op) and s.op == "pow" for s in program.steps):
        return False
    def says(m):
        return raised_instead(m, None, "RuntimeError") and message_says(
            m, "DX can not be nullptr")
    if m.kind == "error" and m.action < 0:
        return says(m)
    trace = _paddle_trace(program)
    return _action_differs(program, m, lambda i, e, a: e is None and a == "unexpected "
                           "RuntimeError" and "DX can not be nullptr" in
                           trace.actions[i].message, says)


def _create_graph_results_require_grad(program, m):
    """A GradStep's result (paddle.grad with create_graph=True) that torch leaves without
    requires_grad (it depends on nothing that requires grad): Paddle marks it, and what is
    computed from it."""
    made = _downstream(program, {o for s in program.steps if isinstance(s, GradStep)
                                 for o in s.outs})
    if m.kind == "error" and 0 <= m.action < len(program.plan):
        # a backward from such values only: torch says they do not require grad
        action = program.plan[m.action]
        return (raised_instead(m, "no_grad_fn", None) or raised_instead(
            m, "no_grad_fn", "graph_freed")) and isinstance(action, (Backward, Grad)) \
            and set(action_roots(action)) <= made
    return m.kind == "requires_grad" and m.expected is False and m.actual is True and \
        m.name in made


def _stack_double_grad_empty_slot(program, m):
    """At a backward through the gradient (create_graph=True) of a stack or cat: SystemError
    'Unable to fill empty grad inputs due to empty GradSlotMeta' (Stack/ConcatDoubleGradNode,
    an input of the stack stopping gradient), and what that action left different."""
    if not (any(isinstance(s, GradStep) for s in program.steps) and any(
            isinstance(s, Op) and s.op in ("stack", "cat") for s in program.steps)):
        return False
    trace = _paddle_trace(program)
    return _action_differs(
        program, m, lambda i, e, a: e is None and a == "unexpected SystemError"
        and "empty GradSlotMeta" in trace.actions[i].message,
        lambda m: raised_instead(m, None, "SystemError") and message_says(m, "empty GradSlotMeta"))


DEVIATIONS = [
    Deviation(
        id="paddle-no-double-grad-for-some-ops",
        reason="some ops have no grad-of-grad kernel (reciprocal_grad, ...): a gradient taken "
               "with create_graph=True through them raises 'doesn't have any grad op'; torch "
               "differentiates every op's backward",
        program=Program(dtype="float64", leaves=leaves(A),
                        steps=(Op("t1", "reciprocal", ("a",)),
                               GradStep(("g2",), ("t1",), ("a",), (None,)),
                               Op("t3", "neg", ("g2",))),
                        plan=(Backward(("t3",), (None,)),)),
        applies=_no_double_grad,
    ),
    Deviation(
        id="paddle-double-grad-drops-zero-terms",
        reason="a gradient taken with create_graph=True through an op whose derivative has a "
               "zero derivative (abs: sign(x), relu: its mask) does not depend on x in "
               "Paddle's graph (abs_double_grad has no x gradient): a .grad that torch fills "
               "with zeros through it stays None, and paddle.grad w.r.t. x raises unused_input",
        program=Program(dtype="float64", leaves=leaves(("a", (2,), (0.5, -1.25), True)),
                        steps=(Op("t1", "abs", ("a",)),
                               GradStep(("g2",), ("t1",), ("a",), ((1.0, -1.0),)),
                               Op("t3", "sum", ("g2",), (("dim", (0,)), ("keepdim", False)))),
                        plan=(Backward(("t3",), (None,)),)),
        applies=_double_grad_drops_zero_terms,
    ),
    Deviation(
        id="paddle-create-graph-results-require-grad",
        reason="paddle.grad(create_graph=True) returns gradients with stop_gradient=False even "
               "where they depend on nothing that requires grad (the gradient of a reshape is "
               "the reshaped weight); torch's do not require grad there",
        program=Program(dtype="float64", leaves=leaves(("a", (1,), (0.5,), True)),
                        steps=(Op("t1", "reshape", ("a",), (("shape", (1, 1)),)),
                               GradStep(("g2",), ("t1",), ("a",), (((-1.0,),),)),
                               Op("t3", "sum", ("t1",), (("dim", (0, 1)), ("keepdim", False)))),
                        plan=(Backward(("t3",), (None,)),)),
        applies=_create_graph_results_require_grad,
    ),
    Deviation(
        id="paddle-double-grad-zeros-for-unconnected",
        reason="Paddle's double-grad nodes (multiply_double_grad, matmul_double_grad) give "
               "every input of the first-order op a gradient: after a gradient taken with "
               "create_graph=True, an input it does not depend on (b, of the gradient a of a*b "
               "w.r.t. b) gets .grad zeros (and paddle.grad zeros, not unused_input); torch "
               "does not connect it (None)",
        program=Program(dtype="float64", leaves=leaves(A, ("b", (), (-1.25,), True)),
                        steps=(Op("t1", "mul", ("a", "b")),
                               GradStep(("g2",), ("t1",), ("b",), (None,))),
                        plan=(Backward(("g2",), (None,)),)),
        applies=_double_grad_zeros_for_unconnected,
    ),
    Deviation(
        id="paddle-pow-double-grad-needs-dx",
        reason="BUG: the gradient of a pow gradient (create_graph=True) w.r.t. a tensor reached "
               "only through its incoming gradient raises RuntimeError 'The output DenseTensor "
               "DX can not be nullptr' (pow's double-grad kernel needs its x output); torch "
               "returns it",
        program=Program(dtype="float64", leaves=leaves(A, ("b", (), (3.0,), True)),
                        steps=(Op("t1", "pow", ("a",), (("exponent", 2.0),)),
                               Op("t2", "mul", ("t1", "b")),
                               GradStep(("g3",), ("t2",), ("a",), (None,)),
                               GradStep(("g4",), ("g3",), ("b",), (None,))),
                        plan=(Backward(("g4",), (None,)),)),
        applies=_pow_double_grad_needs_dx,
        finding="findings/paddle/pow-double-grad-needs-dx.py",
    ),
    Deviation(
        id="paddle-stack-double-grad-empty-slot",
        reason="BUG: a backward through a gradient taken with create_graph=True through "
               "paddle.stack or paddle.concat, one of whose inputs stops gradient, raises "
               "SystemError 'Unable to fill empty grad inputs due to empty GradSlotMeta' "
               "(Stack/ConcatDoubleGradNode); torch runs it",
        program=Program(dtype="float64", leaves=leaves(A, ("b", (), (-1.25,), False)),
                        steps=(Op("t1", "mul", ("a", "a")),
                               Op("t2", "stack", ("t1", "b"), (("dim", 0),)),
                               GradStep(("g3",), ("t2",), ("a",), ((1.0, -1.0),))),
                        plan=(Backward(("g3",), (None,)),)),
        applies=_stack_double_grad_empty_slot,
        finding="findings/paddle/stack-double-grad-empty-slot.py",
    ),
    Deviation(
        id="paddle-view-double-grad-segfault",
        reason="BUG (crash): a backward through a gradient taken with create_graph=True "
               "through paddle.unsqueeze, paddle.squeeze or paddle.transpose (swapaxes) "
               "segfaults the process in its double-grad node (Unsqueeze/Squeeze/"
               "TransposeDoubleGradNode) where no path past that node leads to a leaf (the "
               "gradient weight stops gradient); torch runs it; the adapter rejects such "
               "backward calls",
        program=Program(dtype="float64", leaves=leaves(("a", (1,), (0.5,), True)),
                        steps=(Op("t1", "unsqueeze", ("a",), (("dim", 0),)),
                               GradStep(("g2",), ("t1",), ("a",), (((-1.0,),),)),
                               Op("t3", "mul", ("g2", "g2")),
                               Op("t4", "add", ("t1", "t3")),
                               Op("t5", "sum", ("t4",), (("dim", (0, 1)), ("keepdim", False)))),
                        plan=(Backward(("t5",), (None,)),)),
        applies=never,
        finding="findings/paddle/view-double-grad-segfault.py",
    ),
]
