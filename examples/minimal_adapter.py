"""A minimal adapter: the README's "add a backend" example, run by the project's own tests.

It drives torch through a handful of verbs only, and declares just those capabilities: the
suites that need more (hooks, custom Functions, retain_graph...) are skipped with the reason.
Copy it, replace the torch calls with your engine's, and run
`pytest suites --backend examples.minimal_adapter:MinimalAdapter`.
"""
import torch

from gradspec.adapter import Adapter

OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "neg": lambda a: -a,
    "exp": torch.exp,
    "log": torch.log,
    "tanh": torch.tanh,
    "sin": torch.sin,
    "scale": lambda a, c: a * c,
    "sum": lambda a, dim, keepdim: a.sum(dim=dim, keepdim=keepdim),
    "matmul": torch.matmul,
}


class MinimalAdapter(Adapter):
    name = "minimal-torch"
    capabilities = frozenset({"float64", "float32", "stateful_grad", "zero_grad",
                              "nonscalar_backward", "multi_root"})
    ops = frozenset(OPS)

    def tensor(self, values, dtype, requires_grad):
        return torch.tensor(values, dtype=getattr(torch, dtype), requires_grad=requires_grad)

    def to_numpy(self, t):
        return t.detach().numpy()

    def requires_grad(self, t):
        return t.requires_grad

    def op(self, name, *args, **params):
        return OPS[name](*args, **params)

    def backward(self, roots, weights, retain_graph, create_graph):
        torch.autograd.backward(roots, weights, retain_graph=retain_graph)

    def read_grad(self, t):
        return t.grad

    def zero_grad(self, tensors, set_to_none):
        for t in tensors:
            if t.grad is not None:
                if set_to_none:
                    t.grad = None
                else:
                    t.grad.zero_()

    def error_kind(self, exc):
        if "grad can be implicitly created only for scalar outputs" in str(exc):
            return "nonscalar_implicit_grad"
        if "Mismatch in shape" in str(exc):
            return "grad_shape_mismatch"
        if "does not require grad and does not have a grad_fn" in str(exc):
            return "no_grad_fn"
        return None
