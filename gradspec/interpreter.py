"""The interpreter: runs a Program on any adapter and returns a Trace.

It is the only code that walks a program; adapters only answer single calls. Hooks are
closures made here, so that every engine's hook calls are recorded the same way.
"""
import contextlib
import warnings
import weakref
from dataclasses import replace

import numpy as np

from gradspec.adapter import Adapter, UnsupportedProgram

from . import functions, program as P
from .trace import ActionResult, HookCall, Trace, error_message


# The Session the strategies built each program with (Session.attach_to), by the program's
# identity: {id(program): (weak reference to it, Session)}, an entry dropped when its program
# is collected. Not by value: programs are frozen dataclasses, equal field by field, yet two
# equal programs need not build alike (a leaf of -0.0 equals one of 0.0) and a Session serves
# one run only.
_attached = {}


def _np(adapter, t):
    return None if t is None else np.array(adapter.to_numpy(t), dtype=np.float64, copy=True)


class Session:
    """A program being run on one adapter: its named values, modules and custom Functions.

    The strategies drive a Session on the reference step by step while they draw a program
    (to know shapes, values and what requires grad); `run` drives one over a whole program.
    """

    def __init__(self, adapter, dtype):
        self.adapter, self.dtype = adapter, dtype
        self.env, self.leaves, self.modules, self.fns = {}, {}, {}, {}
        self.retained, self.hook_log = [], []
        self.handles = {}  # value name -> handles of the tensor hooks registered on it
        self.raised = False
        self.program = None  # set by `build`: a functional engine's GradStep re-runs a prefix
        self.prefixes = {}  # step index -> that prefix, made before a compiler traces (below)

    def add_leaf(self, leaf, value=None):
        """A leaf from its values, or bound to `value` (a functional engine's traced input)."""
        self.env[leaf.name] = self.leaves[leaf.name] = value if value is not None else \
            self.adapter.tensor(leaf.array(self.dtype), self.dtype, leaf.requires_grad)

    def add_layer(self, layer, bound=None):
        bound = bound or {}
        values = {p.name: bound.get(p.name, None) for p in layer.params}
        values = {n: v if v is not None else layer_param(layer, n).array(self.dtype)
                  for n, v in values.items()}
        module, params = self.adapter.make_layer(layer, values, self.dtype)
        self.modules[layer.name] = (module, layer)
        for p in layer.params:
            self.env[p.name] = self.leaves[p.name] = params[p.name]

    def add_function(self, spec):
        op = self.adapter.op
        self.fns[spec.name] = self.adapter.custom_function(
            spec, lambda inputs: functions.run_forward(spec, op, inputs),
            lambda grads, saved, needs: functions.run_backward(spec, op, grads, saved, needs))

    def step(self, step, index=None):
        """Run `step`, the program's step `index` (known to `build`; the strategies, which
        draw steps one by one, leave it to be found)."""
        try:
            if isinstance(step, P.GradStep):
                self._grad_step(step, index)
            else:
                _step(step, self.adapter, self.env, self.modules, self.fns, self.retained,
                      self.hook_log, self.handles)
        except Exception:
            self.raised = True  # not the program's whole forward: never handed to `run`
            raise

    def _grad_step(self, step, index=None):
        """`autograd.grad(..., create_graph=True)`; a functional engine differentiates, by a
        vjp nested in whatever vjp is tracing this one, the program's steps before this step
        as a function of the step's inputs (leaves: such engines have no grad_wrt_nonleaf)."""
        adapter, env = self.adapter, self.env
        weights = _weights(adapter, step.weights, self.dtype)
        if "stateful_grad" in adapter.capabilities:
            grads = adapter.grad([env[o] for o in step.outputs], [env[i] for i in step.inputs],
                                 weights, True, True, False)
        else:
            program = self.program
            leaf_names = {leaf.name for leaf in program.all_leaves()}
            if any(i not in leaf_names for i in step.inputs):
                raise UnsupportedProgram(
                    f"{adapter.name} is functional: a gradient used as a value is a vjp of the "
                    f"rebuilt steps before it as a function of leaves, not of intermediate "
                    f"values ({', '.join(i for i in step.inputs if i not in leaf_names)})")
            if index is None:  # not inside a compiler's trace: it compares frozen dataclasses
                index = program.steps.index(step)
            if index not in self.prefixes:  # made once, for every GradStep (see grad_prefixes)
                self.prefixes.update(grad_prefixes(program))
            prefix, prefixes = self.prefixes[index], self.prefixes
            leaves = {leaf.name: env[leaf.name] for leaf in program.all_leaves()}

            def f(*xs):
                s = build(prefix, adapter, bound={**leaves, **dict(zip(step.inputs, xs))},
                          prefixes=prefixes)
                return tuple(s.env[o] for o in step.outputs)
            grads = adapter.vjp(f, [env[i] for i in step.inputs], weights)
        env.update(zip(step.outs, grads))

    # ----- a program already built: the strategies' Session, handed to the check ----------
    def attach_to(self, program):
        """Keep this Session, which has built all of `program` (every leaf, layer, Function
        and step, nothing else), with the program: `run` on an adapter like this one then
        runs only the plan on it instead of building the program again. Taken once.

        It must hold exactly what building `program` gives: a step drawn and then left out or
        rejected must leave the values it read as they were (tests/meta/test_fast_paths.py
        compares the two traces)."""
        key = id(program)

        def drop(ref):  # `program` was collected before a check took its Session
            if _attached.get(key, (None,))[0] is ref:
                del _attached[key]
        _attached[key] = (weakref.ref(program, drop), self)

    @staticmethod
    def taken_from(program, adapter):
        """The Session attached to `program` if it was built on an adapter of `adapter`'s
        class in the program's dtype (then it is detached: a plan consumes it), else None."""
        ref, s = _attached.pop(id(program), (None, None))
        if s is None or ref() is not program or s.raised or type(s.adapter) is not type(adapter) \
                or s.dtype != program.dtype:
            return None
        order = _build_order(program)
        if s.env.keys() != order.keys():
            return None
        s.adapter = adapter
        s.env = {n: s.env[n] for n in sorted(s.env, key=order.__getitem__)}
        s.leaves = {n: s.leaves[n] for n in sorted(s.leaves, key=order.__getitem__)}
        return s


