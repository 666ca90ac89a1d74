"""The standalone script of a program for a stateful engine (torch, Paddle, MyGrad, tinygrad):
one skeleton, each engine's spelling.

A stateful engine runs a program as the interpreter does: leaves with `.grad`, the forward
steps one by one, then each plan action, every `.grad` (and returned gradient) read after it.
Its repro script does the same in the engine's own API and prints every quantity the suite
compares as `label = [values]` lines (parsed back by tests/meta/test_repro_scripts.py and
tests/meta/test_engine_scripts.py). What differs between engines is only how each verb is
spelled, which a `Spelling` supplies; the ops are the adapter's templates
(adapters/templates.py), so the script runs exactly the code the adapter ran. A verb an
engine does not have is left to the base class, which raises `NotExpressed`: a program that
uses it gets no script (`render` returns None), never a wrong one.
"""
import numpy as np

from gradspec import program as P

from .script_parts import backward_rules, py
from .templates import first_line_source


class NotExpressed(Exception):
    """The engine's spelling has no way to write this step or action."""


def _missing(what):
    raise NotExpressed(what)


class Spelling:
    """How one stateful engine writes each part of a script. A subclass sets `header` (the
    imports and `show`/`plain`), `helpers` (the adapter's own helper source, if any),
    `modes` (grad mode -> context manager source) and implements what its engine has."""

    engine = "?"
    header = ""
    helpers = ""
    modes = {}
    errors = "Exception"  # what a plan action's `try` catches (the rest is a crash to see)

    def name(self, n):
        """How the script refers to value `n` (layer parameters are `lin0.weight`)."""
        return py(n)

    def tensor(self, values, dtype, requires_grad=False):
        raise NotImplementedError

    def tracked(self, program):
        """The leaves whose `.grad` is shown after each action: those that require grad or
        are switched to (as the interpreter reads them)."""
        switched = {s.target for s in program.steps if isinstance(s, P.RequiresGrad)}
        return [leaf.name for leaf in program.all_leaves()
                if leaf.requires_grad or leaf.name in switched]

    # ----- leaves, layers, custom Functions --------------------------------------------
    def layer(self, layer, dtype):
        """The lines building `layer` (its module, its parameters' values)."""
        _missing(f"{self.engine} scripts cannot build a {layer.kind}")

    def call_layer(self, step, layer):
        """The statement calling a layer for a Call step."""
        _missing(f"{self.engine} scripts cannot call a {layer.kind}")

    function_base = None  # the custom Function's base class, e.g. torch.autograd.Function
    saved = "ctx.saved_tensors"  # the tuple of saved tensors, in backward

    def function_notes(self, inputs):
        """Lines the custom Function's forward adds (the inputs as source), before saving."""
        return []

    def backward_wrapper(self, spec):
        """The lines of a `backward` that calls the rules (then written as `_rules`) and
        adapts what they return to the engine's contract, or None: the rules are `backward`."""
        return None

    def function(self, spec, ops):
        """A custom Function class computing `spec` as the adapter runs it."""
        if self.function_base is None:
            _missing(f"{self.engine} scripts cannot write custom Functions")
        return function_class(spec, ops, self)

    def apply(self, step):
        return f"{', '.join(step.outs)}, = {step.function}.apply(" \
               f"{', '.join(map(self.name, step.args))})"

    # ----- forward steps -----------------------------------------------------------------
    def detach(self, src):
        return f"{src}.detach()"

    def retain_grad(self, target):
        _missing(f"{self.engine} scripts cannot retain a gradient")

    def requires_grad_(self, target, flag):
        return f"{target}.requires_grad_({flag!r})"

    def register_hook(self, target, fn):
        """The expression registering tensor hook `fn` on `target` (its handle)."""
        _missing(f"{self.engine} scripts cannot register tensor hooks")

    def remove_hook(self, handle):
        return f"{handle}.remove()"

    def post_accumulate_hook(self, step, fn):
        _missing(f"{self.engine} scripts cannot register post-accumulate hooks")

    def module_hook(self, step, fn):
        _missing(f"{self.engine} scripts cannot register module hooks")

    # ----- plan actions (and GradStep, a gradient as a value) ----------------------------
    def backward(self, roots, weights, retain_graph, create_graph):
        """The statement of a backward: roots and weights as lists of source ('None': an
        implicit gradient)."""
        raise NotImplementedError

    def grad(self, outputs, inputs, weights, options):
        """The expression of autograd.grad (lists of source, as in `backward`); `options`
        holds the keyword arguments that differ from their defaults (retain_graph,
        allow_unused, create_graph, materialize_grads, is_grads_batched), in that order."""
        _missing(f"{self.engine} scripts cannot write autograd.grad")

    def requires_grad(self, expr):
        """The expression: does tensor `expr` require grad?"""
        return f"{expr}.requires_grad"

    def zero_grad(self, names, set_to_none):
        """The lines of zero_grad over the leaves `names` (as source)."""
        _missing(f"{self.engine} scripts cannot write zero_grad")

    def functional(self, action, f, dtype):
        """The expression of a Functional action (vjp, jacobian, hessian) of function `f`."""
        _missing(f"{self.engine} scripts cannot write functional transforms")

    def error(self, name):
        """The line printing an error, as the trace keeps it (its first line)."""
        return f"print('error:', {first_line_source(name)})"


