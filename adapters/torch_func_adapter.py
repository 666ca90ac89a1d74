"""torch.func (functorch's transforms) as a functional engine: `--backend torch-func`.

torch.func differentiates a Python function of tensors, as JAX does, with none of eager
autograd's state: the interpreter asks this adapter for `vjp(f, primals, cotangents)` of the
program as a pure function (gradspec/adapter.py states that contract), and each feature is
expressed the way a torch.func user writes it:
- gradient weights / several roots: `torch.func.vjp` with the weights as cotangents; an
  implicit (None) weight is `torch.func.grad` of that root (it raises torch.func's own error
  on a non-scalar root), a ones cotangent otherwise;
- detach and no_grad: `Tensor.detach()` and `torch.no_grad()` inside the function, which
  torch.func's transforms respect (its docs: "grad respects the inner torch.no_grad");
- custom Functions: `torch.autograd.Function` with a separate `setup_context`, the form
  torch.func requires (ctx.save_for_backward, needs_input_grad, set_materialize_grads,
  mark_non_differentiable);
- layers: the module's own `nn.Linear` / `nn.RNNCell` / `nn.LSTMCell` run by
  `torch.func.functional_call` with the parameters bound as the function's inputs;
- gradients as values (create_graph): a `torch.func.vjp` nested in the function the outer
  one differentiates; the functional API: `torch.func.vjp`, `jacrev`, `hessian`.

Ops are torch's own templates (adapters/torch_ops.py), so a repro script is the same code.
"""
import os

from gradspec.functions import saved_tensors

from gradspec.adapter import Adapter
from .functional_script import Spelling, render
from .script_parts import backward_rules, py
from .templates import TemplateOps, literal
from .torch_adapter import LAYER_PARAMS, TORCH_ERRORS, zero_tensor_safe_numpy
from .torch_ops import TORCH_TEMPLATES

# torch.func's own messages -> normalized error kinds, before eager torch's (TORCH_ERRORS).
FUNC_ERRORS = (
    ("Expected f(*args) to return a scalar Tensor", "nonscalar_implicit_grad"),
    ("Expected vjp's cotangent", "grad_shape_mismatch"),
) + TORCH_ERRORS