def layer_param(layer, name):
    return next(p for p in layer.params if p.name == name)


def _build_order(program):
    """{value name: its place in the order `build` creates values}."""
    names = [leaf.name for leaf in program.all_leaves()]
    for step in program.steps:
        names += getattr(step, "outs", None) or ([step.out] if hasattr(step, "out") else [])
    return {n: i for i, n in enumerate(names)}


def grad_prefixes(program):
    """{index of a GradStep: the program of the steps before it}: what a functional engine's
    gradient used as a value differentiates. Made once, before the engine's transform runs:
    a compiler tracing the transform (torch.compile) cannot rebuild a frozen dataclass made
    inside its trace at a graph break."""
    return {i: replace(program, steps=program.steps[:i], plan=())
            for i, s in enumerate(program.steps) if isinstance(s, P.GradStep)}


def build(program, adapter, bound=None, prefixes=None):
    """Create the leaves, layers and custom Functions, and run the forward steps.

    `bound` maps leaf names to ready tensors (a functional engine's traced inputs);
    `prefixes`: `grad_prefixes` of the program (or of one it is a prefix of)."""
    s = _session(program, adapter, bound or {}, prefixes or {})
    if type(adapter).region is Adapter.region:
        for i, step in enumerate(program.steps):
            s.step(step, i)
    else:
        _run_region(s, program)
    return s


def _session(program, adapter, bound, prefixes):
    """A Session with the program's leaves, layers and custom Functions made."""
    s = Session(adapter, program.dtype)
    s.program = program
    s.prefixes = prefixes
    for leaf in program.leaves:
        s.add_leaf(leaf, bound.get(leaf.name))
    for layer in program.layers:
        s.add_layer(layer, bound)
    for spec in program.functions:
        s.add_function(spec)
    return s


