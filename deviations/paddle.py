"""Known differences between PaddlePaddle 3.3 (dygraph, CPU) and the reference (torch's
semantics). Design differences are Paddle's coded or documented behaviour; the entries naming a
`finding` are Paddle bugs, each with a standalone script under findings/paddle/."""
import functools
import re

import numpy as np

from gradspec.deviations import (Deviation, action_roots, engine_trace, is_zero, leaves,
                                 message_says, nothing_returned, raised_instead,
                                 reference_errors, reference_shapes)
from gradspec.program import (Backward, Call, CallFunction, FunctionSpec, Grad, GradRule,
                              Detach, GradStep, InPlace, MultiOp, Op, Program, RequiresGrad,
                              RetainGrad, TensorHook, Term, ZeroGrad)
from gradspec.vocabulary import INDEXED

# What an action leaves different where it ran on one side only (or failed midway).
STATE = ("grad", "retained", "nonleaf_grad", "returned", "hook", "grad_requires_grad",
         "grad_aliasing")


def _paddle_trace(program):
    """The program's trace on Paddle (engine_trace: in the worker process under --isolate)."""
    from adapters.paddle_adapter import PaddleAdapter
    return engine_trace(program, PaddleAdapter)


def _paddle_errors(program):
    """The error kind (or None) of each plan action on Paddle; () if it cannot tell."""
    trace = _paddle_trace(program)
    return () if trace is None else tuple(a.error for a in trace.actions)


def _at(program, m, test):
    """Is `m` at a plan action i where test(i, reference's error, Paddle's error) holds? A
    predicate explains one action's differences: the error there, and the state that action
    left (later actions are judged by what each one adds, gradspec/compare.py)."""
    i = m.action
    if not 0 <= i < len(program.plan):
        return False
    ref, pd = reference_errors(program), _paddle_errors(program)
    return i < len(ref) and i < len(pd) and test(i, ref[i], pd[i])


def _action_differs(program, m, test, error_matches):
    """At an action where `test` holds: the error mismatch (checked by `error_matches`) and
    what that action left different."""
    if not _at(program, m, test):
        return False
    return error_matches(m) if m.kind == "error" else m.kind in STATE


# ----- design differences ----------------------------------------------------------------
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
    return _action_differs(
        program, m, lambda i, e, a: e in (None, "nonscalar_implicit_grad") and a == "graph_freed",
        lambda m: m.expected in (None, "nonscalar_implicit_grad") and m.actual == "graph_freed")


@functools.lru_cache(maxsize=256)
def _alias_of(program):
    """name -> the value it is a full slice of (a getitem whose result has its source's whole
    shape: Paddle returns a tensor sharing the source's autograd identity), transitively;
    every other value maps to itself."""
    shapes = reference_shapes(program)
    root = {}
    for s in program.steps:
        if isinstance(s, Op) and s.op == "getitem" and shapes.get(s.out) is not None and \
                shapes.get(s.out) == shapes.get(s.args[0]):
            root[s.out] = root.get(s.args[0], s.args[0])
    return root


def _full_slice_is_the_leaf(program, m):
    """The .grad of a full slice of a leaf (it is the leaf's), or of a value one of whose
    full slices (or source) retains its gradient (one autograd identity: both retain it);
    paddle.grad w.r.t. a full slice (w.r.t. its source), and the hooks on a full slice or its
    source (hooks on one tensor)."""
    alias = _alias_of(program)
    if alias and m.kind in ("error", "returned", "retained") and _at(
            program, m, lambda i, e, a: isinstance(program.plan[i], Grad)
            and _wrt_full_slice(program.plan[i], alias)):
        inputs = [alias.get(x, x) for x in program.plan[m.action].inputs]
        if m.kind == "returned":
            return True
        if m.kind == "retained":  # the errors differ: a backward ran on one side only
            return _at(program, m, lambda i, e, a: e != a)
        if len(set(inputs)) < len(inputs):  # an input and a full slice of it: duplicates
            return raised_instead(m, m.expected, "RuntimeError") and message_says(
                m, "contain duplicate tensor")
        return raised_instead(m, "unused_input", None)  # the source's gradient, reached
    if m.kind == "hook":
        target = re.search(r"tensor hook on '([^']+)'", m.where)
        hooked = {s.target for s in program.steps if isinstance(s, TensorHook)}
        group = target and {n for n in hooked if alias.get(n, n) == alias.get(
            target.group(1), target.group(1))}
        return bool(group) and len(group) > 1
    if m.kind == "retained" and m.expected is None:  # its source's gradient
        return m.name in alias or m.name in alias.values()
    if not (m.kind == "nonleaf_grad" and m.expected is None):
        return False
    source = alias.get(m.name, m.name)
    if m.name in alias and source in {leaf.name for leaf in program.all_leaves()}:
        return True
    retained = {s.target for s in program.steps if isinstance(s, RetainGrad)}
    return any(alias.get(r, r) == source for r in retained)


