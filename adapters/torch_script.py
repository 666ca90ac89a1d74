"""Render a Program as a standalone torch script: the repro a user can run and report.

The ops are printed from the same templates the adapter executes (adapters/torch_ops.py), so
the script computes what the suite computed. It prints every recorded quantity as
`name = [values]` lines, which tests/meta/test_repro_scripts.py parses back.
"""
from gradspec import program as P

from .templates import first_line_source, literal

HEADER = '''import torch

torch.set_printoptions(precision=10)


def show(label, t):
    """Print a recorded quantity: a tensor, None, or (nested) tuples of them."""
    print(label, "=", plain(t))


def plain(t):
    if isinstance(t, (tuple, list)):
        return [plain(x) for x in t]
    return None if t is None else t.detach().tolist()

'''


MODES = {"no_grad": "torch.no_grad()", "enable_grad": "torch.enable_grad()",
         "set_grad_enabled(False)": "torch.set_grad_enabled(False)",
         "set_grad_enabled(True)": "torch.set_grad_enabled(True)",
         "inference_mode": "torch.inference_mode()"}


def _tensor(values_nested, dtype, requires_grad=False):
    rg = ", requires_grad=True" if requires_grad else ""
    return f"torch.tensor({literal(values_nested)}, dtype=torch.{dtype}{rg})"


def _leaf_values(leaf):
    import numpy as np
    arr = np.array(leaf.values, dtype=np.float64).reshape(leaf.shape)
    return arr.tolist()


def _function_source(spec, ops):
    n, k = spec.n_inputs, len(spec.forward)
    ins = [f"x{i}" for i in range(n)]
    lines = [f"class {spec.name}(torch.autograd.Function):", "    @staticmethod",
             f"    def forward(ctx, {', '.join(ins)}):"]
    for j, expr in enumerate(spec.forward):
        args = [ins[i] for i in expr[1]]
        params = {"c": expr[2]} if expr[0] == "scale" else {}
        lines.append(f"        y{j} = {ops.source(expr[0], args, params)}")
    saved = [ins[i] if kind == "input" else f"y{i}" for kind, i in spec.saved]
    lines.append(f"        ctx.save_for_backward({', '.join(saved)})")
    if not spec.materialize_grads:
        lines.append("        ctx.set_materialize_grads(False)")
    if spec.non_differentiable:
        lines.append("        ctx.mark_non_differentiable("
                     + ", ".join(f"y{j}" for j in spec.non_differentiable) + ")")
    lines.append(f"        return {', '.join(f'y{j}' for j in range(k))},")
    grads = [f"g{j}" for j in range(k)]
    lines += ["", "    @staticmethod", f"    def backward(ctx, {', '.join(grads)}):"]
    if saved:
        lines.append(f"        {', '.join(f's{i}' for i in range(len(saved)))}, = ctx.saved_tensors")
    results = []
    for i, rule in enumerate(spec.backward):
        name = f"gx{i}"
        results.append(name)
        lines.append(f"        {name} = None")
        body = []
        for term in rule.terms:
            expr = f"g{term.output}"
            kind = term.factor[0]
            if kind == "const":
                expr = f"{expr} * {term.factor[1]!r}"
            elif kind == "saved":
                expr = f"{expr} * s{term.factor[1]}"
            elif kind == "cos_saved":
                expr = f"{expr} * torch.cos(s{term.factor[1]})"
            guard = f"if g{term.output} is not None: " if not spec.materialize_grads else ""
            body.append(f"{guard}{name} = {expr} if {name} is None else {name} + {expr}")
        if rule.check_needs:
            lines.append(f"        if ctx.needs_input_grad[{i}]:")
            lines += [f"            {line}" for line in body] or ["            pass"]
        else:
            lines += [f"        {line}" for line in body]
    if spec.grad_shape_error:
        lines.append("        if gx0 is not None:  # deliberately the wrong shape")
        lines.append("            gx0 = torch.cat([gx0.reshape(-1), gx0.reshape(-1)])")
    if spec.extra_grads:  # deliberately too many, added only where g0 exists (as run)
        extra = ", ".join(["g0 * 1.0"] * spec.extra_grads)
        lines.append(f"        extra = () if g0 is None else ({extra},)")
        lines.append(f"        return ({', '.join(results)},) + extra")
    else:
        lines.append(f"        return {', '.join(results)},")
    return "\n".join(lines) + "\n"


