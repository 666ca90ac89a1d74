"""Paddle's differences in tensor hooks and retained gradients: retain_grads is a hook
itself, and paddle.grad fills only the retained gradients on its path. Part of
deviations/paddle.py."""
import re

import numpy as np

from harness.deviations import Deviation, is_zero, leaves, never
from gradspec.program import (Backward, Call, CallFunction, Grad, MultiOp, Op, Program, RetainGrad,
                              TensorHook)

from ._common import A, _alias_of, _downstream, _upstream


def _retains(program, name):
    """The index of the step retaining `name`'s gradient, or None."""
    return next((i for i, s in enumerate(program.steps)
                 if isinstance(s, RetainGrad) and s.target == name), None)


def _retained_is_a_hook(program, m):
    """A retained .grad that differs where a rescaling hook on it was registered after
    retain_grads, or after an earlier backward/grad (replaced, not accumulated)."""
    if m.kind != "retained" or not m.numeric:
        return False
    at = _retains(program, m.name)
    if at is None:
        return False
    hooked_after = any(isinstance(s, TensorHook) and s.target == m.name and s.scale is not None
                       for s in program.steps[at:])
    earlier = any(isinstance(a, (Backward, Grad)) for a in program.plan[:max(m.action, 0)])
    return hooked_after or earlier


def _outputs_of_multi(program):
    """Values that are one of several outputs of one step (a multi-output grad node)."""
    return {o for s in program.steps if isinstance(s, (MultiOp, Call, CallFunction))
            and len(s.outs) > 1 for o in s.outs}


def _zeros_for_unused_output(program, m):
    """A retained .grad of zeros (torch: None), or a tensor hook called with zeros (torch:
    None), on one output of a multi-output op that no root used."""
    name = m.name
    if m.kind == "hook":
        hooked = re.search(r"tensor hook on '([^']+)'", m.where)
        name = hooked and hooked.group(1)
    elif m.kind != "retained":
        return False
    return (m.expected is None and m.actual is not None and is_zero(m.actual, program.dtype)
            and name in _outputs_of_multi(program))


def _grad_skips_retained_off_path(program, m):
    """paddle.grad runs only the part of the graph between its outputs and its inputs: a
    retained .grad off that part (the output's own, when no input is reached through it) is
    left as it was, where torch's grad() fills it."""
    if m.kind != "retained" or not 0 <= m.action < len(program.plan):
        return False
    action = program.plan[m.action]
    if not isinstance(action, Grad):
        return False
    alias = _alias_of(program)
    if m.name in _upstream(program, action.outputs) and \
            m.name in _downstream(program, action.inputs) and \
            alias.get(m.name, m.name) not in {alias.get(x, x) for x in action.inputs}:
        return False  # on the path (and not an input itself, or a full slice of one): filled
    if m.change is not None:
        return m.change[1] is None or not np.any(m.change[1])
    return m.actual is None


# Ops whose grad kernel writes into its incoming gradient's buffer (found by trying each: the
# retained .grad of a reshape of their output changes), and the ops whose backward passes
# that buffer on (findings/paddle/retained-grad-of-reshape-overwritten.py).
INPLACE_GRAD_OPS = frozenset({"tanh", "exp", "sigmoid", "sqrt", "log", "reciprocal", "sin",
                              "cos", "pow", "round"})
SHARING_VIEW_OPS = frozenset({"reshape", "unsqueeze", "squeeze"})


def _retained_reshape_overwritten(program, m):
    """The retained .grad of a reshape/unsqueeze/squeeze output (through such ops) of an
    INPLACE_GRAD_OPS op's output: that op's grad kernel overwrote it."""
    if m.kind != "retained":
        return False
    made = {s.out: s for s in program.steps if isinstance(s, Op)}
    step = made.get(m.name)
    if step is None or step.op not in SHARING_VIEW_OPS:
        return False
    while step is not None and step.op in SHARING_VIEW_OPS:
        step = made.get(step.args[0])
    return step is not None and step.op in INPLACE_GRAD_OPS