class TorchFuncAdapter(Adapter):
    name = "torch-func"
    # Missing, and why: stateful_grad, zero_grad, retain_graph, retain_grad, grad_wrt_nonleaf
    # (a transform keeps no .grad and no graph between calls, and has no handle on an
    # intermediate value); tensor_hooks, module_hooks, post_accumulate_hooks (hooks belong to
    # eager autograd's graph); inplace (in-place ops inside transforms are supported only
    # where eager autograd's version counter is not what is tested); grad_modes beyond no_grad.
    capabilities = frozenset({
        "float64", "float32", "nonscalar_backward", "multi_root", "functional_grad", "detach",
        "no_grad", "layers", "custom_function", "error_kinds", "needs_input_grad",
        "create_graph", "materialize_grads", "non_differentiable", "materialize_unused_grads",
        "functional_api", "multi_output", "batched_grad",
    })
    ops = frozenset(TORCH_TEMPLATES)

    def __init__(self):
        import torch
        import torch.func  # noqa: F401 - the transforms
        self.torch = torch
        if not os.environ.get("OMP_NUM_THREADS"):
            torch.set_num_threads(1)  # tiny tensors (see adapters/torch_adapter.py)
        self.op = TemplateOps(TORCH_TEMPLATES, {"torch": torch})
        namespace = {"torch": torch}
        exec(VJP, namespace)  # noqa: S102 - our own helper source, the scripts' too
        self._vjp, self._vjp_batched = namespace["vjp"], namespace["vjp_batched"]
        nn = torch.nn
        # torch's own modules, without their random initialization: functional_call binds
        # every parameter, and a module is built inside the function a transform traces,
        # where jacrev's vmap refuses random ops.
        self._module_classes = {
            kind: type(cls.__name__, (cls,), {"reset_parameters": lambda self: None})
            for kind, cls in (("linear", nn.Linear), ("rnn_cell", nn.RNNCell),
                              ("lstm_cell", nn.LSTMCell))}

    def describe(self):
        return f"torch {self.torch.__version__} (torch.func transforms) on cpu"

    def tensor(self, values, dtype, requires_grad):
        # No requires_grad: a transform differentiates w.r.t. its inputs, whatever the flag.
        return self.torch.tensor(values, dtype=getattr(self.torch, dtype))

    def to_numpy(self, t):
        return zero_tensor_safe_numpy(t)

    def no_grad(self):
        return self.torch.no_grad()

    def detach(self, t):
        return t.detach()

    # ----- layers and custom functions ---------------------------------------------------
    def make_layer(self, layer, param_values, dtype):
        torch = self.torch
        module = self._module_classes[layer.kind](
            layer.in_features, layer.out_features, bias=layer.bias,
            dtype=getattr(torch, dtype), device="meta")
        # Inside a vjp the values are the transform's traced inputs: used as they are.
        params = {name: v if isinstance(v, torch.Tensor) else self.tensor(v, dtype, True)
                  for name, v in param_values.items()}
        bound = {pname: params[f"{layer.name}.{pname}"] for pname in LAYER_PARAMS[layer.kind]
                 if f"{layer.name}.{pname}" in params}
        return (module, bound), params

    def call_layer(self, module, layer, args):
        module, bound = module
        call = self.torch.func.functional_call
        if layer.kind == "linear":
            return (call(module, bound, (args[0],)),)
        if layer.kind == "rnn_cell":
            return (call(module, bound, (args[0],) if args[1] is None else tuple(args)),)
        x, h, c = args
        return tuple(call(module, bound, (x,) if h is None else (x, (h, c))))

    def custom_function(self, spec, forward_values, backward_values):
        """torch.autograd.Function in the form torch.func requires: forward without ctx,
        setup_context apart."""

        def forward(*inputs):
            return forward_values(inputs)

        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(*saved_tensors(spec, inputs, output))
            if not spec.materialize_grads:
                ctx.set_materialize_grads(False)
            if spec.non_differentiable:
                ctx.mark_non_differentiable(*(output[j] for j in spec.non_differentiable))

        def backward(ctx, *grads):
            saved = ctx.saved_tensors if spec.saved else ()
            return backward_values(grads, saved, ctx.needs_input_grad)

        cls = type(spec.name, (self.torch.autograd.Function,), {
            "forward": staticmethod(forward), "setup_context": staticmethod(setup_context),
            "backward": staticmethod(backward)})
        return cls.apply

    # ----- autograd verbs ----------------------------------------------------------------
    def vjp(self, f, primals, cotangents):
        return self._vjp(f, primals, cotangents)

    def vjp_batched(self, f, primals, cotangents):
        return self._vjp_batched(f, primals, cotangents)

    def functional(self, kind, f, inputs, weight):
        func, argnums = self.torch.func, tuple(range(len(inputs)))
        if kind == "vjp":
            out, vjp_fn = func.vjp(f, *inputs)
            return (out,) + tuple(vjp_fn(self.torch.ones_like(out) if weight is None
                                         else weight))
        transform = func.jacrev if kind == "jacobian" else func.hessian
        return transform(f, argnums=argnums)(*inputs)

    def error_kind(self, exc):
        text = str(exc)
        return next((kind for needle, kind in FUNC_ERRORS if needle in text), None)

    def render_script(self, program):
        return render_script(program, self.op)


# The vjp the adapter runs, executed from this source, and printed in every repro script.
VJP = '''
def vjp(f, primals, cotangents):
    """The gradients of f's outputs, weighted by `cotangents`, w.r.t. each primal. A None
    cotangent is an implicit gradient: torch.func.grad of that output where it is not a
    scalar (which raises torch.func's own error), a ones cotangent where it is."""
    outs, vjp_fn = torch.func.vjp(f, *primals)
    cts = []
    for i, (out, ct) in enumerate(zip(outs, cotangents)):
        if ct is None:
            if out.dim() != 0:
                torch.func.grad(lambda *p: f(*p)[i], argnums=tuple(range(len(primals))))(*primals)
            ct = torch.ones_like(out)
        cts.append(ct)
    return vjp_fn(tuple(cts))


def vjp_batched(f, primals, cotangents):
    """One vjp a row of the cotangents (their first dimension), at once: torch.func.vmap of
    the vjp function (per-sample gradients)."""
    _, vjp_fn = torch.func.vjp(f, *primals)
    return torch.func.vmap(vjp_fn)(tuple(cotangents))
'''

