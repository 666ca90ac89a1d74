"""Torch's spelling of the stateful repro script (adapters/stateful_script.py): the repro a
user can run and report.

The ops are printed from the same templates the adapter executes (adapters/torch_ops.py), so
the script computes what the suite computed.
"""
import numpy as np

from .stateful_script import Spelling, render as render_stateful
from .templates import literal

HEADER = '''import torch

torch.set_printoptions(precision=10)


def show(label, t):
    """Print a recorded quantity: a tensor, None, or (nested) tuples of them."""
    print(label, "=", plain(t))


def plain(t):
    """A list, through a clone: an efficient ZeroTensor (what sgn's backward leaves in .grad)
    has no storage for tolist() to read."""
    if isinstance(t, (tuple, list)):
        return [plain(x) for x in t]
    return None if t is None else t.detach().clone().tolist()

'''


LAYER_CLASSES = {"linear": "Linear", "rnn_cell": "RNNCell", "lstm_cell": "LSTMCell"}
FUNCTIONAL_CALLS = {
    "vjp": "(lambda r: (r[0],) + tuple(r[1]))(torch.autograd.functional.vjp({f}, ({inputs},), "
           "{weight}))",
    "jacobian": "torch.autograd.functional.jacobian({f}, ({inputs},))",
    "hessian": "torch.autograd.functional.hessian({f}, ({inputs},))",
}


class TorchSpelling(Spelling):
    engine = "torch"
    header = HEADER
    errors = "RuntimeError"  # torch's autograd errors; anything else is a crash to see
    modes = {"no_grad": "torch.no_grad()", "enable_grad": "torch.enable_grad()",
             "set_grad_enabled(False)": "torch.set_grad_enabled(False)",
             "set_grad_enabled(True)": "torch.set_grad_enabled(True)",
             "inference_mode": "torch.inference_mode()"}
    function_base = "torch.autograd.Function"

    def name(self, n):
        return n  # a layer's parameter is the module's attribute, `lin0.weight`

    def tensor(self, values, dtype, requires_grad=False):
        rg = ", requires_grad=True" if requires_grad else ""
        return f"torch.tensor({literal(values)}, dtype=torch.{dtype}{rg})"

    def layer(self, layer, dtype):
        out = [f"{layer.name} = torch.nn.{LAYER_CLASSES[layer.kind]}({layer.in_features}, "
               f"{layer.out_features}, bias={layer.bias}, dtype=torch.{dtype})",
               "with torch.no_grad():"]
        for p in layer.params:
            values = np.array(p.values, dtype=np.float64).reshape(p.shape).tolist()
            out.append(f"    {p.name}.copy_({self.tensor(values, dtype)})")
        return out

    def call_layer(self, step, layer):
        a = list(step.args)
        if layer.kind == "lstm_cell":
            call = f"{layer.name}({a[0]})" if a[1] is None else \
                f"{layer.name}({a[0]}, ({a[1]}, {a[2]}))"
            return f"{', '.join(step.outs)}{',' if len(step.outs) == 1 else ''} = {call}"
        if layer.kind == "rnn_cell" and a[1] is not None:
            return f"{step.outs[0]} = {layer.name}({a[0]}, {a[1]})"
        return f"{step.outs[0]} = {layer.name}({a[0]})"

    def retain_grad(self, target):
        return f"{target}.retain_grad()"

    def register_hook(self, target, fn):
        return f"{target}.register_hook({fn})"

    def post_accumulate_hook(self, step, fn):
        out = [f"def {fn}(p):  # after p.grad was accumulated",
               "    _grad = None if p.grad is None else p.grad.detach().clone()"]
        if step.lr is not None:
            out += ["    if _grad is not None:  # an optimizer's step, in place",
                    "        with torch.no_grad():",
                    f"            p.add_(p.grad, alpha={-step.lr!r})"]
        out.append(f"    show('post-accumulate hook on {step.target}', (_grad, p))")
        if step.clear:
            out.append("    p.grad = None")
        return out + [f"{step.target}.register_post_accumulate_grad_hook({fn})"]

    def module_hook(self, step, fn):
        ret = "None" if step.scale is None else \
            f"tuple(None if g is None else g * {step.scale!r} for g in grad_input)"
        return [f"def {fn}(module, grad_input, grad_output):",
                f"    show('module hook on {step.layer} grad_input', grad_input)",
                f"    show('module hook on {step.layer} grad_output', grad_output)",
                f"    return {ret}", f"{step.layer}.register_full_backward_hook({fn})"]

    def backward(self, roots, weights, retain_graph, create_graph):
        return (f"torch.autograd.backward([{', '.join(roots)}], [{', '.join(weights)}], "
                f"retain_graph={retain_graph!r}" + (", create_graph=True)" if create_graph
                                                    else ")"))

    def grad(self, outputs, inputs, weights, options):
        kw = "".join(f", {k}={v!r}" for k, v in options.items())
        return f"torch.autograd.grad([{', '.join(outputs)}], [{', '.join(inputs)}], " \
               f"[{', '.join(weights)}]{kw})"

    def zero_grad(self, names, set_to_none):
        body = "_p.grad = None" if set_to_none else "_p.grad.detach_(); _p.grad.zero_()"
        return [f"for _p in [{', '.join(names)}]:", f"    if _p.grad is not None: {body}"]

    def functional(self, action, f, dtype):
        weight = "None" if action.weight is None else self.tensor(action.weight, dtype)
        return FUNCTIONAL_CALLS[action.kind].format(f=f, weight=weight,
                                                    inputs=", ".join(action.inputs))


SPELLING = TorchSpelling()


def render(program, adapter):
    """The torch script of `program` (an adapter with torch's templates: `op`, `inplace_ops`)."""
    return render_stateful(program, adapter.op, adapter.inplace_ops, SPELLING)
