"""Paddle's differences in custom functions (paddle.autograd.PyLayer): what its backward
may return, and the gradients, hooks and graphs around its node. Part of
deviations/paddle.py."""
import re

import numpy as np

from harness.deviations import Deviation, leaves, message_says, never, raised_instead
from gradspec.program import (Backward, CallFunction, FunctionSpec, Grad, GradRule, Op, Program,
                              TensorHook, Term)

from ._common import A, _action_differs, _paddle_trace, _upstream


def _pylayer_hook_ignored(program, m):
    """A rescaling tensor hook on a PyLayer output: the gradients of the values it is computed
    from differ (by what each backward through the hook adds), and the hooks on them."""
    outs = {o for s in program.steps if isinstance(s, CallFunction) for o in s.outs}
    hooked = {s.target for s in program.steps if isinstance(s, TensorHook)
              and s.scale not in (None, 1.0) and s.target in outs}
    if not (hooked and m.numeric):
        return False
    # what each hooked output is computed from (another hooked output too: its hook sees the
    # gradient without the ignored hook's rescaling)
    before = set().union(*(_upstream(program, {h}) - {h} for h in hooked))
    if m.kind in ("grad", "retained", "nonleaf_grad"):
        return m.name in before
    if m.kind == "returned":
        action = program.plan[m.action] if 0 <= m.action < len(program.plan) else None
        return isinstance(action, Grad) and bool(before & set(action.inputs))
    if m.kind == "hook":
        target = re.search(r"tensor hook on '([^']+)'", m.where)
        return bool(target) and target.group(1) in before
    return False


def _pylayer_grads_alias(program, m):
    """Two leaves' .grad sharing memory where a PyLayer backward returned one tensor for both
    (its straight-through rules): the accumulation node keeps the tensor it gets; and what a
    later backward adds to one of them, which the other shows too."""
    if m.kind == "grad_aliasing":
        return m.actual is True and any(
            isinstance(s, CallFunction) and set(m.name.split(",")) <= set(s.args)
            for s in program.steps)
    if not (m.kind == "grad" and m.numeric and m.action > 0):
        return False
    leaf_names = {leaf.name for leaf in program.all_leaves()}
    return any(isinstance(s, CallFunction) and m.name in s.args
               and len(set(s.args) & leaf_names) > 1 for s in program.steps) and any(
        isinstance(a, Backward) for a in program.plan[:m.action])


def _pylayer_grad_wrt_some_inputs(program, m):
    """At a paddle.grad through a PyLayer: ValueError 'should return None at <i> position'
    for an input of the PyLayer it was not asked about; and what that action left different."""
    if not any(isinstance(s, CallFunction) for s in program.steps):
        return False
    trace = _paddle_trace(program)

    def refused(i, e, a):
        return isinstance(program.plan[i], Grad) and a == "unexpected ValueError" and \
            "should return None at" in trace.actions[i].message
    return _action_differs(program, m, refused, lambda m: raised_instead(
        m, m.expected, "ValueError") and message_says(m, "should return None at"))


def _custom_grad_shape_unchecked(program, m):
    """Also where torch sums a gradient the input's shape broadcasts to ([2] for a 0-d input):
    Paddle keeps the [2] as .grad. A later backward accumulating into that .grad raises
    RuntimeError (the number of elements differ): the state the first one left."""
    if not any(f.grad_shape_error for f in program.functions):
        return False
    if m.kind in ("grad", "returned") and m.expected is not None and m.actual is not None \
            and np.shape(m.expected) != np.shape(m.actual):
        return True
    trace = _paddle_trace(program)

    def accumulation_failed(i, e, a):
        return e is None and a == "unexpected RuntimeError" and "source tensor and " \
            "destination tensor should be equal" in trace.actions[i].message
    # the wrong shape reaches the leaf, where another path's gradient may meet it: RuntimeError
    return _action_differs(
        program, m, lambda i, e, a: e == "custom_grad_shape" and (
            a is None or accumulation_failed(i, None, a)),
        lambda m: raised_instead(m, "custom_grad_shape", None) or (raised_instead(
            m, "custom_grad_shape", "RuntimeError") and message_says(m, "should be equal"))) or \
        _action_differs(program, m, accumulation_failed, lambda m: raised_instead(
            m, None, "RuntimeError") and message_says(m, "should be equal"))


