"""Known differences of torch.compile from eager torch (the reference's semantics): eager
torch's _make_grads bug (deviations/torch.py: backward itself is called eagerly), its
hardsigmoid kernel's (aot_eager runs aten's kernels), and what compiling the forward changes. torch's grad-aliasing and stale-view bugs do not reproduce
here: the compiled region's backward and views are AOTAutograd's, not eager's.
"""
import functools
import re

from harness.deviations import (Deviation, engine_action, is_zero, leaves, load,
                                 message_says, raised_instead, reference_env, reference_raised,
                                 zeros_for_none)
from gradspec.program import (Backward, BackwardThroughGrad, Detach, Grad, GradStep, InPlace,
                              Leaf, Op, Program, RequiresGrad, RetainGrad, TensorHook)


def _compiled(program, action):
    """torch-compile's own result at plan[action], or None."""
    from adapters.torch_compile_adapter import TorchCompileAdapter
    return engine_action(program, TorchCompileAdapter, action)


def _compiled_raised(program, action, test):
    result = _compiled(program, action)
    return result is not None and test(result)


STATE = ("grad", "retained", "returned", "hook")


def _region_freed_as_one(program, m):
    """At a later backward or grad() where the reference raised nothing, the compiled region
    raised graph_freed: the error, and the gradients and hook calls that action then lacks."""
    if not 0 < m.action < len(program.plan) or \
            not isinstance(program.plan[m.action], (Backward, Grad)):
        return False
    if m.kind == "error":
        return raised_instead(m, None, "graph_freed")
    return m.kind in STATE and reference_raised(program, m.action, None) and \
        _compiled_raised(program, m.action, lambda a: a.error == "graph_freed")


def _unreached_inputs(program, m):
    """Zeros where eager has None (.grad of an input no reached output depends on); grad()
    w.r.t. such an input returning zeros where eager raises unused_input (or gives None with
    allow_unused); and a hook on such an input called with those zeros."""
    if zeros_for_none(program, m):
        return True
    if m.kind == "error":
        return raised_instead(m, "unused_input", None)
    if m.kind == "returned" and isinstance(program.plan[m.action], Grad):
        k = _returned_index(m)
        if k is None:  # the reference raised: it returned nothing, the compiled region zeros
            return reference_raised(program, m.action, "unused_input") and \
                all(v is None or is_zero(v, program.dtype) for v in m.actual)
        return m.expected is None and m.actual is not None and is_zero(m.actual, program.dtype)
    if m.kind == "hook" and m.expected == "0 calls":
        # A tensor hook called with those zeros; a post-accumulate hook called after they
        # were accumulated (compiled autograd: its first value is the .grad it reads).
        target = re.search(r"(tensor|post_accumulate) hook on '([^']+)'", m.where)
        result = _compiled(program, m.action)
        return target is not None and result is not None and all(
            is_zero(c.values[0], program.dtype) for c in result.hooks
            if c.kind == target.group(1) and c.target == target.group(2))
    return False


def _returned_index(m):
    k = re.search(r"returned grads\[(\d+)\]$", m.where)
    return None if k is None else int(k.group(1))


def _region_outputs_unconnected(program, m):
    """grad() w.r.t. an intermediate value made in the compiled region, of outputs that depend
    on it through the region: the region's outputs are siblings of one node, so that path is
    missing (unused_input raised, None, or only the direct contribution of the value itself
    where it is one of the outputs); the same inside the forward (a gradient used as a value,
    and what is computed from it)."""
    made = _made_in_region(program)
    if m.action < 0:  # autograd.grad(create_graph=True) inside the forward (a GradStep)
        steps = [s for s in program.steps if isinstance(s, GradStep)
                 and any(i in made for i in s.inputs)]
        if m.kind == "error":
            return bool(steps) and raised_instead(m, None, "unused_input")
        return m.kind == "forward" and m.name in _downstream(program, {
            o for s in steps for o in s.outs})
    if not m.action < len(program.plan) or not isinstance(program.plan[m.action], Grad):
        return False
    action = program.plan[m.action]
    if not any(i in made for i in action.inputs):
        return False
    if m.kind == "error":
        return raised_instead(m, None, "unused_input")
    if m.kind == "returned":
        k = _returned_index(m)
        return k is None or action.inputs[k] in made
    return False


