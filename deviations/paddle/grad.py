"""Paddle's differences in paddle.grad: what it checks before running the backward (which
inputs its outputs reach, not which got a gradient), the errors it raises, and what it leaves
of the graph after it. Part of deviations/paddle.py."""
from harness.deviations import (Deviation, leaves, message_says, nothing_returned, raised_instead,
                                 reference_errors)
from gradspec.program import (Backward, CallFunction, FunctionSpec, Grad, GradRule, MultiOp, Op,
                              Program, Term)
from gradspec.vocabulary import INDEXED

from ._common import A, STATE, _action_differs, _at, _paddle_errors, _upstream


def _output_as_input(program, m):
    # cut there, the graph beyond never runs: nor its errors (a PyLayer's custom_grad_count)
    return _action_differs(
        program, m, lambda i, e, a: isinstance(program.plan[i], Grad)
        and bool(set(program.plan[i].outputs) & set(program.plan[i].inputs)),
        lambda m: m.actual in ("unused_input", None) and m.expected != "unused_input")


def _grad_keeps_graph(program, m):
    """No graph_freed after a paddle.grad that should have freed the graph (retain_graph not
    True, no create_graph), and what the backward that ran left different."""
    def after_grad(i):
        return any(isinstance(a, Grad) and not a.retain_graph and not a.create_graph
                   for a in program.plan[:i])
    def unreached(i):  # the graph kept, paddle.grad goes on to its unused-input check
        action = program.plan[i]
        return isinstance(action, Grad) and not set(action.inputs) <= _upstream(
            program, action.outputs)
    return _action_differs(
        program, m, lambda i, e, a: e == "graph_freed" and after_grad(i) and (
            a is None or (a == "unused_input" and unreached(i))),
        lambda m: raised_instead(m, "graph_freed", None) or raised_instead(
            m, "graph_freed", "unused_input"))


def _grad_of_no_grad_root(program, m):
    """paddle.grad of an output that stops gradient: 'input does not appear in the backward
    graph' (unused_input) where torch says the output does not require grad (no_grad_fn)."""
    if not (0 <= m.action < len(program.plan) and isinstance(program.plan[m.action], Grad)):
        return False
    if m.kind == "returned":  # allow_unused=True: None for each input
        return (reference_errors(program)[m.action] == "no_grad_fn"
                and isinstance(m.actual, tuple) and all(g is None for g in m.actual))
    return raised_instead(m, "no_grad_fn", "unused_input") or (
        raised_instead(m, "no_grad_fn", None) and program.plan[m.action].allow_unused)


def _unused_checked_first(program, m):
    """paddle.grad with an input its outputs do not reach raises unused_input before running
    the backward; torch runs it first, so an error the backward raises (a custom Function's
    gradient count or shape) comes first."""
    def refused(i, e, a):
        action = program.plan[i]
        return isinstance(action, Grad) and e not in (None, "unused_input") and \
            a == "unused_input" and not set(action.inputs) <= _upstream(program, action.outputs)
    return _action_differs(program, m, refused, lambda m: m.actual == "unused_input")


def _input_no_grad_is_unused(program, m):
    return m.kind == "error" and m.expected == "input_no_grad" and m.actual == "unused_input"


def _may_return_none(spec):
    return not spec.materialize_grads or any(not rule.terms for rule in spec.backward)


def _reachable_none_is_no_error(program, m):
    """paddle.grad without allow_unused raises only for an input the graph does not reach: a
    reached input whose gradient a PyLayer backward returned None for gets None, where torch
    raises (the input was not used)."""
    if not any(_may_return_none(f) for f in program.functions) or not _at(
            program, m, lambda i, e, a: isinstance(program.plan[i], Grad)
            and e == "unused_input" and a is None):
        return False
    if m.kind == "error":
        return raised_instead(m, "unused_input", None)
    if m.kind == "returned":
        return nothing_returned(m.expected) and isinstance(m.actual, tuple) and \
            any(g is None for g in m.actual)
    return m.kind == "retained"


def _multi_outputs(program):
    """Values that are one of several differentiable outputs of one grad node."""
    return {o for s in program.steps
            if (isinstance(s, MultiOp) and s.op not in INDEXED) or isinstance(s, CallFunction)
            if len(s.outs) > 1 for o in s.outs}


def _grad_wrt_later_output(program, m):
    """At a paddle.grad whose inputs include an output of a multi-output node: Paddle raised
    SystemError (GradTensorHolder::add()), or returned None where the reference has a
    gradient, or a gradient (another output's) where the reference says the input is unused;
    and what that action left different."""
    def wrt_multi(i, e, a):
        action = program.plan[i]
        return isinstance(action, Grad) and bool(set(action.inputs) & _multi_outputs(program)) \
            and a in (None, "unexpected SystemError")
    if not _at(program, m, wrt_multi):
        return False
    if m.kind == "error":
        # no unused_input for an input the outputs do not use: a gradient (another output's)
        # or None
        return (raised_instead(m, m.expected, "SystemError") and message_says(
            m, "GradTensorHolder::add()")) or raised_instead(m, "unused_input", None)
    if _paddle_errors(program)[m.action] is None:
        return m.kind == "returned" and (
            (m.actual is None and m.expected is not None) or nothing_returned(m.expected))
    return m.kind in STATE