DEVIATIONS = [
    Deviation(
        id="paddle-pylayer-grads-alias",
        reason="the accumulation node keeps the gradient tensor it gets as the leaf's .grad "
               "(no copy): a PyLayer backward returning one tensor for two leaf inputs leaves "
               "their .grad sharing memory, so a later backward accumulating into one adds "
               "into both; torch copies a gradient it cannot steal",
        program=Program(dtype="float64", leaves=leaves(A, ("b", (), (-1.25,), True)),
                        functions=(FunctionSpec("Fn0", 2, (("sign", (0,)),), (),
                                                (GradRule((Term(0, ("one",)),)),
                                                 GradRule((Term(0, ("one",)),)))),),
                        steps=(CallFunction(("f1",), "Fn0", ("a", "b")),),
                        plan=(Backward(("f1",), (None,)),)),
        applies=_pylayer_grads_alias,
    ),
    Deviation(
        id="paddle-pylayer-grad-wrt-some-inputs",
        reason="BUG: paddle.grad w.r.t. some of a PyLayer's inputs (all requiring grad) "
               "raises ValueError 'backward function should return None at <i> position' for "
               "the gradient its backward returns for another input, which it cannot know to "
               "leave out (no needs_input_grad); torch drops the gradients it was not asked for",
        program=Program(dtype="float64", leaves=leaves(A, ("b", (), (-1.25,), True)),
                        functions=(FunctionSpec("Fn0", 2, (("sign", (0,)),), (),
                                                (GradRule((Term(0, ("one",)),)),
                                                 GradRule((Term(0, ("one",)),)))),),
                        steps=(CallFunction(("f1",), "Fn0", ("a", "b")),),
                        plan=(Grad(("f1",), ("a",), (None,)),)),
        applies=_pylayer_grad_wrt_some_inputs,
        finding="findings/paddle/pylayer-grad-wrt-some-inputs.py",
    ),
    Deviation(
        id="paddle-pylayer-output-hook-result-ignored",
        reason="BUG: a tensor hook on a PyLayer's output is called, but the gradient it returns "
               "is dropped: PyLayer.backward and everything after it get the unhooked "
               "gradient; torch (and Paddle on built-in ops' outputs) use the hook's result",
        program=Program(dtype="float64", leaves=leaves(A),
                        functions=(FunctionSpec("Fn0", 1, (("scale", (0,), 3.0),), (),
                                                (GradRule((Term(0, ("const", 3.0)),)),)),),
                        steps=(CallFunction(("f1",), "Fn0", ("a",)), TensorHook("f1", 2.0),
                               Op("t2", "neg", ("f1",))),
                        plan=(Backward(("t2",), (None,)),)),
        applies=_pylayer_hook_ignored,
        finding="findings/paddle/pylayer-output-hook-result-ignored.py",
    ),
    Deviation(
        id="paddle-pylayer-grad-shape-unchecked",
        reason="BUG: a PyLayer backward returning a gradient of the wrong shape for an input is "
               "accepted: the input's .grad gets that shape; torch raises 'Function returned an "
               "invalid gradient at index'",
        program=Program(dtype="float64", leaves=leaves(("a", (2,), (0.5, -1.25), True)),
                        functions=(FunctionSpec("Fn0", 1, (("scale", (0,), 2.0),), (),
                                                (GradRule((Term(0, ("const", 2.0)),)),),
                                                grad_shape_error=True),),
                        steps=(CallFunction(("f1",), "Fn0", ("a",)),
                               Op("t2", "sum", ("f1",), (("dim", (0,)), ("keepdim", False)))),
                        plan=(Backward(("t2",), (None,)),)),
        applies=_custom_grad_shape_unchecked,
        finding="findings/paddle/pylayer-grad-shape-unchecked.py",
    ),
    Deviation(
        id="paddle-pylayer-none-grad-segfault",
        reason="BUG (crash): a PyLayer backward returning None for a non-leaf input that "
               "requires grad segfaults the process in the next grad node (torch treats None "
               "as no gradient); for a leaf input, a second backward through that PyLayer "
               "(retain_graph=True) segfaults; the adapter rejects such programs",
        program=Program(dtype="float64", leaves=leaves(A),
                        functions=(FunctionSpec("Fn0", 1, (("sign", (0,)),), (),
                                                (GradRule(()),)),),
                        steps=(Op("t1", "neg", ("a",)), CallFunction(("f2",), "Fn0", ("t1",))),
                        plan=(Backward(("f2",), (None,)),)),
        applies=never,
        finding="findings/paddle/pylayer-none-grad-segfault.py",
    ),
    Deviation(
        id="paddle-pylayer-backward-twice-segfault",
        reason="BUG (crash): a second backward through a PyLayer node segfaults the process, "
               "after a first backward that freed the graph (where every built-in node raises "
               "'TensorWrappers ... do not exist') and even after one with retain_graph=True; "
               "the adapter rejects such programs",
        program=Program(dtype="float64", leaves=leaves(A),
                        functions=(FunctionSpec("Fn0", 1, (("scale", (0,), 2.0),), (),
                                                (GradRule((Term(0, ("const", 2.0)),)),)),),
                        steps=(CallFunction(("f1",), "Fn0", ("a",)),),
                        plan=(Backward(("f1",), (None,)), Backward(("f1",), (None,)))),
        applies=never,
        finding="findings/paddle/pylayer-backward-twice-segfault.py",
    ),
]