def render(program, adapter):
    ops, inplace = adapter.op, adapter.inplace_ops
    dt = program.dtype
    out = [HEADER, "# ---- leaves and layers ----"] + _leaves_and_layers(program)
    for spec in program.functions:
        out += ["", _function_source(spec, ops)]
    out.append("# ---- forward ----")
    out += _forward(program, ops, inplace)
    switched = {s.target for s in program.steps if isinstance(s, P.RequiresGrad)}
    tracked = [leaf.name for leaf in program.all_leaves()
               if leaf.requires_grad or leaf.name in switched]
    retained = [s.target for s in program.steps if isinstance(s, P.RetainGrad)]
    graph_of_grads = any(getattr(a, "create_graph", False) for a in program.plan)
    out.append("# ---- backward plan ----")
    for i, action in enumerate(program.plan):
        out.append(f"print('--- plan[{i}] ---')")
        if isinstance(action, P.Functional):
            out += _function_of_leaves(program, action, ops, inplace, f"f{i}")
        out.append("try:")
        out.append(f"    {_action_source(action, dt, tracked, f'f{i}')}")
        # Underscored names: a leaf may be called `e` or `p`.
        out.append("except RuntimeError as _error:")
        out.append(f"    print('error:', {first_line_source('_error')})")
        for name in tracked:
            out.append(f"show('{name}.grad', {name}.grad)")
            if graph_of_grads:
                out.append(f"print('{name}.grad.requires_grad =', {name}.grad is not None "
                           f"and {name}.grad.requires_grad)")
        for name in dict.fromkeys(retained):
            out.append(f"show('{name}.grad', {name}.grad)")
    return "\n".join(out) + "\n"


def _weights_source(weights, dt):
    return "[" + ", ".join("None" if w is None else _tensor(w, dt) for w in weights) + "]"


def _function_of_leaves(program, action, ops, inplace, name):
    """The program's forward as a function of `action.inputs`, returning `action.output`."""
    inner = action.function_of(program)
    body = _leaves_and_layers(inner, skip=action.inputs) + _forward(inner, ops, inplace)
    return [f"def {name}({', '.join(action.inputs)}):",
            f'    """The forward (hooks left out) as a function of {", ".join(action.inputs)}."""'
            ] + [f"    {line}" for line in body] + [f"    return {action.output}"]


FUNCTIONAL_CALLS = {
    "vjp": "(lambda r: (r[0],) + tuple(r[1]))(torch.autograd.functional.vjp({f}, ({inputs},), "
           "{weight}))",
    "jacobian": "torch.autograd.functional.jacobian({f}, ({inputs},))",
    "hessian": "torch.autograd.functional.hessian({f}, ({inputs},))",
}


def _action_source(action, dt, tracked, function_name=None):
    if isinstance(action, P.Functional):
        weight = "None" if action.weight is None else _tensor(action.weight, dt)
        call = FUNCTIONAL_CALLS[action.kind].format(f=function_name, weight=weight,
                                                    inputs=", ".join(action.inputs))
        return f"show('returned', {call})"
    if isinstance(action, P.Backward):
        return (f"torch.autograd.backward([{', '.join(action.roots)}], "
                f"{_weights_source(action.weights, dt)}, retain_graph={action.retain_graph!r}"
                + (", create_graph=True)" if action.create_graph else ")"))
    if isinstance(action, P.Grad):
        return (f"show('returned', torch.autograd.grad([{', '.join(action.outputs)}], "
                f"[{', '.join(action.inputs)}], {_weights_source(action.weights, dt)}, "
                f"retain_graph={action.retain_graph!r}, allow_unused={action.allow_unused!r}"
                + (", create_graph=True" if action.create_graph else "")
                + (", materialize_grads=True" if action.materialize_grads else "") + "))")
    if isinstance(action, P.BackwardThroughGrad):
        return (f"_pairs = [(_l.grad, _w) for _l, _w in zip([{', '.join(action.leaves)}], "
                f"{_weights_source(action.weights, dt)})\n"
                "              if _l.grad is not None and _l.grad.requires_grad]\n"
                "    if _pairs:  # backward through the .grad that requires grad\n"
                "        torch.autograd.backward([_g for _g, _ in _pairs], [_w for _, _w in "
                f"_pairs], retain_graph={action.retain_graph!r})")
    if isinstance(action, P.ZeroGrad):
        body = "_p.grad = None" if action.set_to_none else "_p.grad.detach_(); _p.grad.zero_()"
        return (f"for _p in [{', '.join(tracked)}]:\n"
                f"        if _p.grad is not None: {body}")
    raise TypeError(action)


