"""`reference.autograd`: the verbs, spelled as in `torch.autograd`."""
from .engine import backward, grad
from .function import Function, FunctionCtx, once_differentiable
from . import functional  # reference.autograd.functional.vjp/jacobian/hessian

__all__ = ["backward", "grad", "Function", "FunctionCtx", "once_differentiable", "functional"]
