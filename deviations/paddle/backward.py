"""Paddle's differences in paddle.autograd.backward (Tensor.backward): which grad nodes
a backward frees, what it asks of its roots and their gradient weights, and when a leaf's
stop_gradient is read. Part of deviations/paddle.py."""
from harness.deviations import (Deviation, action_roots, is_zero, leaves, message_says, never,
                                raised_instead, reference_errors)
from gradspec.program import Backward, Grad, Op, Program, RequiresGrad, ZeroGrad

from ._common import A, _action_differs, _alias_of, _paddle_errors, _paddle_trace, _upstream


def _frees_every_node(program, m):
    """Paddle raised graph_freed on a backward the reference ran (through nodes that saved no
    tensor: sum, scale, add...), and what that backward and the later ones left different."""
    # the reference's nonscalar_implicit_grad: Paddle would backpropagate ones (implicit-grad)
    if m.kind == "grad" and 0 <= m.action < len(program.plan) and isinstance(
            program.plan[m.action], ZeroGrad) and not program.plan[m.action].set_to_none:
        # zeroing a .grad that backward filled on the reference only: zeros vs None
        ref, pd = reference_errors(program), _paddle_errors(program)
        return m.actual is None and is_zero(m.expected, program.dtype) and any(
            ref[j] in (None, "nonscalar_implicit_grad") and pd[j] == "graph_freed"
            for j in range(min(m.action, len(ref), len(pd))))
    # A grad() with an input its outputs do not reach: torch runs the backward and then
    # raises unused_input, Paddle meets the freed node first.
    def freed(i, e, a):
        return a == "graph_freed" and (e in (None, "nonscalar_implicit_grad")
                                       or e == "unused_input" and i > 0)
    return _action_differs(
        program, m, freed, lambda m: m.expected in (None, "nonscalar_implicit_grad",
                                                     "unused_input")
        and m.actual == "graph_freed")


def _duplicated(action, alias=None):
    """Does a backward name one root twice (or a root and a full slice of it: one tensor to
    Paddle's autograd)?"""
    alias = alias or {}
    roots = [alias.get(r, r) for r in action_roots(action)] \
        if isinstance(action, (Backward, Grad)) else ()
    return len(set(roots)) < len(roots)


def _duplicate_roots(program, m):
    """backward asserts (AssertionError), paddle.grad raises 'outputs contain duplicate'."""
    def duplicated(i, e, a):
        return _duplicated(program.plan[i], _alias_of(program)) and a is not None
    return _action_differs(program, m, duplicated, lambda m: raised_instead(
        m, m.expected, "AssertionError") or (raised_instead(m, m.expected, "RuntimeError")
                                             and message_says(m, "contain duplicate tensor"))
        or (raised_instead(m, m.expected, "SystemError")
            and message_says(m, "input buffer has already been initialized")))


def _silent_backward_without_grad(program, m):
    return m.kind == "error" and m.expected == "no_grad_fn" and m.actual is None


def _implicit_ones(program, m):
    """No error for an implicit gradient of a non-scalar root: Paddle backpropagates ones."""
    # with ones, the backward goes on to Paddle's later errors: a PyLayer backward returning
    # too many gradients, paddle.grad w.r.t. an input the outputs do not reach
    def then(i, a):
        action = program.plan[i]
        return a in (None, "custom_grad_count") or (
            a == "unused_input" and isinstance(action, Grad)
            and not set(action.inputs) <= _upstream(program, action.outputs)) or (
            # a PyLayer's wrongly shaped gradient meets another in a leaf (an unchecked bug)
            a == "unexpected RuntimeError" and any(f.grad_shape_error for f in program.functions)
            and "should be equal" in _paddle_trace(program).actions[i].message)
    return _action_differs(
        program, m, lambda i, e, a: e == "nonscalar_implicit_grad" and then(i, a),
        lambda m: m.expected == "nonscalar_implicit_grad")


def _switched_off(program):
    """Leaves set requires_grad_(False) after a step used them."""
    used, off = set(), set()
    for s in program.steps:
        if isinstance(s, RequiresGrad) and not s.flag and s.target in used:
            off.add(s.target)
        for a in getattr(s, "args", ()) or ():
            used.add(a)
    return off


def _recorded_requires_grad(program, m):
    """The .grad of a leaf switched off after it was used: torch's AccumulateGrad reads the
    flag when backward reaches it (None), Paddle's accumulation node was made with the op."""
    return m.kind == "grad" and m.expected is None and m.name in _switched_off(program)