def render(program, ops, inplace, spelling):
    """The script of `program`, or None when the spelling cannot express part of it."""
    try:
        return _render(program, ops, inplace, spelling)
    except NotExpressed:
        return None


def _render(program, ops, inplace, s):
    dt = program.dtype
    out = [s.header]
    if s.helpers:
        out += ["# ---- helpers (the adapter runs the same code) ----", s.helpers.strip(), "",
                ""]
    out += ["# ---- leaves and layers ----"] + _leaves_and_layers(program, s)
    for spec in program.functions:
        out += ["", s.function(spec, ops)]
    out.append("# ---- forward ----")
    out += _forward(program, ops, inplace, s)
    tracked = s.tracked(program)
    retained = [t for t in dict.fromkeys(st.target for st in program.steps
                                         if isinstance(st, P.RetainGrad)) if t not in tracked]
    graph_of_grads = any(getattr(a, "create_graph", False) for a in program.plan)
    out.append("# ---- backward plan ----")
    for i, action in enumerate(program.plan):
        out.append(f"print('--- plan[{i}] ---')")
        if isinstance(action, P.Functional):
            out += _function_of_leaves(program, action, ops, inplace, f"_fn{i}", s)
        # Underscored names in the script's own code: a leaf may be called `e` or `p`.
        lines = _action(action, dt, tracked, f"_fn{i}", s, program)
        out += ["try:"] + [f"    {line}" for line in lines]
        out += [f"except {s.errors} as _error:", f"    {s.error('_error')}"]
        for name in tracked:
            out.append(f"show('{name}.grad', {s.name(name)}.grad)")
            if graph_of_grads:
                grad = f"{s.name(name)}.grad"
                out.append(f"print('{name}.grad.requires_grad =', {grad} is not None "
                           f"and {s.requires_grad(grad)})")
        out += [f"show('{name}.grad', {s.name(name)}.grad)" for name in retained]
    return "\n".join(out) + "\n"


def weights_source(weights, dtype, s):
    return ["None" if w is None else s.tensor(w, dtype) for w in weights]


def hook_numbers(program):
    """{index of a hook step of `program`: n}: the script names that hook `hook{n}`, its
    handle `handle{n}`, counting from 1 in program order."""
    hooks = (P.TensorHook, P.PostAccumulateHook, P.ModuleHook)
    indices = [i for i, st in enumerate(program.steps) if isinstance(st, hooks)]
    return {i: n for n, i in enumerate(indices, start=1)}