def _wrt_full_slice(action, alias):
    """Is one of a paddle.grad's inputs a full slice (one autograd identity with its source)?"""
    return any(x in alias for x in action.inputs)


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


def _logsumexp_rank_limit(program, m):
    """paddle.logsumexp of a tensor of more than 4 dimensions raises ValueError in the forward."""
    return m.kind == "error" and m.action < 0 and m.expected is None and \
        m.actual == "unexpected ValueError" and any(
            isinstance(s, Op) and s.op == "logsumexp" for s in program.steps) and \
        "dimensions of logsumexp should be less or equal than 4" in m.message


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


def _upstream(program, names):
    """The values `names` are computed from (the gradient flowing into them reaches these)."""
    deps = {}
    for s in program.steps:
        if isinstance(s, (Op, MultiOp, CallFunction)):
            for o in getattr(s, "outs", None) or (s.out,):
                deps[o] = set(s.args)
        elif isinstance(s, Call):
            layer = program.layer(s.layer)
            for o in s.outs:
                deps[o] = {a for a in s.args if a} | {q.name for q in layer.params}
        elif isinstance(s, GradStep):
            for o in s.outs:
                deps[o] = set(s.outputs) | set(s.inputs)
        elif isinstance(s, InPlace):
            deps[s.target] = deps.get(s.target, set()) | set(s.args)
    seen, todo = set(), list(names)
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(deps.get(n, ()))
    return seen


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


def _unused_checked_first(program, m):
    """paddle.grad with an input its outputs do not reach raises unused_input before running
    the backward; torch runs it first, so an error the backward raises (a custom Function's
    gradient count or shape) comes first."""
    def refused(i, e, a):
        action = program.plan[i]
        return isinstance(action, Grad) and e not in (None, "unused_input") and \
            a == "unused_input" and not set(action.inputs) <= _upstream(program, action.outputs)
    return _action_differs(program, m, refused, lambda m: m.actual == "unused_input")


def _cross_entropy_clipped(program, m):
    """The forward value of a cross_entropy whose input has logits more than 64 apart (along
    the classes): Paddle's softmax clips each logit's distance below the maximum at 64."""
    if m.kind != "forward" or not m.numeric:
        return False
    step = next((s for s in program.steps if isinstance(s, Op) and s.op == "cross_entropy"
                 and s.out == m.name), None)
    if step is None:
        return False
    x = np.asarray(_reference_env(program)[step.args[0]], dtype=float)
    return x.size > 0 and float(np.max(np.ptp(np.atleast_1d(x), axis=-1))) > 64


def _input_no_grad_is_unused(program, m):
    return m.kind == "error" and m.expected == "input_no_grad" and m.actual == "unused_input"


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


def _reference_env(program):
    from gradspec.deviations import reference_env
    return {n: t.data for n, t in reference_env(program).items()}


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


def _downstream(program, names):
    """The values computed from `names` (the inverse of _upstream)."""
    out = set(names)
    for s in program.steps:
        outs = getattr(s, "outs", None) or ((s.out,) if hasattr(s, "out") else ())
        args = set(getattr(s, "args", ()) or ()) | set(getattr(s, "outputs", ()) or ()) | \
            set(getattr(s, "inputs", ()) or ())
        if isinstance(s, Detach):
            continue
        if args & out:
            out.update(outs)
    return out


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