def build_until_error(program, adapter):
    """The forward steps run one by one up to the first that raises: (the values made
    before it, its index, or None where every step ran). What a deviation's predicate asks
    when an engine and the reference raise different errors: what stood before them."""
    s = _session(program, adapter, {}, {})
    for i, step in enumerate(program.steps):
        try:
            s.step(step, i)
        except Exception:  # noqa: BLE001 - the first forward error ends the forward
            return s.env, i
    return s.env, None


def _run_region(s, program):
    """The forward steps as one function of the leaves and layer parameters, handed to the
    adapter's `region` (a compiler: torch.compile) and called; its results become the
    values. Hooks, retain_grad and the rest are registered inside, as a user's compiled code
    registers them."""
    inputs = list(s.env)

    def forward(*tensors):
        s.env.clear()
        s.env.update(zip(inputs, tensors))
        for i, step in enumerate(program.steps):
            s.step(step, i)
        return tuple(s.env.values())

    outputs = s.adapter.region(forward, program.steps)(*s.env.values())
    s.env = dict(zip(list(s.env), outputs))  # the names the steps left, in their order


def _error_kind(adapter, exc, strict):
    """The normalized kind of `exc`; an exception the adapter does not recognise re-raises
    when `strict` (the reference), else is recorded as "unexpected <Type>" (a candidate).
    UnsupportedProgram always re-raises: the program, not the engine, is at fault (the suites
    reject that example)."""
    if isinstance(exc, UnsupportedProgram):
        raise exc
    kind = adapter.error_kind(exc)
    if kind is None:
        if strict:
            raise exc
        kind = f"unexpected {type(exc).__name__}"
    return kind


def run(program, adapter, strict=True, built=None):
    """Run `program` on `adapter`: forward steps, then each plan action. Errors the adapter
    normalizes are recorded; others re-raise if `strict`, else are recorded as unexpected;
    UnsupportedProgram (the adapter cannot express the program) re-raises.
    `built`: a Session that has already built the program on `adapter` (Session.taken_from)."""
    trace = Trace(backend=adapter.name)
    try:
        s = built or build(program, adapter)
    except Exception as exc:  # noqa: BLE001 - normalized below or re-raised
        kind = _error_kind(adapter, exc, strict)
        trace.forward_error, trace.forward_message = kind, error_message(exc)
        return trace
    env, leaves, hook_log = s.env, s.leaves, s.hook_log
    functional = "stateful_grad" not in adapter.capabilities
    for name, t in env.items():
        trace.forward[name] = _np(adapter, t)
        if not functional:  # a functional engine has no requires_grad flag to compare
            trace.requires_grad[name] = bool(adapter.requires_grad(t))
    trace.forward_hooks = list(hook_log)
    hook_log.clear()
    if "shares_storage" in adapter.capabilities:
        for step in program.steps:
            if isinstance(step, P.Detach):
                trace.shares_storage[step.out] = bool(
                    adapter.shares_storage(env[step.out], env[step.src]))
    if functional:
        return _run_functional(program, adapter, trace, strict)
    # A leaf whose requires_grad_ was switched off is read too: its .grad must stay as it was.
    switched = {s.target for s in program.steps if isinstance(s, P.RequiresGrad)}
    tracked = [n for n, t in leaves.items() if adapter.requires_grad(t) or n in switched]
    # An engine with retain_grad keeps a non-leaf's gradient only where asked to: the others'
    # `.grad` must stay None, so it is read too.
    unretained = [n for n in env if n not in leaves and n not in s.retained
                  and trace.requires_grad[n]] if "retain_grad" in adapter.capabilities else []
    # After a backward with create_graph=True, `.grad` may itself require grad.
    graph_of_grads = any(getattr(a, "create_graph", False) for a in program.plan)
    aliasing = "shares_storage" in adapter.capabilities  # can it say whether two .grad alias?
    for i, action in enumerate(program.plan):
        result = ActionResult(index=i)
        try:
            if isinstance(action, P.Functional):
                result.returned = _functional_api(program, adapter, action)
            elif isinstance(action, P.RemoveHooks):
                for handle in s.handles.pop(action.target, []):
                    adapter.remove_hook(handle)
            else:
                _action(action, adapter, env, leaves, result, program.dtype)
        except Exception as exc:  # noqa: BLE001
            kind = _error_kind(adapter, exc, strict)
            result.error, result.message = kind, error_message(exc)
        result.hooks = list(hook_log)
        hook_log.clear()
        try:
            _read_state(s, result, tracked, unretained, graph_of_grads, aliasing)
        except Exception as exc:  # noqa: BLE001
            if strict or result.error is not None:
                raise
            # A lazy engine (tinygrad) computes the gradients only when they are read: an error
            # its backward deferred is that action's error, and the state after it unspecified.
            result.error = _error_kind(adapter, exc, strict)
            result.message = "raised when the gradients after this action were read: " + \
                error_message(exc)
            result.grads, result.retained, result.nonleaf = {}, {}, {}
        trace.actions.append(result)
    return trace