def _action(action, dt, tracked, function_name, s, program):
    """The lines of one plan action, inside its `try`."""
    names = s.name
    if isinstance(action, P.Functional):
        return [f"show('returned', {s.functional(action, function_name, dt)})"]
    if isinstance(action, P.Backward):
        return s.backward(list(map(names, action.roots)), weights_source(action.weights, dt, s),
                          action.retain_graph, action.create_graph).split("\n")
    if isinstance(action, P.Grad):
        options = {"retain_graph": action.retain_graph, "allow_unused": action.allow_unused}
        options.update({k: True for k in ("create_graph", "materialize_grads")
                        if getattr(action, k)})
        if action.batched:
            options["is_grads_batched"] = True
        grad = s.grad(list(map(names, action.outputs)), list(map(names, action.inputs)),
                      weights_source(action.weights, dt, s), options)
        return [f"show('returned', {grad})"]
    if isinstance(action, P.BackwardThroughGrad):
        leaves = ", ".join(map(names, action.leaves))
        weights = ", ".join(weights_source(action.weights, dt, s))
        return [f"_pairs = [(_l.grad, _w) for _l, _w in zip([{leaves}], [{weights}])",
                f"          if _l.grad is not None and {s.requires_grad('_l.grad')}]",
                "if _pairs:  # backward through the .grad that requires grad",
                "    " + s.backward(["*[_g for _g, _ in _pairs]"], ["*[_w for _, _w in _pairs]"],
                                    action.retain_graph, False)]
    if isinstance(action, P.ZeroGrad):
        return s.zero_grad([names(n) for n in tracked], action.set_to_none)
    if isinstance(action, P.RemoveHooks):
        steps = program.steps
        return [s.remove_hook(f"handle{n}") for i, n in hook_numbers(program).items()
                if isinstance(steps[i], P.TensorHook) and steps[i].target == action.target]
    _missing(f"{s.engine} scripts cannot express {action!r}")


def _leaves_and_layers(program, s, skip=()):
    """The leaves (but those in `skip`) and the layers with their parameters."""
    dt = program.dtype
    out = [f"{s.name(leaf.name)} = {s.tensor(_values(leaf), dt, leaf.requires_grad)}"
           for leaf in program.leaves if leaf.name not in skip]
    for layer in program.layers:
        out += s.layer(layer, dt)
    return out


def _values(leaf):
    return np.array(leaf.values, dtype=np.float64).reshape(leaf.shape).tolist()


def _function_of_leaves(program, action, ops, inplace, name, s):
    """The program's forward as a function of `action.inputs`, returning `action.output`."""
    inner = action.function_of(program)
    body = _leaves_and_layers(inner, s, skip=action.inputs) + _forward(inner, ops, inplace, s)
    ins = ", ".join(map(s.name, action.inputs))
    return [f"def {name}({ins}):",
            f'    """The forward (hooks left out) as a function of {ins}."""'
            ] + [f"    {line}" for line in body] + [f"    return {s.name(action.output)}"]