# ----- the standalone torch.func script of a program (what a failure report prints) ---------
SCRIPT_HEADER = '''import torch
import torch.func


def show(label, x):
    """Print a recorded quantity: a tensor, None, or (nested) tuples of them."""
    print(label, "=", plain(x))


def plain(x):
    if isinstance(x, (tuple, list)):
        return [plain(v) for v in x]
    if x is None:
        return None
    # a gradient through sgn's backward is an efficient ZeroTensor, which has no memory
    return torch.zeros(x.shape).tolist() if x._is_zerotensor() else x.detach().tolist()

''' + VJP


class TorchFuncSpelling(Spelling):
    engine = "torch.func"
    header = SCRIPT_HEADER

    def array(self, values, dtype):
        return f"torch.tensor({literal(values)}, dtype=torch.{dtype})"

    def detach(self, src):
        return f"{src}.detach()"

    def no_grad(self, out, code):
        return f"with torch.no_grad():\n    {out} = {code}"

    def layer_prelude(self, layer, dtype):
        cls = {"linear": "Linear", "rnn_cell": "RNNCell", "lstm_cell": "LSTMCell"}[layer.kind]
        return [f"{py(layer.name)}_module = torch.nn.{cls}({layer.in_features}, "
                f"{layer.out_features}, bias={layer.bias}, dtype=torch.{dtype}, device='meta')"]

    def layer(self, step, layer):
        params = ", ".join(f"{p.name.split('.', 1)[1]!r}: {py(p.name)}" for p in layer.params)
        x, *state = ["None" if a is None else py(a) for a in step.args]
        args = f"({x},)" if not state or state[0] == "None" else (
            f"({x}, {state[0]})" if layer.kind == "rnn_cell" else f"({x}, ({', '.join(state)}))")
        outs = ", ".join(step.outs)  # LSTMCell returns (h, c); the others one tensor
        return (f"{outs} = torch.func.functional_call({py(layer.name)}_module, {{{params}}}, "
                f"{args})")

    def call_function(self, step):
        return (f"{', '.join(step.outs)}, = {step.function}.apply("
                f"{', '.join(map(py, step.args))})")

    def function(self, spec, ops):
        k = len(spec.forward)
        ins = [f"x{i}" for i in range(spec.n_inputs)]
        lines = [f"class {spec.name}(torch.autograd.Function):", "    @staticmethod",
                 f"    def forward({', '.join(ins)}):"]
        for j, expr in enumerate(spec.forward):
            params = {"c": expr[2]} if expr[0] == "scale" else {}
            lines.append(f"        y{j} = {ops.source(expr[0], [ins[i] for i in expr[1]], params)}")
        lines.append(f"        return ({''.join(f'y{j}, ' for j in range(k))})")
        saved = [f"inputs[{i}]" if kind == "input" else f"output[{i}]" for kind, i in spec.saved]
        lines += ["", "    @staticmethod", "    def setup_context(ctx, inputs, output):",
                  f"        ctx.save_for_backward({', '.join(saved)})"]
        if not spec.materialize_grads:
            lines.append("        ctx.set_materialize_grads(False)")
        if spec.non_differentiable:
            outs = ", ".join(f"output[{j}]" for j in spec.non_differentiable)
            lines.append(f"        ctx.mark_non_differentiable({outs})")
        lines += ["", "    @staticmethod",
                  f"    def backward(ctx, {', '.join(f'g{j}' for j in range(k))}):",
                  "        needs_input_grad = ctx.needs_input_grad"]
        if spec.saved:
            lines.append(f"        {''.join(f's{i}, ' for i in range(len(spec.saved)))}= "
                         "ctx.saved_tensors")
        return "\n".join(lines + backward_rules(spec, ops, "        ")) + "\n"

    def functional(self, action, f, names, dtype):
        ins = ", ".join(names)
        if action.kind == "vjp":
            ct = "torch.ones_like(_out)" if action.weight is None else \
                self.array(action.weight, dtype)
            return [f"_out, _vjp = torch.func.vjp({f}, {ins})",
                    f"show('returned', (_out,) + tuple(_vjp({ct})))"]
        transform = "torch.func.jacrev" if action.kind == "jacobian" else "torch.func.hessian"
        argnums = tuple(range(len(names)))
        return [f"show('returned', {transform}({f}, argnums={argnums})({ins}))"]


def render_script(program, ops):
    return render(program, ops, TorchFuncSpelling())