def _graph_kept_by_refused_backward(program, m):
    """At a backward the reference refuses (graph_freed) that Paddle runs, because every earlier
    backward that freed the graph on the reference was refused by Paddle (duplicate roots):
    Paddle's graph is intact."""
    def kept(i, e, a):
        if not (e == "graph_freed" and a is None):
            return False
        pd, ref = _paddle_errors(program), reference_errors(program)
        freeing = [j for j in range(i) if isinstance(program.plan[j], (Backward, Grad))
                   and not program.plan[j].retain_graph and ref[j] is None]
        return bool(freeing) and all(
            pd[j] is not None and _duplicated(program.plan[j], _alias_of(program))
            for j in freeing)
    return _action_differs(program, m, kept, lambda m: raised_instead(m, "graph_freed", None))


DEVIATIONS = [
    Deviation(
        id="paddle-backward-frees-every-node",
        reason="a backward without retain_graph clears every grad node it ran, and a second "
               "backward through any of them raises 'TensorWrappers ... do not exist' "
               "(graph_freed); torch raises only where a node needs a saved tensor that was "
               "freed, so it backwards twice through sum, scale or add (and a later "
               "zero_grad(set_to_none=False) zeroes the .grad that backward filled there; a "
               "later grad() w.r.t. an input its outputs miss meets the freed node before "
               "torch's unused-input error)",
        program=Program(dtype="float64", leaves=leaves(A), steps=(Op("t1", "neg", ("a",)),),
                        plan=(Backward(("t1",), (None,)), Backward(("t1",), (None,)))),
        applies=_frees_every_node,
    ),
    Deviation(
        id="paddle-backward-rejects-duplicate-roots",
        reason="paddle.autograd.backward asserts that its tensors are distinct ('contains "
               "duplicate paddle.Tensor object'; paddle.grad: 'contain duplicate tensor') "
               "before running anything, so the graph is not freed either; a root and a full "
               "slice of it (one autograd identity) raise SystemError 'input buffer has "
               "already been initialized'; torch sums the weights of a repeated root",
        program=Program(dtype="float64", leaves=leaves(A), steps=(Op("t1", "neg", ("a",)),),
                        plan=(Backward(("t1", "t1"), (None, None)),)),
        applies=lambda p, m: _duplicate_roots(p, m) or _graph_kept_by_refused_backward(p, m),
    ),
    Deviation(
        id="paddle-backward-without-grad-is-silent",
        reason="backward of a root that does not require grad (stop_gradient=True: computed "
               "under no_grad, detached, or from such leaves) returns without doing anything; "
               "torch raises 'does not require grad and does not have a grad_fn'",
        program=Program(dtype="float64", leaves=leaves(A),
                        steps=(Op("t1", "neg", ("a",), no_grad=True),),
                        plan=(Backward(("t1",), (None,)),)),
        applies=_silent_backward_without_grad,
    ),
    Deviation(
        id="paddle-implicit-grad-is-ones",
        reason="backward of a non-scalar root without a gradient weight backpropagates ones "
               "(Paddle documents grad_tensors None as filled with 1.0); torch raises 'grad "
               "can be implicitly created only for scalar outputs'",
        program=Program(dtype="float64", leaves=leaves(("a", (2,), (0.5, -1.25), True)),
                        steps=(Op("t1", "mul", ("a", "a")),),
                        plan=(Backward(("t1",), (None,)),)),
        applies=_implicit_ones,
    ),
    Deviation(
        id="paddle-stop-gradient-read-when-recorded",
        reason="a leaf set requires_grad_(False) (stop_gradient=True) after an op used it still "
               "gets .grad from a backward through that op: its accumulation node was made "
               "with the op; torch's AccumulateGrad reads the flag when backward reaches it",
        program=Program(dtype="float64", leaves=leaves(A, ("b", (), (-1.25,), True)),
                        steps=(Op("t1", "add", ("a", "b")), RequiresGrad("b", False)),
                        plan=(Backward(("t1",), (None,)),)),
        applies=_recorded_requires_grad,
    ),
    Deviation(
        id="paddle-grad-weight-shape-unchecked",
        reason="BUG: paddle.autograd.backward and paddle.grad accept a grad_tensors entry whose "
               "shape differs from its tensor's: the wrongly shaped gradient flows through the "
               "graph and .grad ends with a shape its leaf does not have; torch raises a shape "
               "mismatch (Tensor.backward does check). Through some nodes (sum) the wrong "
               "shape corrupts the heap (abort, hang): the adapter rejects such programs",
        program=Program(dtype="float64", leaves=leaves(("a", (2,), (0.5, -1.25), True)),
                        steps=(Op("t1", "scale", ("a",), (("c", 3.0),)),),
                        plan=(Backward(("t1",), ((1.0, 2.0, 3.0),)),)),
        applies=never,
        finding="findings/paddle/grad-weight-shape-unchecked.py",
    ),
]
