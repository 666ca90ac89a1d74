"""The standalone script of a program for a functional engine (JAX, TensorFlow, torch.func):
one skeleton, each engine's spelling.

A functional adapter runs a program as a pure function of its leaves, and each plan action as
one vjp of it (gradspec/adapter.py states the contract). Its repro script does the same in the
engine's own API: the leaves, a function `program(...)` computing every value, the forward
values printed, then each action's vjp (or functional transform) printed, or its error. What
differs between engines is only how a step or a call is spelled, which a `Spelling` supplies;
the ops themselves are the adapter's templates (adapters/templates.py), so the script runs
exactly the code the adapter ran.
"""
import numpy as np

from gradspec import program as P

from .script_parts import py
from .templates import first_line_source


class Spelling:
    """How one engine writes each part of the script. Subclasses set `engine`, `header` (the
    imports, `show`/`plain`, and a `vjp(f, primals, cotangents)` helper whose None cotangent is
    an implicit gradient) and implement the methods that raise here."""

    engine = "?"
    header = ""
    helpers = ""  # the adapter's own helper source, printed after the header

    def array(self, values, dtype):
        raise NotImplementedError

    def detach(self, src):
        raise NotImplementedError

    def no_grad(self, out, code):
        """The statement computing `out = code` without recording it."""
        raise NotImplementedError

    def layer(self, step, layer):
        """The statement calling a layer (Linear, RNNCell, LSTMCell) for a Call step."""
        outs = ", ".join(step.outs) + ("," if layer.kind == "lstm_cell" else "")
        args = ", ".join("None" if a is None else py(a) for a in step.args)
        params = ", ".join(py(p.name) for p in layer.params)
        return f"{outs} = {layer.kind}({args}, {params})"

    def layer_prelude(self, layer, dtype):
        """Lines before `program` for a layer (e.g. building its module); none by default."""
        return []

    def call_function(self, step):
        return f"{', '.join(step.outs)}, = {step.function}({', '.join(map(py, step.args))})"

    def function(self, spec, ops):
        """The source of a custom Function computing `spec` as the adapter runs it."""
        raise NotImplementedError

    def primals(self, names):
        """A vjp's primals, as source."""
        return f"({''.join(n + ', ' for n in names)})"

    def vjp(self, f, names, cotangents):
        """The expression differentiating `f` at the primals `names` with these cotangents
        (sources, 'None' for an implicit gradient)."""
        return f"vjp({f}, {self.primals(names)}, ({''.join(c + ', ' for c in cotangents)}))"

    def plan_vjp(self, f, names, cotangents):
        """A plan action's vjp (the adapter may run it differently from a nested one)."""
        return self.vjp(f, names, cotangents)

    def plan_vjp_batched(self, f, names, cotangents):
        """A batched Grad's vjps, one a row of the cotangents (`Adapter.vjp_batched`)."""
        return f"vjp_batched({f}, ({', '.join(names)},), ({', '.join(cotangents)},))"

    def functional(self, action, f, names, dtype):
        """The lines computing and showing a Functional action (vjp, jacobian, hessian)."""
        raise NotImplementedError

    # An adapter with a recorded forward (`Adapter.record`) sets `recorded` and spells both:
    # the script then computes every value once while recording, and asks each plan action
    # of that recording, as the interpreter does (gradspec/interpreter.py, `_run_recorded`).
    recorded = False

    def record(self, f, names, persistent):
        """The lines running `values = f(*names)` while recording, names being the watched
        leaves."""
        raise NotImplementedError

    def gradient(self, targets, sources, cotangents, materialize):
        """The expression of one gradient of the recording: targets and sources as source
        (entries of `values`), cotangents as in `vjp`."""
        raise NotImplementedError

    def error(self, name):
        """The line printing an error, as the trace keeps it."""
        return f"print('error:', {first_line_source(name)})"