def _read_state(s, result, tracked, unretained, graph_of_grads, aliasing):
    """Record every `.grad` of session `s` after an action into `result`."""
    adapter, leaves, env = s.adapter, s.leaves, s.env
    with warnings.catch_warnings():
        # torch warns on reading a non-leaf's .grad: the unretained values, and a leaf an
        # in-place op with an operand that requires grad has made a non-leaf.
        warnings.simplefilter("ignore")
        held = {}  # leaf name -> its .grad tensor, where not None
        for name in tracked:
            g = adapter.read_grad(leaves[name])
            result.grads[name] = _np(adapter, g)
            if g is not None:
                held[name] = g
            if graph_of_grads:
                result.grad_requires_grad[name] = g is not None and \
                    bool(adapter.requires_grad(g))
        if aliasing and len(held) > 1:
            result.grad_aliases = _grad_aliases(adapter, held)
        for name in s.retained:
            result.retained[name] = _np(adapter, adapter.read_grad(env[name]))
        for name in unretained:
            result.nonleaf[name] = _np(adapter, adapter.read_grad(env[name]))


def _grad_aliases(adapter, grads):
    """The pairs of leaves (names sorted) whose .grad tensors share memory. The reference
    gives each leaf's .grad its own buffer, as torch's contract says; where two share one, an
    in-place update of either (the next accumulation, zero_(), an optimizer) changes both."""
    names = sorted(grads)
    return tuple((m, n) for i, m in enumerate(names) for n in names[i + 1:]
                 if adapter.shares_storage(grads[m], grads[n]))