DEVIATIONS = [
    Deviation(
        id="paddle-retained-grad-is-a-hook",
        reason="retain_grads registers an ordinary gradient hook that sets .grad to the "
               "incoming gradient (egr_utils_api::RetainGradForTensor): hooks registered after "
               "it do not show in .grad (torch >= 2.0 runs retains_grad hooks last), and each "
               "backward replaces the retained .grad where torch accumulates into it",
        program=Program(dtype="float64", leaves=leaves(A),
                        steps=(Op("t1", "scale", ("a",), (("c", 2.0),)), RetainGrad("t1"),
                               TensorHook("t1", 2.0), Op("t2", "neg", ("t1",))),
                        plan=(Backward(("t2",), (None,)),)),
        applies=_retained_is_a_hook,
    ),
    Deviation(
        id="paddle-zero-grads-for-unused-outputs",
        reason="the backward of a multi-output op (split, chunk, unbind...) fills zeros for "
               "outputs that got no gradient, and their retain_grads hook keeps those zeros "
               "as .grad; torch leaves an unused output's .grad None",
        program=Program(dtype="float64", leaves=leaves(("a", (2,), (0.5, -1.25), True)),
                        steps=(MultiOp(("u1", "u2"), "unbind", ("a",), (("dim", 0),)),
                               RetainGrad("u1"), Op("t2", "neg", ("u2",))),
                        plan=(Backward(("t2",), (None,)),)),
        applies=_zeros_for_unused_output,
    ),
    Deviation(
        id="paddle-grad-skips-retained-off-path",
        reason="paddle.grad runs only the part of the graph between its outputs and its inputs "
               "(general_grad prunes the rest): a retained .grad off that part (the output's "
               "own, when no input is reached through it) is not filled; torch's grad() fills "
               "the retained .grad of every tensor its backward passes",
        program=Program(dtype="float64", leaves=leaves(A, ("b", (), (-1.25,), True)),
                        steps=(Op("t1", "neg", ("a",)), RetainGrad("t1"),
                               Op("t2", "mul", ("b", "b"))),
                        plan=(Grad(("t1",), ("b",), (None,), allow_unused=True),)),
        applies=_grad_skips_retained_off_path,
    ),
    Deviation(
        id="paddle-retained-grad-of-reshape-overwritten",
        reason="BUG: the retained .grad of a paddle.reshape (unsqueeze, squeeze) output holds "
               "the gradient w.r.t. the tensor before the op that made the reshape's input "
               "(tanh, exp, sigmoid...): reshape's backward passes the retained gradient's "
               "buffer on, and that op's grad kernel writes into it in place; torch's "
               "retain_grad keeps the reshape output's gradient",
        program=Program(dtype="float64", leaves=leaves(("a", (1, 2), (0.5, -0.75), True)),
                        steps=(Op("t1", "tanh", ("a",)),
                               Op("t2", "reshape", ("t1",), (("shape", (2, 1)),)),
                               RetainGrad("t2"),
                               Op("t3", "sum", ("t2",), (("dim", (0, 1)), ("keepdim", False)))),
                        plan=(Backward(("t3",), (None,)),)),
        applies=_retained_reshape_overwritten,
        finding="findings/paddle/retained-grad-of-reshape-overwritten.py",
    ),
    Deviation(
        id="paddle-hook-removes-itself-segfault",
        reason="BUG (crash): removing a tensor hook through its handle from inside the hook "
               "segfaults the process during backward; hook_self_removal is not declared, so "
               "no program does it (removal between backward calls works: hook_removal)",
        program=Program(dtype="float64", leaves=leaves(A),
                        steps=(Op("t1", "scale", ("a",), (("c", 2.0),)),
                               TensorHook("t1", None, once=True),
                               Op("t2", "mul", ("t1", "t1"))),
                        plan=(Backward(("t2",), (None,)),)),
        applies=never,
        finding="findings/paddle/hook-removes-itself-segfault.py",
    ),
]
