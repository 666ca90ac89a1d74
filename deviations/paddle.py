"""Known differences between PaddlePaddle 3.3 (dygraph, CPU) and the reference (torch's
semantics). Design differences are Paddle's coded or documented behaviour; the entries naming a
`finding` are Paddle bugs, each with a standalone script under findings/paddle/."""
import functools
import re

import numpy as np

from gradspec.deviations import Deviation, leaves, reference_errors, reference_shapes
from gradspec.deviations import is_zero, raised_instead
from gradspec.program import (Backward, Call, CallFunction, FunctionSpec, Grad, GradRule,
                              GradStep, MultiOp, Op, Program, RetainGrad, TensorHook, Term)
from gradspec.vocabulary import INDEXED

# What a failed action leaves different, there and in the actions after it.
STATE = ("grad", "retained", "nonleaf_grad", "returned", "hook", "grad_requires_grad")


@functools.lru_cache(maxsize=1)
def _adapter():
    from adapters.paddle_adapter import PaddleAdapter
    return PaddleAdapter()


@functools.lru_cache(maxsize=256)
def _paddle_errors(program):
    """The error kind (or None) of each plan action on Paddle; () if it cannot run it."""
    from gradspec.interpreter import run
    try:
        return tuple(a.error for a in run(program, _adapter(), strict=False).actions)
    except Exception:  # noqa: BLE001 - rejected (UnsupportedProgram): nothing explained
        return ()


def _first(program, test):
    """The first plan action i where test(i, reference error, paddle error) holds, or None."""
    ref, pd = reference_errors(program), _paddle_errors(program)
    return next((i for i, (e, a) in enumerate(zip(ref, pd)) if test(i, e, a)), None)


def _from(program, m, first, error_matches):
    """A mismatch at plan action `first` or after it: there, the error itself (checked by
    `error_matches`) or what the failed action left different; after it, anything."""
    if first is None or m.action < first:
        return False
    if m.kind == "error":
        return m.action > first or error_matches(m)
    return m.kind in STATE


# ----- design differences ----------------------------------------------------------------
def _frees_every_node(program, m):
    """Paddle raised graph_freed on a backward the reference ran (through nodes that saved no
    tensor: sum, scale, add...), and what that backward and the later ones left different."""
    # the reference's nonscalar_implicit_grad: Paddle would backpropagate ones (implicit-grad)
    first = _first(program, lambda i, e, a: e in (None, "nonscalar_implicit_grad")
                   and a == "graph_freed")
    return _from(program, m, first, lambda m: m.expected in (None, "nonscalar_implicit_grad")
                 and m.actual == "graph_freed")


def _full_slice_aliases(program):
    """Values made by a getitem whose result has its leaf source's whole shape (Paddle then
    returns a tensor sharing the leaf's autograd identity), and such slices of them."""
    shapes = reference_shapes(program)
    aliases = {leaf.name for leaf in program.all_leaves()}
    for s in program.steps:
        if isinstance(s, Op) and s.op == "getitem" and s.args[0] in aliases and \
                shapes.get(s.out) == shapes.get(s.args[0]):
            aliases.add(s.out)
    return aliases - {leaf.name for leaf in program.all_leaves()}


def _full_slice_is_the_leaf(program, m):
    return m.kind == "nonleaf_grad" and m.expected is None and \
        m.name in _full_slice_aliases(program)


def _index_requires_grad(program, m):
    """The int64 indices of sort/topk (argsort, topk) have stop_gradient=False."""
    indices = {s.outs[1] for s in program.steps if isinstance(s, MultiOp) and s.op in INDEXED}
    return m.kind == "requires_grad" and m.expected is False and m.actual is True and \
        m.name in indices


def _chunk_uneven(program, m):
    return m.kind == "error" and m.action < 0 and m.expected is None and \
        m.actual == "unexpected ValueError" and any(
            isinstance(s, MultiOp) and s.op == "chunk" for s in program.steps) and (
            "evenly divisible" in m.message or "'chunks' must be" in m.message)


def _no_double_grad(program, m):
    """An op without a grad-of-grad kernel under create_graph=True: Paddle raises (in the
    forward, for a GradStep; in the plan, for a grad(create_graph=True))."""
    def missing(m):
        return m.actual == "unexpected RuntimeError" and "doesn't have any grad op" in m.message
    if m.kind == "error" and m.action < 0:
        return m.expected is None and missing(m)
    first = next((i for i, a in enumerate(program.plan)
                  if getattr(a, "create_graph", False) and isinstance(a, Grad)
                  and reference_errors(program)[i] is None
                  and _paddle_errors(program)[i:i + 1] == ("unexpected RuntimeError",)), None)
    return _from(program, m, first, lambda m: m.expected is None and missing(m))