def _step(step, adapter, env, modules, fns, retained, hook_log, handles):
    if isinstance(step, P.Op):
        args = [env[a] for a in step.args]
        params = step.kw
        if step.no_grad or step.modes:
            with contextlib.ExitStack() as modes:
                for mode in step.contexts:
                    modes.enter_context(adapter.grad_mode(mode))
                env[step.out] = adapter.op(step.op, *args, **params)
        else:
            env[step.out] = adapter.op(step.op, *args, **params)
    elif isinstance(step, P.InPlace):
        env[step.target] = adapter.inplace(step.op, env[step.target],
                                           *[env[a] for a in step.args], **step.kw)
    elif isinstance(step, P.MultiOp):
        outs = tuple(adapter.op(step.op, *[env[a] for a in step.args], **step.kw))
        if len(outs) != len(step.outs):
            raise TypeError(f"{step.op} returned {len(outs)} tensors, the step names "
                            f"{len(step.outs)}")
        env.update(zip(step.outs, outs))
    elif isinstance(step, P.Call):
        args = [None if a is None else env[a] for a in step.args]
        module, layer = modules[step.layer]
        outs = adapter.call_layer(module, layer, args)
        for name, t in zip(step.outs, outs):
            env[name] = t
    elif isinstance(step, P.CallFunction):
        outs = fns[step.function](*[env[a] for a in step.args])
        for name, t in zip(step.outs, outs):
            env[name] = t
    elif isinstance(step, P.Detach):
        env[step.out] = adapter.detach(env[step.src])
    elif isinstance(step, P.RequiresGrad):
        adapter.set_requires_grad(env[step.target], step.flag)
    elif isinstance(step, P.RetainGrad):
        adapter.retain_grad(env[step.target])
        if step.target not in retained:
            retained.append(step.target)
    elif isinstance(step, P.TensorHook):
        handle = []
        handle.append(adapter.register_hook(env[step.target],
                                            _tensor_hook(adapter, step, hook_log, handle)))
        handles.setdefault(step.target, []).append(handle[0])
    elif isinstance(step, P.PostAccumulateHook):
        adapter.register_post_accumulate_hook(env[step.target],
                                              _post_accumulate_hook(adapter, step, hook_log))
    elif isinstance(step, P.ModuleHook):
        adapter.register_module_hook(modules[step.layer][0], _module_hook(adapter, step, hook_log))
    else:
        raise TypeError(f"unknown step {step!r}")


def _tensor_hook(adapter, step, hook_log, handle):
    def hook(grad):
        hook_log.append(HookCall(step.target, "tensor", (_np(adapter, grad),)))
        if step.once:
            adapter.remove_hook(handle[0])
        if step.scale is not None and grad is not None:
            return adapter.op("scale", grad, c=step.scale)
        return None
    return hook


def _post_accumulate_hook(adapter, step, hook_log):
    def hook(t):
        grad = _np(adapter, adapter.read_grad(t))
        if step.lr is not None and grad is not None:  # another hook may have cleared .grad
            adapter.sgd_step(t, step.lr)
        hook_log.append(HookCall(step.target, "post_accumulate", (grad, _np(adapter, t))))
        if step.clear:
            adapter.zero_grad([t], True)
    return hook


def _module_hook(adapter, step, hook_log):
    def hook(grad_input, grad_output):
        hook_log.append(HookCall(step.layer, "module",
                                 (tuple(_np(adapter, g) for g in grad_input),
                                  tuple(_np(adapter, g) for g in grad_output))))
        if step.scale is not None:
            return tuple(None if g is None else adapter.op("scale", g, c=step.scale)
                         for g in grad_input)
        return None
    return hook


def _weights(adapter, weights, dtype):
    return [None if w is None else adapter.tensor(np.array(w, dtype=dtype), dtype, False)
            for w in weights]


def _action(action, adapter, env, leaves, result, dtype):
    if isinstance(action, P.Backward):
        adapter.backward([env[r] for r in action.roots], _weights(adapter, action.weights, dtype),
                         action.retain_graph, action.create_graph)
    elif isinstance(action, P.Grad):
        # Passed only when set: adapters (and mutants) without it need not take it.
        kw = {"materialize_grads": True} if action.materialize_grads else {}
        if action.batched:
            kw["is_grads_batched"] = True
        grads = adapter.grad([env[r] for r in action.outputs], [env[i] for i in action.inputs],
                             _weights(adapter, action.weights, dtype), action.retain_graph,
                             action.create_graph, action.allow_unused, **kw)
        result.returned = tuple(_np(adapter, g) for g in grads)
    elif isinstance(action, P.BackwardThroughGrad):
        pairs = [(g, w) for g, w in ((adapter.read_grad(leaves[n]), w)
                                     for n, w in zip(action.leaves, action.weights))
                 if g is not None and adapter.requires_grad(g)]
        if pairs:
            adapter.backward([g for g, _ in pairs], _weights(adapter, [w for _, w in pairs], dtype),
                             action.retain_graph, False)
    elif isinstance(action, P.ZeroGrad):
        adapter.zero_grad(list(leaves.values()), action.set_to_none)
    else:
        raise TypeError(f"unknown action {action!r}")