# ----- bugs ----------------------------------------------------------------------------------
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


def _cross_entropy_again(program, m):
    """A backward through a cross_entropy that an earlier backward went through: what it adds
    to the gradients of the values cross_entropy is computed from is wrong."""
    outs = {s.out for s in program.steps if isinstance(s, Op) and s.op == "cross_entropy"}
    if not outs or not m.numeric or not 0 < m.action < len(program.plan):
        return False
    before = _upstream(program, outs) - outs
    earlier = any(isinstance(a, Backward) and set(a.roots) & _downstream(program, outs)
                  for a in program.plan[:m.action])
    if not earlier:
        return False
    if m.kind in ("grad", "retained"):
        return m.name in before
    if m.kind == "hook":
        target = re.search(r"tensor hook on '([^']+)'", m.where)
        return bool(target) and target.group(1) in before
    return False


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
               "freed, so it backwards twice through sum, scale or add (and a later "
               "zero_grad(set_to_none=False) zeroes the .grad that backward filled there)",
        program=Program(dtype="float64", leaves=leaves(A), steps=(Op("t1", "neg", ("a",)),),
                        plan=(Backward(("t1",), (None,)), Backward(("t1",), (None,)))),
        applies=_frees_every_node,
    ),
    Deviation(
        id="paddle-full-slice-is-the-leaf",
        reason="indexing a tensor with a slice that covers all of it (b[0:2] of a [2, 2] b) "
               "returns a tensor that shares its autograd identity: of a leaf it is a leaf "
               "(is_leaf True) whose .grad is the leaf's; of a non-leaf, retain_grads on either "
               "retains both; paddle.grad w.r.t. it is w.r.t. its source (with the source too: "
               "'inputs contain duplicate tensor'), and hooks on either are hooks on one "
               "tensor; in torch it is a non-leaf view whose .grad stays None",
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
        id="paddle-logsumexp-at-most-4-dims",
        reason="paddle.logsumexp checks that its input has at most 4 dimensions (ValueError "
               "'dimensions of logsumexp should be less or equal than 4', logsumexp's "
               "InferMeta); torch reduces a tensor of any rank",
        program=Program(dtype="float64",
                        leaves=leaves(("a", (1, 1, 1, 1, 2), (0.5, -1.25), True)),
                        steps=(Op("t1", "logsumexp", ("a",), (("dim", (4,)), ("keepdim", False))),),
                        plan=(Backward(("t1",), ((((((1.0,),),),),),)),)),
        applies=_logsumexp_rank_limit,
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
        id="paddle-cross-entropy-clips-logits-at-64",
        reason="F.cross_entropy's softmax clips each logit's distance below the row's maximum "
               "at 64 (the softmax kernel's ValueClip threshold), so a loss whose logits are "
               "more than 64 apart saturates near 64; torch computes log_softmax exactly",
        program=Program(dtype="float64", leaves=leaves(("a", (2,), (0.5, 80.0), True)),
                        steps=(Op("t1", "cross_entropy", ("a",), (("target", 0),)),),
                        plan=(Backward(("t1",), (None,)),)),
        applies=_cross_entropy_clipped,
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
        id="paddle-cross-entropy-second-backward-wrong",
        reason="BUG: a second backward through F.cross_entropy (the first with "
               "retain_graph=True) adds a wrong gradient to its input (the saved softmax was "
               "changed by the first one); torch adds the same gradient again",
        program=Program(dtype="float64", leaves=leaves(("a", (1, 2), (0.5, -0.75), True)),
                        steps=(Op("t1", "cross_entropy", ("a",), (("target", (0,)),)),),
                        plan=(Backward(("t1",), (None,), retain_graph=True),
                              Backward(("t1",), (None,)))),
        applies=_cross_entropy_again,
        finding="findings/paddle/cross-entropy-second-backward-wrong.py",
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
               "segfaults the process during backward; hook_self_removal is not declared, so "
               "no program does it (removal between backward calls works: hook_removal)",
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
        applies=_never,
        finding="findings/paddle/view-double-grad-segfault.py",
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
