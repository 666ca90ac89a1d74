"""Known differences between torch 2.13 and the reference (documented torch semantics)."""
import math

from gradspec.deviations import Deviation, reference_env
from gradspec.program import Backward, Grad, InPlace, Leaf, Op, Program


def _aliased_0d_grads(program, m):
    """A one-element leaf's .grad wrong after a later backward (accumulation into aliased
    storage: 0-d leaves, and 1-element ones through stack -> sum -> squeeze)."""
    if m.kind != "grad" or m.action < 1:
        return False
    leaf = next((p for p in program.all_leaves() if p.name == m.name), None)
    earlier = program.plan[:m.action]
    return (leaf is not None and math.prod(leaf.shape) == 1
            and any(isinstance(a, Backward) for a in earlier))


def _make_grads_index_bug(program, m):
    """A multi-root backward (or grad()) whose weight for a root after the first has the wrong
    shape."""
    action = program.plan[m.action] if m.action >= 0 else None
    roots = action.roots if isinstance(action, Backward) else (
        action.outputs if isinstance(action, Grad) else ())
    return (m.kind == "error" and m.expected == "grad_shape_mismatch"
            and m.actual == "unexpected RuntimeError" and len(roots) > 1)


def _stale_view_is_leaf(program, m):
    """torch raised leaf_inplace where the reference raised nothing, writing into a view whose
    base an earlier in-place op (on another value, or on a slice of it) made require grad."""
    if not (m.where == "forward" and m.expected is None and m.actual == "leaf_inplace"):
        return False
    env = reference_env(program)
    writes = [s for s in program.steps if isinstance(s, InPlace)]

    def root(n):
        return env[n] if env[n]._base is None else env[n]._base

    def through_another(w, t):  # a write into t's base not through t itself (x[i] = v: a sub-view)
        return (w.target != t or w.op == "setitem") and root(w.target) is root(t)
    return any(env[s.target]._base is not None
               and any(through_another(w, s.target) for w in writes[:i])
               for i, s in enumerate(writes) if s.target in env)


DEVIATIONS = [
    Deviation(
        id="torch-0d-grad-aliasing",
        reason="AccumulateGrad steals a 0-d incoming gradient that is a view of a buffer shared "
               "with other leaves' gradients (e.g. through stack/cat then sum), so their .grad "
               "tensors alias and the next in-place accumulation adds into all of them",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (), (-1.04,)), Leaf("b", (), (-1.25,))),
            steps=(Op("t1", "stack", ("a", "b"), (("dim", 0),)),
                   Op("loss", "sum", ("t1",), (("dim", (0,)), ("keepdim", False)))),
            plan=(Backward(("loss",), (None,), True), Backward(("loss",), (None,))),
        ),
        applies=_aliased_0d_grads,
    ),
    Deviation(
        id="torch-make-grads-index",
        reason="torch.autograd._make_grads builds its shape-mismatch message with "
               "grads.index(grad), which compares tensors with ==, so a wrong-shaped weight for "
               "a root after the first raises an unrelated error (ambiguous bool / size mismatch)",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2,), (0.5, -0.75)),),
            steps=(Op("t1", "exp", ("a",)), Op("t2", "sin", ("a",))),
            plan=(Backward(("t1", "t2"), ((1.0, 2.0), ((1.0, 1.0), (1.0, 1.0)))),),
        ),
        applies=_make_grads_index_bug,
    ),
    Deviation(
        id="torch-stale-view-is-leaf",
        reason="a view taken while its base did not require grad keeps a stale grad_fn after "
               "an in-place op with a grad-requiring operand makes the base require grad; "
               "check_inplace reads that stale field, so an in-place op on the view raises 'a "
               "leaf Variable that requires grad is being used in an in-place operation' "
               "(reading view.grad_fn first refreshes it, and then no error is raised)",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2,), (0.5, -0.75)), Leaf("b", (2,), (0.75, -1.0))),
            steps=(Op("t1", "neg", ("a",), no_grad=True),
                   Op("v2", "unsqueeze", ("t1",), (("dim", 0),)),
                   InPlace("t1", "add_", ("b",)),
                   InPlace("v2", "relu_")),
            plan=(Backward(("t1",), ((1.0, 1.0),)),),
        ),
        applies=_stale_view_is_leaf,
    ),
]