def render(program, ops, spelling):
    dt, s = program.dtype, spelling
    leaves = [leaf.name for leaf in program.all_leaves()]
    out = [s.header]
    if s.helpers:
        out += ["# ---- helpers (the adapter runs the same code) ----", s.helpers.strip(), "",
                ""]
    out.append("# ---- leaves (and layer parameters) ----")
    for leaf in program.all_leaves():
        values = np.array(leaf.values, dtype=np.float64).reshape(leaf.shape).tolist()
        out.append(f"{py(leaf.name)} = {s.array(values, dt)}")
    for layer in program.layers:
        out += s.layer_prelude(layer, dt)
    for spec in program.functions:
        out += ["", "", s.function(spec, ops)]
    names = leaves + [o for step in program.steps
                      for o in (step.outs if hasattr(step, "outs") else (step.out,))]
    out += ["", "def program(" + ", ".join(map(py, leaves)) + "):",
            '    """Every value of the program, from its leaves."""']
    out += [f"    {line}" for step in program.steps
            for line in _step(step, program, ops, s).split("\n")]
    out.append("    return {" + ", ".join(f"{n!r}: {py(n)}" for n in names) + "}")
    call = f"program({', '.join(map(py, leaves))})"
    if s.recorded:
        from gradspec.interpreter import recorded_persistent, recorded_sources
        out += ["", "", "# ---- forward, recorded once: each plan action is a gradient of it "
                "----"]
        out += s.record(call, list(map(py, recorded_sources(program))),
                        recorded_persistent(program))
        out += ["for _name, _value in values.items():", "    show(_name, _value)",
                f"# ---- the plan: each action asks the {s.engine} recording ----"]
    else:
        out += ["", "", "# ---- forward ----", f"values = {call}",
                "for _name, _value in values.items():", "    show(_name, _value)",
                f"# ---- the plan: each action is one {s.engine} vjp of the program ----"]
    wrt_all = [leaf.name for leaf in program.all_leaves() if leaf.requires_grad]
    for i, action in enumerate(program.plan):
        out += [f"print('--- plan[{i}] ---')", ""]
        if s.recorded and isinstance(action, (P.Backward, P.Grad)):
            backward = isinstance(action, P.Backward)
            roots, wrt = (action.roots, wrt_all) if backward else (action.outputs,
                                                                  action.inputs)
            cts = ["None" if w is None else s.array(w, dt) for w in action.weights]
            expr = s.gradient(f"[{', '.join(f'values[{r!r}]' for r in roots)}]",
                              f"[{', '.join(f'values[{n!r}]' for n in wrt)}]", cts,
                              not backward and action.materialize_grads)
            out += ["try:", f"    grads = {expr}"]
            out += [f"    show('{n}.grad', grads[{k}])" for k, n in enumerate(wrt)] if backward \
                else ["    show('returned', grads)"]
        elif isinstance(action, P.Functional):
            ins = list(map(py, action.inputs))
            out += [f"def _fn{i}({', '.join(ins)}):",
                    f"    return program({', '.join(map(py, leaves))})[{action.output!r}]",
                    "", "", "try:"]
            out += [f"    {line}" for line in s.functional(action, f"_fn{i}", ins, dt)]
        else:
            if isinstance(action, P.Backward):
                roots, wrt = action.roots, wrt_all
            elif isinstance(action, P.Grad):
                roots, wrt = action.outputs, list(action.inputs)
            else:
                raise TypeError(f"{s.engine} cannot express {action!r}")
            cts = ["None" if w is None else s.array(w, dt) for w in action.weights]
            vjp = s.plan_vjp_batched if getattr(action, "batched", False) else s.plan_vjp
            # The differentiated leaves are f's parameters; the others are constants.
            out += [f"def _fn{i}({', '.join(map(py, wrt))}):",
                    f"    v = program({', '.join(map(py, leaves))})",
                    f"    return ({''.join(f'v[{r!r}], ' for r in roots)})", "", "",
                    "try:", f"    grads = {vjp(f'_fn{i}', list(map(py, wrt)), cts)}"]
            if isinstance(action, P.Backward):
                out += [f"    show('{n}.grad', grads[{k}])" for k, n in enumerate(wrt)]
            else:
                out.append("    show('returned', grads)")
        out += ["except Exception as _error:", f"    {s.error('_error')}"]
    return "\n".join(out) + "\n"


def _step(step, program, ops, s):
    if isinstance(step, P.Op):
        code = ops.source(step.op, [py(a) for a in step.args], step.kw)
        return s.no_grad(step.out, code) if step.no_grad else f"{step.out} = {code}"
    if isinstance(step, P.MultiOp):
        code = ops.source(step.op, [py(a) for a in step.args], step.kw)
        return f"{', '.join(step.outs)}, = {code}"
    if isinstance(step, P.Call):
        return s.layer(step, program.layer(step.layer))
    if isinstance(step, P.CallFunction):
        return s.call_function(step)
    if isinstance(step, P.Detach):
        return f"{step.out} = {s.detach(py(step.src))}"
    if isinstance(step, P.GradStep):
        return _grad_step(step, program, ops, s)
    raise TypeError(f"{s.engine} cannot express {step!r}")


def _grad_step(step, program, ops, s):
    """A gradient as a value: a vjp nested in the program, of the steps before this one as a
    function of the step's inputs (leaves), as the adapter runs it."""
    leaves = ", ".join(py(leaf.name) for leaf in program.all_leaves())
    name = f"upto_{step.outs[0]}"
    lines = [f"def {name}({leaves}):"]
    for before in program.steps[:program.steps.index(step)]:
        lines += [f"    {line}" for line in _step(before, program, ops, s).split("\n")]
    lines.append(f"    return ({''.join(py(o) + ', ' for o in step.outputs)})")
    ins = [py(i) for i in step.inputs]
    cts = ["None" if w is None else s.array(w, program.dtype) for w in step.weights]
    lines.append(f"{''.join(o + ', ' for o in step.outs)}= "
                 + s.vjp(f"lambda {', '.join(ins)}: {name}({leaves})", ins, cts))
    return "\n".join(lines)
