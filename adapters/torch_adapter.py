"""PyTorch through its public API, in process: the first candidate engine.

`TorchAdapter(device="cuda")` is the same adapter on a GPU (`--backend torch-cuda`).
"""
import os

from gradspec.capabilities import CAPABILITIES

from gradspec.adapter import UnsupportedProgram
from .templates import TemplateOps
from gradspec.torch_like import TorchLikeAdapter
from .torch_ops import INPLACE_TEMPLATES, TORCH_TEMPLATES

# Substrings of torch's messages -> normalized error kinds (gradspec/adapter.py ERROR_KINDS).
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
    # an expanded target, or an operand overlapping the target in part
    ("more than one element of the written-to tensor refers to a single memory location",
     "inplace_overlap"),
    ("some elements of the input tensor and the written-to tensor refer to a single memory",
     "inplace_overlap"),
    ("doesn't match the broadcast shape", "inplace_shape"),  # an in-place op cannot grow
    ("Backward hook returned an invalid number of grad_input", "module_hook"),
    ("Inference tensors cannot be saved for backward", "inference_tensor"),
)

LAYER_PARAMS = {
    "linear": ("weight", "bias"),
    "rnn_cell": ("weight_ih", "weight_hh", "bias_ih", "bias_hh"),
    "lstm_cell": ("weight_ih", "weight_hh", "bias_ih", "bias_hh"),
}


class TorchAdapter(TorchLikeAdapter):
    name = "torch"
    capabilities = frozenset(CAPABILITIES)  # every one
    ops = frozenset(TORCH_TEMPLATES) | frozenset(INPLACE_TEMPLATES)

    def __init__(self, device="cpu"):
        import torch
        self.torch = self.api = torch
        self.device = device
        if device == "cpu" and not os.environ.get("OMP_NUM_THREADS"):
            # One intra-op thread: the suite's tensors have a few dozen elements, so threads
            # only add wake-ups (a 2-core softmax then took milliseconds, not microseconds),
            # and under `pytest -n N` each worker's pool would fight the others for the cores.
            torch.set_num_threads(1)
        if device != "cpu":
            self.name = f"torch-{device}"
            if device == "cuda" and not torch.cuda.is_available():
                raise UnsupportedProgram("torch-cuda: no CUDA device is available here")
        self.op = TemplateOps(TORCH_TEMPLATES, {"torch": torch})
        # In-place ops apart: `op` never modifies its operands; `inplace` returns its target.
        self.inplace_ops = TemplateOps(INPLACE_TEMPLATES, {"torch": torch})
        if device != "cpu":
            self.op = _OnDevice(self.op, torch, device)
            self.inplace_ops = _OnDevice(self.inplace_ops, torch, device)

    def inplace(self, name, target, *args, **params):
        return self.inplace_ops(name, target, *args, **params)

    def describe(self):
        return f"torch {self.torch.__version__} on {self.device}"

    def batched_grad(self, outputs, inputs, weights, retain_graph, create_graph, allow_unused,
                     materialize_grads):
        """torch's own: one engine call over the batch (vmap inside autograd.grad)."""
        return self.torch.autograd.grad(outputs, inputs, weights, retain_graph=retain_graph,
                                        create_graph=create_graph, allow_unused=allow_unused,
                                        materialize_grads=materialize_grads,
                                        is_grads_batched=True)

    def tensor(self, values, dtype, requires_grad):
        return self.torch.tensor(values, dtype=getattr(self.torch, dtype), device=self.device,
                                 requires_grad=requires_grad)

    def to_numpy(self, t):
        return zero_tensor_safe_numpy(t)

    def shares_storage(self, a, b):
        """Do `a` and `b` overlap in memory (np.shares_memory's question, which the reference
        answers)? Two views of one storage on disjoint elements (the pieces unbind or narrow
        cut from one gradient, kept as two leaves' .grad) do not: writing one leaves the other."""
        pa, pb = _storage_address(a), _storage_address(b)
        return pa is not None and pa == pb and not _bytes(a).isdisjoint(_bytes(b))

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


def zero_tensor_safe_numpy(t):
    """`t`'s values as NumPy. A gradient through sgn's backward is an efficient ZeroTensor,
    which has no memory: plain numpy() refuses it, and numpy(force=True) (like tolist()) of a
    strided view of one, g[0:4:2], reads uninitialized memory (torch 2.13); its values are
    zeros, whatever the view."""
    import numpy as np
    if t._is_zerotensor():
        return np.zeros(tuple(t.shape), dtype=str(t.dtype).replace("torch.", ""))
    return t.detach().cpu().numpy(force=True)


def _storage_address(t):
    """The address of `t`'s storage; None where it has no memory: no elements, or an efficient
    ZeroTensor (a gradient through sgn's backward, which can be kept as .grad)."""
    if t.numel() == 0 or t._is_zerotensor():
        return None
    return t.untyped_storage().data_ptr()


def _bytes(t):
    """The byte offsets into its storage that `t`'s elements occupy (the suite's tensors have
    a few dozen elements: the set is small)."""
    starts = {t.storage_offset()}
    for n, stride in zip(t.shape, t.stride()):
        starts = {s + i * stride for s in starts for i in range(n)}
    size = t.element_size()
    return {s * size + k for s in starts for k in range(size)}


class _OnDevice:
    """Ops whose templates create tensors (indices, conditions, masked_fill_'s mask) need them
    on the device: torch's default device is set to it."""

    def __init__(self, ops, torch, device):
        self.ops, self.torch, self.device = ops, torch, device
        torch.set_default_device(device)

    def __call__(self, name, *args, **params):
        return self.ops(name, *args, **params)

    def source(self, *a):
        return self.ops.source(*a)