def _leaves_and_layers(program, skip=()):
    """The leaves (but those in `skip`) and the layers with their parameters."""
    dt = program.dtype
    out = [f"{leaf.name} = {_tensor(_leaf_values(leaf), dt, leaf.requires_grad)}"
           for leaf in program.leaves if leaf.name not in skip]
    cls = {"linear": "Linear", "rnn_cell": "RNNCell", "lstm_cell": "LSTMCell"}
    for layer in program.layers:
        out.append(f"{layer.name} = torch.nn.{cls[layer.kind]}({layer.in_features}, "
                   f"{layer.out_features}, bias={layer.bias}, dtype=torch.{dt})")
        out.append("with torch.no_grad():")
        for p in layer.params:
            out.append(f"    {p.name}.copy_({_tensor(_leaf_values(p), dt)})")
    return out


def _forward(program, ops, inplace):
    """The program's steps, one line each (hooks: their definition and registration).
    An in-place step is its template's line as it ran (`t3.mul_(t1)`, `t3[0, 1:3] = t1`): it
    modifies `target`, which keeps its name. One that raises (a leaf that requires grad)
    raises in the script too, as any forward error does."""
    dt = program.dtype
    out = []
    hooks = 0
    for step in program.steps:
        if isinstance(step, P.Op):
            code = ops.source(step.op, list(step.args), step.kw)
            for depth, mode in enumerate(step.contexts):
                out.append("    " * depth + f"with {MODES[mode]}:")
            out.append("    " * len(step.contexts) + f"{step.out} = {code}")
        elif isinstance(step, P.MultiOp):
            code = ops.source(step.op, list(step.args), step.kw)
            out.append(f"{', '.join(step.outs)}, = {code}")
        elif isinstance(step, P.InPlace):
            out.append(inplace.source(step.op, [step.target, *step.args], step.kw))
        elif isinstance(step, P.Call):
            layer = program.layer(step.layer)
            a = list(step.args)
            if layer.kind == "lstm_cell":
                call = f"{layer.name}({a[0]})" if a[1] is None else \
                    f"{layer.name}({a[0]}, ({a[1]}, {a[2]}))"
            elif layer.kind == "rnn_cell" and a[1] is not None:
                call = f"{layer.name}({a[0]}, {a[1]})"
            else:
                call = f"{layer.name}({a[0]})"
            out.append(f"{', '.join(step.outs)}{',' if len(step.outs) == 1 else ''} = {call}"
                       if layer.kind == "lstm_cell" else f"{step.outs[0]} = {call}")
        elif isinstance(step, P.CallFunction):
            out.append(f"{', '.join(step.outs)}, = {step.function}.apply({', '.join(step.args)})")
        elif isinstance(step, P.GradStep):
            out.append(f"{', '.join(step.outs)}, = torch.autograd.grad([{', '.join(step.outputs)}]"
                       f", [{', '.join(step.inputs)}], {_weights_source(step.weights, dt)}, "
                       "create_graph=True)")
        elif isinstance(step, P.Detach):
            out.append(f"{step.out} = {step.src}.detach()")
        elif isinstance(step, P.RetainGrad):
            out.append(f"{step.target}.retain_grad()")
        elif isinstance(step, P.RequiresGrad):
            out.append(f"{step.target}.requires_grad_({step.flag!r})")
        elif isinstance(step, P.TensorHook):
            hooks += 1
            ret = "None" if step.scale is None else f"None if grad is None else grad * {step.scale!r}"
            out += [f"def hook{hooks}(grad):", f"    show('hook on {step.target}', grad)"]
            if step.once:  # it removes itself through its handle
                out.append(f"    handle{hooks}.remove()")
            out += [f"    return {ret}",
                    f"{'handle%d = ' % hooks if step.once else ''}"
                    f"{step.target}.register_hook(hook{hooks})"]
        elif isinstance(step, P.PostAccumulateHook):
            hooks += 1
            out += [f"def hook{hooks}(p):  # after p.grad was accumulated",
                    "    _grad = None if p.grad is None else p.grad.detach().clone()"]
            if step.lr is not None:
                out += ["    if _grad is not None:  # an optimizer's step, in place",
                        "        with torch.no_grad():",
                        f"            p.add_(p.grad, alpha={-step.lr!r})"]
            out.append(f"    show('post-accumulate hook on {step.target}', (_grad, p))")
            if step.clear:
                out.append("    p.grad = None")
            out.append(f"{step.target}.register_post_accumulate_grad_hook(hook{hooks})")
        elif isinstance(step, P.ModuleHook):
            hooks += 1
            ret = "None" if step.scale is None else \
                f"tuple(None if g is None else g * {step.scale!r} for g in grad_input)"
            out += [f"def hook{hooks}(module, grad_input, grad_output):",
                    f"    show('module hook on {step.layer} grad_input', grad_input)",
                    f"    show('module hook on {step.layer} grad_output', grad_output)",
                    f"    return {ret}", f"{step.layer}.register_full_backward_hook(hook{hooks})"]
    return out