def _downstream(program, names):
    """`names` and every value computed from them in the forward steps."""
    names = set(names)
    for s in program.steps:
        ins = set(getattr(s, "args", ()) or ()) | set(getattr(s, "outputs", ()) or ()) \
            | set(getattr(s, "inputs", ()) or ())
        if ins & names:
            outs = getattr(s, "outs", None) or (getattr(s, "out", None),)
            names.update(o for o in outs if o)
    return names


def _made_in_region(program):
    return {s.out for s in program.steps if isinstance(s, Op)}


def _no_double_backward(program, m):
    """A backward through a gradient (create_graph) that passes through the compiled region's
    backward: AOTAutograd raises that it does not support double backward; the gradients that
    action would add are missing."""
    says = "does not currently support double backward"
    if m.kind == "error":
        return raised_instead(m, None, "RuntimeError") and message_says(m, says)
    return m.kind in STATE and _compiled_raised(program, m.action, lambda a: says in a.message)


def _create_graph_grads_require_grad(program, m):
    """After backward(create_graph=True), every .grad out of the compiled region requires grad
    (its backward is one differentiable node), also where eager's gradient is a constant; it
    still does after the later actions. So does a gradient autograd.grad(create_graph=True)
    makes through the region."""
    if m.kind == "requires_grad":  # a gradient made by autograd.grad(create_graph=True)
        return m.expected is False and m.actual is True and m.name in _downstream(program, {
            o for s in program.steps if isinstance(s, GradStep) for o in s.outs})
    return (m.kind == "grad_requires_grad" and m.expected is False and m.actual is True
            and any(isinstance(a, Backward) and a.create_graph
                    for a in program.plan[:m.action + 1]))


def _second_order_dropped(program, m):
    """A gradient of a gradient made inside the region (a GradStep) missing its second-order
    term: at a grad() whose outputs, or in the forward at a value, computed from a GradStep's
    result, the candidate has what the reference has where each GradStep's result is a
    constant hanging off a dummy leaf (AOTAutograd's double-backward node, connected to
    nothing but that leaf): a value without the second-order term, an input reached only
    through the gradient unused (unused_input, or None with allow_unused), a hook on that
    path not called. Exactly those differences: another at the same place stays."""
    grads = {o for s in program.steps if isinstance(s, GradStep) for o in s.outs}
    if not grads:
        return False
    if m.action < 0:
        if m.kind not in ("forward", "error"):
            return False
    elif not (m.action < len(program.plan) and isinstance(program.plan[m.action], Grad)
              and set(program.plan[m.action].outputs) & _downstream(program, grads)
              and m.kind in ("returned", "error", "hook")):
        return False
    dropped = _without_second_order(program)
    return m.where in dropped and _same(m.actual, dropped[m.where], program.dtype)


@functools.lru_cache(maxsize=64)
def _without_second_order(program):
    """{where: the value there} of each difference between the reference and the reference run
    on the program with every GradStep's result cut off: `g = GradStep(...)` becomes
    `g = detach(g') + z` with `z` a new zero leaf that requires grad (what the compiled
    region's double-backward node connects a gradient to)."""
    from gradspec.reference_adapter import ReferenceAdapter
    from gradspec.compare import compare
    from gradspec.interpreter import run
    env = reference_env(program)
    if not env:
        return {}
    steps, dummies = [], []
    for s in program.steps:
        if not isinstance(s, GradStep):
            steps.append(s)
            continue
        if any(o not in env for o in s.outs):
            return {}
        steps.append(GradStep(tuple(f"{o}__raw" for o in s.outs), s.outputs, s.inputs,
                              s.weights))
        for o in s.outs:
            shape = tuple(env[o].data.shape)
            dummies.append(Leaf(f"{o}__dummy", shape, (0.0,) * int(env[o].data.size), True))
            steps += [Detach(f"{o}__cut", f"{o}__raw"),
                      Op(o, "add", (f"{o}__cut", f"{o}__dummy"))]
    cut = Program(dtype=program.dtype, leaves=program.leaves + tuple(dummies),
                  steps=tuple(steps), plan=program.plan, layers=program.layers,
                  functions=program.functions)
    try:
        found = compare(program, run(program, ReferenceAdapter()),
                        run(cut, ReferenceAdapter(), strict=False))
    except Exception:  # noqa: BLE001 - nothing known, nothing explained
        return {}
    return {d.where: d.actual for d in found}