DEVIATIONS = [
    Deviation(
        id="paddle-input-no-grad-is-unused",
        reason="paddle.grad w.r.t. an input that stops gradient raises the same error as for "
               "one the outputs do not use ('does not appear in the backward graph'); torch "
               "says the input does not require grad",
        program=Program(dtype="float64",
                        leaves=leaves(A, ("b", (), (-1.25,), False)),
                        steps=(Op("t1", "mul", ("a", "b")),),
                        plan=(Grad(("t1",), ("b",), (None,)),)),
        applies=_input_no_grad_is_unused,
    ),
    Deviation(
        id="paddle-grad-checks-unused-inputs-first",
        reason="paddle.grad checks that its outputs reach every input (general_grad) before "
               "running the backward, so an input they do not reach raises 'does not appear "
               "in the backward graph' (unused_input) first; torch runs the backward first and "
               "raises the errors it meets there (a custom Function's wrong gradient count or "
               "shape) before its unused-input check",
        program=Program(dtype="float64", leaves=leaves(A),
                        functions=(FunctionSpec("Fn0", 1, (("sign", (0,)), ("sign", (0,))),
                                                (("input", 0),),
                                                (GradRule((Term(0, ("one",)),
                                                           Term(0, ("one",)))),),
                                                extra_grads=1),),
                        steps=(CallFunction(("f1", "f2"), "Fn0", ("a",)),),
                        plan=(Grad(("f1",), ("a", "f2"), (None,)),)),
        applies=_unused_checked_first,
    ),
    Deviation(
        id="paddle-grad-of-no-grad-root-is-unused",
        reason="paddle.grad of an output that stops gradient raises 'input does not appear in "
               "the backward graph' (unused_input); torch says the output does not require grad",
        program=Program(dtype="float64", leaves=leaves(A),
                        steps=(Op("t1", "neg", ("a",), no_grad=True),),
                        plan=(Grad(("t1",), ("a",), (None,)),)),
        applies=_grad_of_no_grad_root,
    ),
    Deviation(
        id="paddle-grad-reachable-none-is-no-error",
        reason="paddle.grad without allow_unused raises only for an input its outputs do not "
               "reach: an input they reach whose gradient a PyLayer backward returned None for "
               "gets None; torch raises (the input appears not to have been used)",
        program=Program(dtype="float64", leaves=leaves(A),
                        functions=(FunctionSpec("Fn0", 1, (("sign", (0,)),), (),
                                                (GradRule(()),)),),
                        steps=(CallFunction(("f1",), "Fn0", ("a",)),),
                        plan=(Grad(("f1",), ("a",), (None,)),)),
        applies=_reachable_none_is_no_error,
    ),
    Deviation(
        id="paddle-grad-wrt-later-output-fails",
        reason="BUG: paddle.grad with an input that is an output of a multi-output node (split, "
               "unbind, a PyLayer) raises SystemError 'Invalid rank (or slot_id) for "
               "GradTensorHolder::add()' when the outputs reach the node through a later "
               "output, or returns None for the other inputs; where that input is also an "
               "output the process segfaults (the adapter rejects such programs); w.r.t. a "
               "later output the outputs do not use it returns the gradient of the output "
               "they use (torch: the input was not used)",
        program=Program(dtype="float64", leaves=leaves(("a", (2,), (0.5, -1.25), True)),
                        steps=(Op("t1", "scale", ("a",), (("c", 1.0),)),
                               MultiOp(("s2", "s3"), "split", ("t1",),
                                       (("dim", 0), ("split_size", 1))),
                               Op("t4", "neg", ("s3",))),
                        plan=(Grad(("t4",), ("s3",), (None,)),)),
        applies=_grad_wrt_later_output,
        finding="findings/paddle/grad-wrt-later-output-of-multi-output-op.py",
    ),
    Deviation(
        id="paddle-grad-never-frees-graph",
        reason="BUG: paddle.grad with retain_graph False (or None, no create_graph) keeps the "
               "graph, against its documentation ('When it is False, the graph would be "
               "freed'): a later backward through it runs where torch raises",
        program=Program(dtype="float64", leaves=leaves(("a", (2,), (0.5, 2.0), True)),
                        steps=(Op("t1", "mul", ("a", "a")),
                               Op("t2", "sum", ("t1",), (("dim", (0,)), ("keepdim", False)))),
                        plan=(Grad(("t2",), ("a",), (None,)), Backward(("t2",), (None,)))),
        applies=_grad_keeps_graph,
        finding="findings/paddle/grad-never-frees-graph.py",
    ),
    Deviation(
        id="paddle-grad-output-as-input-cuts-graph",
        reason="BUG: paddle.grad(outputs, inputs) with an output also among the inputs stops "
               "the backward at it: the other inputs it depends on 'do not appear in the "
               "backward graph'; torch returns their gradients",
        program=Program(dtype="float64", leaves=leaves(A), steps=(Op("t1", "neg", ("a",)),),
                        plan=(Grad(("t1",), ("a", "t1"), (None,)),)),
        applies=_output_as_input,
        finding="findings/paddle/grad-output-as-input-cuts-graph.py",
    ),
]
