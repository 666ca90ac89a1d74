"""gradspec's reference: an independent reverse-mode autograd on NumPy with torch's semantics.

It imports nothing but NumPy and the standard library; it is proven against finite
differences (tests/reference), never against torch. The public names follow torch's spelling
(`tensor`, `no_grad`, `autograd.grad`, `nn.Linear`, `autograd.Function`), so a program can be
written once and read by someone who knows torch.
"""
from . import _methods  # noqa: F401  (binds operators and methods to Tensor)
from . import errors, ops
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled,
                        is_inference_mode_enabled, no_grad, set_grad_enabled)
from .ops import (abs, cat, cos, exp, log, matmul, maximum, minimum, relu, sigmoid, sin, sqrt,
                  stack, tanh, where, logsumexp, softmax, log_softmax, reciprocal, sign, round)
from .tensor import Tensor, float32, float64, ones, ones_like, tensor, zeros, zeros_like
from . import autograd, nn

sum = ops.sum
mean = ops.mean
__all__ = [
    "Tensor", "tensor", "zeros", "ones", "zeros_like", "ones_like", "float32", "float64",
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode",
    "is_inference_mode_enabled", "autograd", "nn", "ops",
    "errors", "abs", "cat", "cos", "exp", "log", "matmul", "maximum", "minimum", "relu",
    "sigmoid", "sin", "sqrt", "stack", "tanh", "where", "logsumexp", "softmax", "log_softmax",
    "reciprocal", "sign", "round", "sum", "mean",
]