def _same(a, b, dtype):
    """Do two trace values agree: None-ness, kinds and flags exactly, arrays within the
    dtype's tolerance?"""
    import numpy as np
    from gradspec.compare import close
    if a is None or b is None or isinstance(a, (str, bool)) or isinstance(b, (str, bool)):
        return type(a) is type(b) and a == b
    if isinstance(a, tuple) or isinstance(b, tuple):
        return isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b) and all(
            _same(x, y, dtype) for x, y in zip(a, b))
    return np.shape(a) == np.shape(b) and close(a, b, dtype)[0]


# Steps at which Dynamo splits the region into graphs (it runs them eagerly between two).
SPLITS = (GradStep, TensorHook, RetainGrad, RequiresGrad)


def _tangent_restrided_into_leaf(program, m):
    """A differentiation with create_graph=True (a GradStep in the forward; Grad or Backward
    with create_graph=True) through a region that Dynamo split into several graphs: the
    gradient one graph's backward passes to the other's is made with create_graph=True and
    requires grad, and AOTAutograd, laying it out as traced, copies it into a new leaf that
    requires grad: leaf_inplace where the reference raised nothing, and the gradients,
    returned values, hook calls and .grad flags that action then lacks."""
    splits = [i for i, s in enumerate(program.steps) if isinstance(s, SPLITS)]
    if m.action < 0:  # a GradStep after an earlier split: the forward stops there
        return (raised_instead(m, None, "leaf_inplace") and len(splits) > 1
                and any(isinstance(program.steps[i], GradStep) for i in splits[1:])
                and not any(isinstance(s, InPlace) for s in program.steps))
    if not (splits and m.action < len(program.plan)
            and isinstance(program.plan[m.action], (Backward, Grad))
            and program.plan[m.action].create_graph):
        return False
    if m.kind == "error":
        return raised_instead(m, None, "leaf_inplace")
    return m.kind in STATE + ("grad_requires_grad",) and \
        reference_raised(program, m.action, None) and \
        _compiled_raised(program, m.action, lambda a: a.error == "leaf_inplace")