def _duplicate_roots(program, m):
    """backward asserts (AssertionError), paddle.grad raises 'outputs contain duplicate'."""
    def roots(a):
        return a.roots if isinstance(a, Backward) else getattr(a, "outputs", ())
    first = next((i for i, a in enumerate(program.plan) if len(set(roots(a))) < len(roots(a))),
                 None)
    return _from(program, m, first, lambda m: m.actual == "unexpected AssertionError" or (
        m.actual == "unexpected RuntimeError" and "contain duplicate tensor" in m.message))


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


def _pylayer_hook_ignored(program, m):
    """A rescaling tensor hook on a PyLayer output: everything its gradient reaches differs."""
    outs = {o for s in program.steps if isinstance(s, CallFunction) for o in s.outs}
    return m.numeric and m.kind in ("grad", "retained", "nonleaf_grad", "returned", "hook") \
        and any(isinstance(s, TensorHook) and s.scale not in (None, 1.0) and s.target in outs
                for s in program.steps)


def _output_as_input(program, m):
    first = next((i for i, a in enumerate(program.plan) if isinstance(a, Grad)
                  and set(a.outputs) & set(a.inputs)), None)
    # cut there, the graph beyond never runs: nor its errors (a PyLayer's custom_grad_count)
    return _from(program, m, first, lambda m: m.actual in ("unused_input", None)
                 and m.expected != "unused_input")


def _grad_keeps_graph(program, m):
    """No graph_freed after a paddle.grad that should have freed the graph (retain_graph not
    True, no create_graph), and what the backward that ran left different."""
    def after_grad(i):
        return any(isinstance(a, Grad) and not a.retain_graph and not a.create_graph
                   for a in program.plan[:i])
    first = _first(program, lambda i, e, a: e == "graph_freed" and a is None and after_grad(i))
    return _from(program, m, first, lambda m: raised_instead(m, "graph_freed", None))


def _pylayer_grads_alias(program, m):
    """Two leaves' .grad sharing memory where a PyLayer backward returned one tensor for both
    (its straight-through rules): the accumulation node keeps the tensor it gets."""
    return m.kind == "grad_aliasing" and m.actual is True and any(
        isinstance(s, CallFunction) and set(m.name.split(",")) <= set(s.args)
        for s in program.steps)


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


def _silent_backward_without_grad(program, m):
    return m.kind == "error" and m.expected == "no_grad_fn" and m.actual is None


def _implicit_ones(program, m):
    """No error for an implicit gradient of a non-scalar root: Paddle backpropagates ones."""
    first = _first(program, lambda i, e, a: e == "nonscalar_implicit_grad"
                   and a in (None, "custom_grad_count"))
    # with ones, a PyLayer backward returning too many gradients now runs and raises
    return _from(program, m, first, lambda m: m.expected == "nonscalar_implicit_grad"
                 and m.actual in (None, "custom_grad_count"))


def _input_no_grad_is_unused(program, m):
    return m.kind == "error" and m.expected == "input_no_grad" and m.actual == "unused_input"


# ----- bugs ----------------------------------------------------------------------------------
def _custom_grad_shape_unchecked(program, m):
    """Also where torch sums a gradient the input's shape broadcasts to ([2] for a 0-d input):
    Paddle keeps the [2] as .grad."""
    if m.kind in ("grad", "returned") and any(f.grad_shape_error for f in program.functions) \
            and m.expected is not None and m.actual is not None \
            and np.shape(m.expected) != np.shape(m.actual):
        return True
    first = _first(program, lambda i, e, a: e == "custom_grad_shape" and a is None)
    return _from(program, m, first, lambda m: m.expected == "custom_grad_shape"
                 and m.actual is None)


def _never(program, m):
    """A crash: the adapter rejects the program (UnsupportedProgram) before Paddle runs it, so
    there is never a mismatch to explain; the entry keeps the finding stated."""
    return False