def _forward(program, ops, inplace, s):
    """The program's steps, one line each (hooks: their definition and registration).
    An in-place step is its template's line as it ran (`t3.mul_(t1)`, `t3[0, 1:3] = t1`): it
    modifies `target`, which keeps its name. One that raises (a leaf that requires grad)
    raises in the script too, as any forward error does."""
    dt, names = program.dtype, s.name
    out, numbers = [], hook_numbers(program)
    removed = {a.target for a in program.plan if isinstance(a, P.RemoveHooks)}
    for i, step in enumerate(program.steps):
        n = numbers.get(i)  # a hook step's number
        if isinstance(step, P.Op):
            code = ops.source(step.op, list(map(names, step.args)), step.kw)
            for depth, mode in enumerate(step.contexts):
                if mode not in s.modes:
                    _missing(f"{s.engine} scripts cannot enter {mode}")
                out.append("    " * depth + f"with {s.modes[mode]}:")
            out.append("    " * len(step.contexts) + f"{step.out} = {code}")
        elif isinstance(step, P.MultiOp):
            code = ops.source(step.op, list(map(names, step.args)), step.kw)
            out.append(f"{', '.join(step.outs)}, = {code}")
        elif isinstance(step, P.InPlace):
            out.append(inplace.source(step.op, [step.target, *map(names, step.args)], step.kw))
        elif isinstance(step, P.Call):
            out.append(s.call_layer(step, program.layer(step.layer)))
        elif isinstance(step, P.CallFunction):
            out.append(s.apply(step))
        elif isinstance(step, P.GradStep):
            grad = s.grad(list(map(names, step.outputs)), list(map(names, step.inputs)),
                          weights_source(step.weights, dt, s), {"create_graph": True})
            out.append(f"{', '.join(step.outs)}, = {grad}")
        elif isinstance(step, P.Detach):
            out.append(f"{step.out} = {s.detach(names(step.src))}")
        elif isinstance(step, P.RetainGrad):
            out.append(s.retain_grad(names(step.target)))
        elif isinstance(step, P.RequiresGrad):
            out.append(s.requires_grad_(names(step.target), step.flag))
        elif isinstance(step, P.TensorHook):
            ret = "None" if step.scale is None else \
                f"None if grad is None else grad * {step.scale!r}"
            out += [f"def hook{n}(grad):", f"    show('hook on {step.target}', grad)"]
            if step.once:  # it removes itself through its handle
                out.append(f"    {s.remove_hook(f'handle{n}')}")
            register = s.register_hook(names(step.target), f"hook{n}")
            kept = step.once or step.target in removed  # a handle the script uses later
            out += [f"    return {ret}", f"handle{n} = {register}" if kept else register]
        elif isinstance(step, P.PostAccumulateHook):
            out += s.post_accumulate_hook(step, f"hook{n}")
        elif isinstance(step, P.ModuleHook):
            out += s.module_hook(step, f"hook{n}")
        else:
            _missing(f"{s.engine} scripts cannot express {step!r}")
    return out


def function_class(spec, ops, s):
    """A custom Function (torch's autograd.Function, Paddle's PyLayer) computing `spec`:
    forward from the spec's expressions, saving what it saves, backward by its rules."""
    n, k = spec.n_inputs, len(spec.forward)
    ins = [f"x{i}" for i in range(n)]
    lines = [f"class {spec.name}({s.function_base}):", "    @staticmethod",
             f"    def forward(ctx, {', '.join(ins)}):"]
    for j, expr in enumerate(spec.forward):
        params = {"c": expr[2]} if expr[0] == "scale" else {}
        lines.append(f"        y{j} = {ops.source(expr[0], [ins[i] for i in expr[1]], params)}")
    saved = [ins[i] if kind == "input" else f"y{i}" for kind, i in spec.saved]
    lines += [f"        {line}" for line in s.function_notes(ins)]
    lines.append(f"        ctx.save_for_backward({', '.join(saved)})")
    if not spec.materialize_grads:
        lines.append("        ctx.set_materialize_grads(False)")
    if spec.non_differentiable:
        lines.append("        ctx.mark_non_differentiable("
                     + ", ".join(f"y{j}" for j in spec.non_differentiable) + ")")
    lines.append(f"        return {', '.join(f'y{j}' for j in range(k))},")
    wrapper = s.backward_wrapper(spec)
    lines += ["", "    @staticmethod",
              f"    def {'_rules' if wrapper else 'backward'}(ctx, "
              f"{', '.join(f'g{j}' for j in range(k))}):"]
    if saved:
        lines.append(f"        {''.join(f's{i}, ' for i in range(len(saved)))}= {s.saved}")
    if any(rule.check_needs for rule in spec.backward):
        lines.append("        needs_input_grad = ctx.needs_input_grad")
    lines += backward_rules(spec, ops, "        ")
    if wrapper:
        lines += [""] + [f"    {line}" for line in wrapper]
    return "\n".join(lines) + "\n"

