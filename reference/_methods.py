"""Operators and methods of `Tensor`, bound to the op vocabulary and the engine (torch's
spelling).

Tensor is defined low (reference/tensor.py) so that graph and ops can use it; its methods that
compute need those higher layers, so they are bound here, once everything is defined. The
package's __init__ imports this module first, so every `import reference...` gets them.
"""
import numbers

import numpy as np

from . import engine, ops
from .inplace import clamp, fill_from, inplace, masked_fill, setitem
from .tensor import Tensor


def _is_scalar(x):
    return isinstance(x, numbers.Number) and not isinstance(x, bool)


def _add(a, b):
    return ops.add_scalar(a, b) if _is_scalar(b) else ops.add(a, b)


def _sub(a, b):
    return ops.add_scalar(a, -b) if _is_scalar(b) else ops.sub(a, b)


def _rsub(a, b):
    return ops.rsub_scalar(a, b)


def _mul(a, b):
    return ops.scale(a, b) if _is_scalar(b) else ops.mul(a, b)


def _div(a, b):
    return ops.scale(a, 1.0 / b) if _is_scalar(b) else ops.div(a, b)


def _rdiv(a, b):
    return ops.rdiv_scalar(a, b)


def _getitem(x, index):
    """Basic indexing goes to `getitem`; an integer array (or tensor) to `index` (dim 0)."""
    if isinstance(index, (Tensor, list, np.ndarray)):
        return ops.index(x, index, 0)
    return ops.getitem(x, index)


def _compare(fn):
    return lambda a, b: Tensor(fn(a.data, b.data if isinstance(b, Tensor) else b))


def _backward(x, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    engine.backward([x], None if gradient is None else [gradient], retain_graph=retain_graph,
                    create_graph=create_graph, inputs=inputs)


def _max(x, dim=None, keepdim=False):
    if dim is None:
        return ops.max(ops.reshape(x, (-1,)), 0)
    return ops.max(x, dim, keepdim)


# ----- in place (reference/inplace.py): under no_grad too, e.g. an optimizer's step -------------
def _add_(x, other, alpha=1.0):
    if _is_scalar(other):
        return inplace(ops.add_scalar, x, other * alpha)
    return inplace(ops.add, x, other if alpha == 1 else ops.scale(other, alpha))


def _mul_(x, other):
    return inplace(ops.scale if _is_scalar(other) else ops.mul, x, other)


def _clamp_(x, min=None, max=None):
    return inplace(clamp, x, -np.inf if min is None else min, np.inf if max is None else max)


def _masked_fill_(x, mask, value):
    return inplace(masked_fill, x, mask.data if isinstance(mask, Tensor) else mask, value)


def _setitem(x, index, value):
    setitem(x, index if isinstance(index, tuple) else (index,), value)


METHODS = {
    "__add__": _add, "__radd__": _add, "__sub__": _sub, "__rsub__": _rsub,
    "__mul__": _mul, "__rmul__": _mul, "__truediv__": _div, "__rtruediv__": _rdiv,
    "__neg__": ops.neg, "__pow__": ops.pow, "__matmul__": ops.matmul,
    "__getitem__": _getitem, "__abs__": ops.abs,
    "__gt__": _compare(np.greater), "__lt__": _compare(np.less),
    "__ge__": _compare(np.greater_equal), "__le__": _compare(np.less_equal),
    "add": _add, "sub": _sub, "mul": _mul, "div": _div, "pow": ops.pow, "matmul": ops.matmul,
    "neg": ops.neg, "exp": ops.exp, "log": ops.log, "tanh": ops.tanh, "sigmoid": ops.sigmoid,
    "relu": ops.relu, "sin": ops.sin, "cos": ops.cos, "sqrt": ops.sqrt, "abs": ops.abs,
    "reciprocal": ops.reciprocal, "sign": ops.sign, "round": ops.round, "clone": ops.clone,
    "maximum": ops.maximum, "minimum": ops.minimum,
    "sum": ops.sum, "mean": ops.mean, "max": _max, "logsumexp": ops.logsumexp,
    "softmax": ops.softmax, "log_softmax": ops.log_softmax,
    "reshape": lambda x, *shape: ops.reshape(x, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape),
    "view": lambda x, *shape: ops.reshape(x, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape),
    "transpose": ops.transpose,
    "permute": lambda x, *dims: ops.permute(x, dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims),
    "expand": lambda x, *shape: ops.expand(x, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape),
    "unsqueeze": ops.unsqueeze, "squeeze": ops.squeeze,
    "add_": _add_, "mul_": _mul_, "clamp_": _clamp_, "relu_": lambda x: inplace(ops.relu, x),
    "masked_fill_": _masked_fill_, "__setitem__": _setitem,
    "copy_": lambda x, src: inplace(fill_from, x, src),
    "zero_": lambda x: inplace(fill_from, x, 0.0),
    "t": lambda x: ops.transpose(x, 0, 1) if x.ndim == 2 else x,
    "backward": _backward,
}
for _name, _fn in METHODS.items():
    setattr(Tensor, _name, _fn)
Tensor.T = property(lambda x: ops.permute(x, tuple(reversed(range(x.ndim)))))
Tensor.__hash__ = object.__hash__