A = ("a", (), (0.5,), True)
DEVIATIONS = [
    Deviation(
        id="paddle-backward-frees-every-node",
        reason="a backward without retain_graph clears every grad node it ran, and a second "
               "backward through any of them raises 'TensorWrappers ... do not exist' "
               "(graph_freed); torch raises only where a node needs a saved tensor that was "
               "freed, so it backwards twice through sum, scale or add",
        program=Program(dtype="float64", leaves=leaves(A), steps=(Op("t1", "neg", ("a",)),),
                        plan=(Backward(("t1",), (None,)), Backward(("t1",), (None,)))),
        applies=_frees_every_node,
    ),
    Deviation(
        id="paddle-full-slice-is-the-leaf",
        reason="indexing a leaf with a slice that covers all of it (b[0:2] of a [2, 2] b) "
               "returns a tensor that shares the leaf's autograd identity: it is a leaf "
               "(is_leaf True) and its .grad is the leaf's .grad; in torch it is a non-leaf "
               "view whose .grad stays None",
        program=Program(dtype="float64", leaves=leaves(("b", (2,), (0.5, -1.25), True)),
                        steps=(Op("t1", "getitem", ("b",), (("index", (("slice", 0, 2, None),)),)),
                               Op("t2", "sum", ("t1",), (("dim", (0,)), ("keepdim", False)))),
                        plan=(Backward(("t2",), (None,)),)),
        applies=_full_slice_is_the_leaf,
    ),
    Deviation(
        id="paddle-index-outputs-require-grad",
        reason="the int64 indices of argsort and topk have stop_gradient=False (Paddle does not "
               "tie stop_gradient to the dtype); torch's integer outputs never require grad",
        program=Program(dtype="float64", leaves=leaves(("a", (2,), (0.5, -1.25), True)),
                        steps=(MultiOp(("v1", "i1"), "topk", ("a",),
                                       (("dim", 0), ("k", 1), ("largest", True))),
                               Op("t2", "sum", ("v1",), (("dim", (0,)), ("keepdim", False)))),
                        plan=(Backward(("t2",), (None,)),)),
        applies=_index_requires_grad,
    ),
    Deviation(
        id="paddle-chunk-needs-even-split",
        reason="paddle.chunk requires the dimension's size to be divisible by `chunks` (and "
               "`chunks` to be at most that size), as documented; torch.chunk returns ceil-sized "
               "pieces (possibly fewer than `chunks`)",
        program=Program(dtype="float64", leaves=leaves(("a", (3,), (0.5, -1.25, 0.75), True)),
                        steps=(MultiOp(("c1", "c2"), "chunk", ("a",),
                                       (("chunks", 2), ("dim", 0))),),
                        plan=(Backward(("c1",), ((1.0, 1.0),)),)),
        applies=_chunk_uneven,
    ),
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
        id="paddle-backward-rejects-duplicate-roots",
        reason="paddle.autograd.backward asserts that its tensors are distinct ('contains "
               "duplicate paddle.Tensor object'); torch sums the weights of a repeated root",
        program=Program(dtype="float64", leaves=leaves(A), steps=(Op("t1", "neg", ("a",)),),
                        plan=(Backward(("t1", "t1"), (None, None)),)),
        applies=_duplicate_roots,
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
        id="paddle-grad-of-no-grad-root-is-unused",
        reason="paddle.grad of an output that stops gradient raises 'input does not appear in "
               "the backward graph' (unused_input); torch says the output does not require grad",
        program=Program(dtype="float64", leaves=leaves(A),
                        steps=(Op("t1", "neg", ("a",), no_grad=True),),
                        plan=(Grad(("t1",), ("a",), (None,)),)),
        applies=_grad_of_no_grad_root,
    ),
    Deviation(
        id="paddle-pylayer-grads-alias",
        reason="the accumulation node keeps the gradient tensor it gets as the leaf's .grad "
               "(no copy): a PyLayer backward returning one tensor for two leaf inputs leaves "
               "their .grad sharing memory; torch copies a gradient it cannot steal",
        program=Program(dtype="float64", leaves=leaves(A, ("b", (), (-1.25,), True)),
                        functions=(FunctionSpec("Fn0", 2, (("sign", (0,)),), (),
                                                (GradRule((Term(0, ("one",)),)),
                                                 GradRule((Term(0, ("one",)),)))),),
                        steps=(CallFunction(("f1",), "Fn0", ("a", "b")),),
                        plan=(Backward(("f1",), (None,)),)),
        applies=_pylayer_grads_alias,
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
        id="paddle-grad-weight-shape-unchecked",
        reason="BUG: paddle.autograd.backward and paddle.grad accept a grad_tensors entry whose "
               "shape differs from its tensor's: the wrongly shaped gradient flows through the "
               "graph and .grad ends with a shape its leaf does not have; torch raises a shape "
               "mismatch (Tensor.backward does check). Through some nodes (sum) the wrong "
               "shape corrupts the heap (abort, hang): the adapter rejects such programs",
        program=Program(dtype="float64", leaves=leaves(("a", (2,), (0.5, -1.25), True)),
                        steps=(Op("t1", "scale", ("a",), (("c", 3.0),)),),
                        plan=(Backward(("t1",), ((1.0, 2.0, 3.0),)),)),
        applies=_never,
        finding="findings/paddle/grad-weight-shape-unchecked.py",
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
        id="paddle-hook-removes-itself-segfault",
        reason="BUG (crash): removing a tensor hook through its handle from inside the hook "
               "segfaults the process during backward; hook_removal is not declared, so no "
               "program does it",
        program=Program(dtype="float64", leaves=leaves(A),
                        steps=(Op("t1", "scale", ("a",), (("c", 2.0),)),
                               TensorHook("t1", None, once=True),
                               Op("t2", "mul", ("t1", "t1"))),
                        plan=(Backward(("t2",), (None,)),)),
        applies=_never,
        finding="findings/paddle/hook-removes-itself-segfault.py",
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
        applies=_never,
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
        applies=_never,
        finding="findings/paddle/pylayer-backward-twice-segfault.py",
    ),
]