# ----- functional engines (JAX, HIPS autograd): no .grad, no graph outliving a call ---------
def _run_functional(program, adapter, trace, strict):
    """Answer each action with the engine's vjp of the program as a pure function, or, where
    the adapter records a forward (`Adapter.record`: TensorFlow's tape), with gradients of
    one recorded forward (`_run_recorded`).

    The function maps the leaves that require grad to the action's roots; the gradient
    weights are its cotangents. A Backward's result is what `.grad` would hold after it: it
    must be the plan's only action (accumulation needs state such engines do not have)."""
    if len(program.plan) > 1 and any(isinstance(a, P.Backward) for a in program.plan):
        raise UnsupportedProgram(
            f"{adapter.name} is functional: a Backward is its plan's only action (what "
            f"several actions leave in .grad needs stateful_grad)")
    for action in program.plan:
        if not isinstance(action, (P.Backward, P.Grad, P.Functional)):
            raise TypeError(f"{adapter.name} is functional: it cannot run {action!r}")
    if type(adapter).record is not Adapter.record:
        return _run_recorded(program, adapter, trace, strict)
    wrt_all = [leaf.name for leaf in program.all_leaves() if leaf.requires_grad]
    leaf_names = {leaf.name for leaf in program.all_leaves()}
    for i, action in enumerate(program.plan):
        result = ActionResult(index=i)
        if isinstance(action, P.Grad) and not set(action.inputs) <= leaf_names:
            raise UnsupportedProgram(f"{adapter.name} is functional without a recorded "
                                     f"forward: grad() w.r.t. leaves only")
        try:
            if isinstance(action, P.Functional):
                result.returned = _functional_api(program, adapter, action)
            elif isinstance(action, P.Backward):
                grads = _functional_vjp(program, adapter, action.roots, action.weights, wrt_all)
                result.grads = {n: _np(adapter, g) for n, g in zip(wrt_all, grads)}
            else:
                grads = _functional_vjp(program, adapter, action.outputs, action.weights,
                                        list(action.inputs), batched=action.batched)
                result.returned = tuple(_np(adapter, g) for g in grads)
        except Exception as exc:  # noqa: BLE001
            kind = _error_kind(adapter, exc, strict)
            result.error, result.message = kind, error_message(exc)
        trace.actions.append(result)
    return trace


def recorded_sources(program):
    """The leaves a recorded forward watches, in program order: those that require grad
    (a Backward's), and the leaves a Grad action asks about (as a vjp takes them as primals).
    Shared with the adapters' repro scripts (adapters/functional_script.py)."""
    asked = {i for a in program.plan if isinstance(a, P.Grad) for i in a.inputs}
    return [leaf.name for leaf in program.all_leaves() if leaf.requires_grad or leaf.name in asked]


def recorded_persistent(program):
    """Must the recording answer several gradient calls? Where an action retains the graph
    (retain_graph=True): torch keeps it for the calls after that one, an engine with a tape
    keeps it (a persistent tape) for the whole plan."""
    return any(getattr(a, "retain_graph", None) for a in program.plan)