# Eager torch's own: backward and grad() are called eagerly, as users of compiled code do.
EAGER = ("torch-make-grads-index", "torch-batched-grad-materialized-zeros-unbatched")
# aot_eager runs the region's backward with aten's own kernels: hardsigmoid_backward's float32
# 1/6 with them (inductor's decomposition multiplies by 1/6 in the tensor's dtype: exact, so
# under torch-compile-inductor this entry is stale). Its missing double backward is not met:
# the region's own no-double-backward error comes first.
KERNELS = ("torch-hardsigmoid-float64-grad-float32-sixth",)
DEVIATIONS = [d for d in load("torch") if d.id in EAGER + KERNELS] + [
    Deviation(
        id="torch-compile-zeros-for-unreached-inputs",
        reason="AOTAutograd's compiled region is one autograd Function whose backward gives "
               "every input a gradient: a leaf only an unreached output of the region depends "
               "on gets .grad = zeros where eager leaves it None (pytorch/pytorch#131794)",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (), (0.5,), True), ("b", (), (-1.25,), True),
                          ("c", (1,), (0.75,), True), ("d", (1,), (-1.5,), True)),
            steps=(Op("t1", "add", ("a", "b")),
                   Op("t2", "cat", ("c", "d"), (("dim", 0),)),
                   Op("t3", "sum", ("t2",), (("dim", (0,)), ("keepdim", False)))),
            plan=(Backward(("t3",), (None,)),),
        ),
        applies=_unreached_inputs,
        finding="findings/torch-compile/zeros-for-unreached-inputs.py",
    ),
    Deviation(
        id="torch-compile-region-freed-as-one",
        reason="a compiled region is one AOTAutograd node, freed after the first backward "
               "through any of its outputs: a second backward through a graph that saves "
               "nothing in eager (additions, sums), or a backward through another output of "
               "the region, raises 'backward through the graph a second time' where eager "
               "runs (pytorch/pytorch#118739)",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (2,), (1.0, 2.0), True)),
            steps=(Op("t1", "add", ("a", "a")),
                   Op("t2", "sum", ("t1",), (("dim", (0,)), ("keepdim", False)))),
            plan=(Backward(("t2",), (None,)), Backward(("t2",), (None,))),
        ),
        applies=_region_freed_as_one,
        finding="findings/torch-compile/region-freed-as-one.py",
    ),
    Deviation(
        id="torch-compile-region-outputs-unconnected",
        reason="autograd.grad w.r.t. a value computed in the compiled region, of outputs that "
               "depend on it inside the region, misses that path: the region's outputs are "
               "siblings of one node, so grad() raises that the input is unused, or silently "
               "returns only the value's own contribution (pytorch/pytorch#132929)",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (), (0.5,), True)),
            steps=(Op("t1", "exp", ("a",)), Op("t2", "scale", ("t1",), (("c", 3.0),))),
            plan=(Grad(("t1", "t2"), ("t1",), (None, 2.0)),),
        ),
        applies=_region_outputs_unconnected,
        finding="findings/torch-compile/region-outputs-unconnected.py",
    ),
    Deviation(
        id="torch-compile-no-double-backward",
        reason="a backward through gradients made with create_graph=True that passes through "
               "a compiled region's backward raises 'torch.compile with aot_autograd does not "
               "currently support double backward' (a documented limitation), and after "
               "backward(create_graph=True) every .grad from the region requires grad",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (), (0.5,), True)),
            steps=(Op("t1", "mul", ("a", "a")),),
            plan=(Backward(("t1",), (None,), create_graph=True),
                  BackwardThroughGrad(("a",), (None,))),
        ),
        applies=lambda p, m: _no_double_backward(p, m) or _create_graph_grads_require_grad(p, m),
    ),
    Deviation(
        id="torch-compile-grad-of-grad-drops-second-order",
        reason="a gradient made with autograd.grad(create_graph=True) inside the compiled "
               "region (a graph break) hangs off AOTAutograd's double-backward node, which is "
               "connected only to a dummy leaf where the region's backward saved no tensor "
               "that requires grad: grad() of what is computed from it silently lacks the "
               "second-order term (only backward() meets that node's 'does not currently "
               "support double backward'); an input reached only through it is unused",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (), (0.5,), True)),
            steps=(Op("t1", "exp", ("a",)), GradStep(("g2",), ("t1",), ("a",), (None,)),
                   Op("t3", "mul", ("g2", "g2")), Op("t4", "add", ("t1", "t3"))),
            plan=(Grad(("t4",), ("a",), (None,)),),
        ),
        applies=_second_order_dropped,
        finding="findings/torch-compile/grad-of-grad-drops-second-order.py",
    ),
    Deviation(
        id="torch-compile-create-graph-tangent-restrided-into-leaf",
        reason="grad() or backward() with create_graph=True through a region Dynamo split "
               "into graphs (at a hook, retain_grad, requires_grad_ or a grad() inside) raises "
               "'a leaf Variable that requires grad is being used in an in-place operation' "
               "where eager runs: the gradient passed between the graphs requires grad, and "
               "AOTAutograd restrides it (coerce_to_expected_memory_format) by copy_ into an "
               "empty_strided(requires_grad=True) leaf; no upstream report found",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (2,), (0.5, -0.75), True)),
            steps=(Op("t1", "exp", ("a",)), TensorHook("t1"),
                   Op("t2", "sum", ("t1",), (("dim", (0,)), ("keepdim", False)))),
            plan=(Grad(("t2",), ("a",), (None,), create_graph=True),),
        ),
        applies=_tangent_restrided_into_leaf,
        finding="findings/torch-compile/create-graph-tangent-restrided-into-leaf.py",
    ),
]
