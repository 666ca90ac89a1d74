"""PyTorch through its public API, in process: the first candidate engine.

`TorchAdapter(device="cuda")` is the same adapter on a GPU (`--backend torch-cuda`).
"""
from gradspec.functions import torch_like_function

from .base import Adapter, UnsupportedProgram
from .templates import TemplateOps
from .torch_ops import TORCH_TEMPLATES

# Substrings of torch's messages -> normalized error kinds (adapters/base.py ERROR_KINDS).
TORCH_ERRORS = (
    ("grad can be implicitly created only for scalar outputs", "nonscalar_implicit_grad"),
    ("Mismatch in shape", "grad_shape_mismatch"),
    ("Trying to backward through the graph a second time", "graph_freed"),
    ("does not require grad and does not have a grad_fn", "no_grad_fn"),
    ("returned an incorrect number of gradients", "custom_grad_count"),
    ("returned a gradient different than None", "custom_grad_count"),
    ("returned an invalid gradient at index", "custom_grad_shape"),
    ("appears to not have been used in the graph", "unused_input"),
    ("One of the differentiated Tensors does not require grad", "input_no_grad"),
    ("cannot register a hook on a tensor that doesn't require gradient", "hook_on_no_grad"),
    ("modified by an inplace operation", "inplace_modified"),
    ("a leaf Variable that requires grad is being used in an in-place operation", "leaf_inplace"),
    ("Backward hook returned an invalid number of grad_input", "module_hook"),
)

LAYER_PARAMS = {
    "linear": ("weight", "bias"),
    "rnn_cell": ("weight_ih", "weight_hh", "bias_ih", "bias_hh"),
    "lstm_cell": ("weight_ih", "weight_hh", "bias_ih", "bias_hh"),
}


class TorchAdapter(Adapter):
    name = "torch"
    capabilities = frozenset({
        "float64", "float32", "stateful_grad", "zero_grad", "nonscalar_backward", "multi_root",
        "retain_graph", "functional_grad", "retain_grad", "detach", "no_grad", "tensor_hooks",
        "module_hooks", "layers", "custom_function", "error_kinds", "create_graph",
        "grad_wrt_nonleaf", "needs_input_grad", "materialize_grads", "non_differentiable",
    })
    ops = frozenset(TORCH_TEMPLATES)

    def __init__(self, device="cpu"):
        import torch
        self.torch = torch
        self.device = device
        if device != "cpu":
            self.name = f"torch-{device}"
            if device == "cuda" and not torch.cuda.is_available():
                raise UnsupportedProgram("torch-cuda: no CUDA device is available here")
        self.op = TemplateOps(TORCH_TEMPLATES, {"torch": torch})
        if device != "cpu":
            self.op = _OnDevice(self.op, torch, device)

    def describe(self):
        return f"torch {self.torch.__version__} on {self.device}"

    def tensor(self, values, dtype, requires_grad):
        return self.torch.tensor(values, dtype=getattr(self.torch, dtype), device=self.device,
                                 requires_grad=requires_grad)

    def to_numpy(self, t):
        return t.detach().cpu().numpy()

    def requires_grad(self, t):
        return t.requires_grad

    def no_grad(self):
        return self.torch.no_grad()

    def detach(self, t):
        return t.detach()

    def retain_grad(self, t):
        t.retain_grad()

    def register_hook(self, t, fn):
        return t.register_hook(fn)

    def make_layer(self, layer, param_values, dtype):
        nn = self.torch.nn
        kw = dict(bias=layer.bias, dtype=getattr(self.torch, dtype), device=self.device)
        module = {"linear": nn.Linear, "rnn_cell": nn.RNNCell, "lstm_cell": nn.LSTMCell}[
            layer.kind](layer.in_features, layer.out_features, **kw)
        params = {}
        with self.torch.no_grad():
            for pname in LAYER_PARAMS[layer.kind]:
                full = f"{layer.name}.{pname}"
                if full in param_values:
                    p = getattr(module, pname)
                    p.copy_(self.torch.as_tensor(param_values[full]))
                    params[full] = p
        return module, params

    def call_layer(self, module, layer, args):
        if layer.kind == "linear":
            return (module(args[0]),)
        if layer.kind == "rnn_cell":
            return (module(args[0]) if args[1] is None else module(args[0], args[1]),)
        x, h, c = args
        return tuple(module(x) if h is None else module(x, (h, c)))

    def register_module_hook(self, module, fn):
        return module.register_full_backward_hook(lambda m, gi, go: fn(gi, go))

    def custom_function(self, spec, forward_values, backward_values):
        return torch_like_function(self.torch.autograd.Function, spec, forward_values,
                                   backward_values)

    def backward(self, roots, weights, retain_graph, create_graph):
        self.torch.autograd.backward(roots, weights, retain_graph=retain_graph,
                                     create_graph=create_graph)

    def grad(self, outputs, inputs, weights, retain_graph, create_graph, allow_unused):
        return self.torch.autograd.grad(outputs, inputs, weights, retain_graph=retain_graph,
                                        create_graph=create_graph, allow_unused=allow_unused)

    def read_grad(self, t):
        return t.grad

    def zero_grad(self, tensors, set_to_none):
        """Exactly `torch.nn.Module.zero_grad` / `Optimizer.zero_grad` on these tensors."""
        for p in tensors:
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad.detach_()
                    else:
                        p.grad.requires_grad_(False)
                    p.grad.zero_()

    def error_kind(self, exc):
        if not isinstance(exc, RuntimeError):
            return None
        text = str(exc)
        for needle, kind in TORCH_ERRORS:
            if needle in text:
                return kind
        return None

    def render_script(self, program):
        from .torch_script import render
        return render(program, self)


class _OnDevice:
    """Ops whose templates create tensors (indices, conditions) need them on the device."""

    def __init__(self, ops, torch, device):
        self.ops, self.torch, self.device = ops, torch, device
        torch.set_default_device(device)

    def __call__(self, name, *args, **params):
        return self.ops(name, *args, **params)

    def source(self, *a):
        return self.ops.source(*a)
