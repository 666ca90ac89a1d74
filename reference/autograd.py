"""`reference.autograd`: the verbs, spelled as in `torch.autograd`."""
from .engine import backward, grad
from .function import Function, FunctionCtx, once_differentiable

__all__ = ["backward", "grad", "Function", "FunctionCtx", "once_differentiable"]