def _run_recorded(program, adapter, trace, strict):
    """The plan over one recorded forward: every value of the program computed once, while
    the engine records, from the watched leaves (`recorded_sources`); each Backward/Grad is a
    `gradient` call of that recording: w.r.t. intermediate values too (grad_wrt_nonleaf),
    None or zeros (materialize_grads) for a source the targets do not reach, and a second
    call raising where the recording is not persistent (retain_graph)."""
    dtype = program.dtype
    watched = recorded_sources(program)
    by_name = {leaf.name: leaf for leaf in program.all_leaves()}
    if any(isinstance(s, P.GradStep) for s in program.steps) and any(
            isinstance(a, P.Grad) and not set(a.inputs) <= set(by_name) for a in program.plan):
        # A gradient used as a value is a vjp that rebuilds the steps before it from the
        # leaves: the recorded intermediate values are not on its path, so grad() w.r.t. one
        # would miss what flows through that gradient (torch's has it).
        raise UnsupportedProgram(
            f"{adapter.name}: grad() w.r.t. an intermediate value in a program with a "
            f"gradient used as a value (its vjp rebuilds the steps from the leaves)")
    primals = [adapter.tensor(by_name[n].array(dtype), dtype, True) for n in watched]
    names = []

    def f(*xs):
        s = build(program, adapter, bound=dict(zip(watched, xs)))
        names[:] = list(s.env)
        return tuple(s.env.values())
    try:
        recording = adapter.record(f, primals, recorded_persistent(program))
        values, failed = dict(zip(names, recording.values)), None
    except Exception as exc:  # noqa: BLE001 - the forward ran in `run`: seldom here
        failed = (_error_kind(adapter, exc, strict), error_message(exc))
    wrt_all = [leaf.name for leaf in program.all_leaves() if leaf.requires_grad]
    for i, action in enumerate(program.plan):
        result = ActionResult(index=i)
        try:
            if failed:
                result.error, result.message = failed
            elif isinstance(action, P.Functional):
                result.returned = _functional_api(program, adapter, action)
            elif isinstance(action, P.Backward):
                grads = recording.gradient([values[r] for r in action.roots],
                                           [values[n] for n in wrt_all],
                                           _weights(adapter, action.weights, dtype), False)
                result.grads = {n: _np(adapter, g) for n, g in zip(wrt_all, grads)}
            else:
                grads = recording.gradient([values[r] for r in action.outputs],
                                           [values[n] for n in action.inputs],
                                           _weights(adapter, action.weights, dtype),
                                           action.materialize_grads)
                result.returned = tuple(_np(adapter, g) for g in grads)
        except Exception as exc:  # noqa: BLE001
            kind = _error_kind(adapter, exc, strict)
            result.error, result.message = kind, error_message(exc)
        trace.actions.append(result)
    return trace


def _functional_api(program, adapter, action):
    """`torch.autograd.functional`'s vjp / jacobian / hessian of the program's forward as a
    function of the leaves `action.inputs` (the other leaves are rebuilt from their values);
    the engine's answer as nested tuples of arrays."""
    inner = action.function_of(program)
    prefixes = grad_prefixes(inner)

    def f(*xs):
        return build(inner, adapter, bound=dict(zip(action.inputs, xs)),
                     prefixes=prefixes).env[action.output]
    by_name = {leaf.name: leaf for leaf in program.all_leaves()}
    inputs = [adapter.tensor(by_name[n].array(program.dtype), program.dtype, False)
              for n in action.inputs]
    weight = None if action.weight is None else adapter.tensor(
        np.array(action.weight, dtype=program.dtype), program.dtype, False)
    return _nested_np(adapter, adapter.functional(action.kind, f, inputs, weight))


def _nested_np(adapter, x):
    return tuple(_nested_np(adapter, v) for v in x) if isinstance(x, (tuple, list)) \
        else _np(adapter, x)


def _functional_vjp(program, adapter, roots, weights, wrt, batched=False):
    values = {leaf.name: adapter.tensor(leaf.array(program.dtype), program.dtype, True)
              for leaf in program.all_leaves() if leaf.name in wrt}
    prefixes = grad_prefixes(program)

    def f(*primals):
        s = build(program, adapter, bound=dict(zip(wrt, primals)), prefixes=prefixes)
        return tuple(s.env[r] for r in roots)
    cotangents = [None if w is None else adapter.tensor(np.array(w, dtype=program.dtype),
                                                        program.dtype, False) for w in weights]
    if batched:  # one vjp a row of the cotangents, at once (Adapter.vjp_batched)
        return adapter.vjp_batched(f, [values[n] for n in wrt], cotangents)
    return adapter.vjp(f, [values[n] for n in wrt], cotangents)
