"""`reference.autograd.functional`: vjp, jacobian and hessian of a function of tensors, with
torch.autograd.functional's conventions (strict=False: an output that does not depend on an
input gives zeros; inputs given as a tuple give tuples back, one tensor gives one tensor).

Built on `autograd.grad` like torch's: each input is detached and made to require grad, the
function runs with grad mode on, and nothing is accumulated into any `.grad`.
"""
import numpy as np

from .engine import grad
from .grad_mode import enable_grad
from .tensor import Tensor, ones_like, zeros_like


def _prepare(inputs):
    is_tuple = isinstance(inputs, tuple)
    inputs = inputs if is_tuple else (inputs,)
    return is_tuple, tuple(Tensor(np.array(x.data, copy=True), requires_grad=True)
                           for x in inputs)


def _grads(output, inputs, grad_output=None, create_graph=False):
    """d<grad_output, output>/d inputs, zeros where the output does not reach an input."""
    if not output.requires_grad:
        return tuple(zeros_like(x) for x in inputs)
    gs = grad([output], list(inputs), None if grad_output is None else [grad_output],
              retain_graph=True, create_graph=create_graph, allow_unused=True)
    return tuple(zeros_like(x) if g is None else g for g, x in zip(gs, inputs))


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(*inputs), the vjp of v per input); v may be None for a one-element output."""
    is_tuple, inputs = _prepare(inputs)
    with enable_grad():
        out = func(*inputs)
        if v is None:
            if out.numel() != 1:
                raise RuntimeError("The vector v can only be None if the user-provided function "
                                   "returns a single Tensor with a single element.")
            v = ones_like(out)
        gs = _grads(out, inputs, v, create_graph)
    gs = tuple(Tensor(g.data) for g in gs)
    return Tensor(out.data), gs if is_tuple else gs[0]


def _jacobian_rows(out, inputs, create_graph):
    """For each input, d out / d input as an array of shape out.shape + input.shape."""
    flat = out.data.reshape(-1)
    rows = [[] for _ in inputs]
    for k in range(flat.size):
        onehot = np.zeros(flat.size, dtype=out.dtype)
        onehot[k] = 1.0
        for row, g in zip(rows, _grads(out, inputs, Tensor(onehot.reshape(out.shape)),
                                       create_graph)):
            row.append(g.data)
    return [np.stack(row).reshape(out.shape + x.shape) if row else
            np.zeros(out.shape + x.shape) for row, x in zip(rows, inputs)]


def jacobian(func, inputs, create_graph=False, strict=False):
    """The Jacobian of func (one tensor out) w.r.t. each input."""
    is_tuple, inputs = _prepare(inputs)
    with enable_grad():
        jac = tuple(Tensor(j) for j in _jacobian_rows(func(*inputs), inputs, False))
    return jac if is_tuple else jac[0]


def hessian(func, inputs, create_graph=False, strict=False):
    """The Hessian of func (a one-element output): H[i][j] of shape inputs[i].shape +
    inputs[j].shape, the Jacobian of the gradient."""
    is_tuple, inputs = _prepare(inputs)
    with enable_grad():
        out = func(*inputs)
        if out.numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to hessian should "
                               "contain a single element")
        first = _grads(out.reshape(()) if out.ndim else out, inputs, None, create_graph=True)
        hess = tuple(tuple(Tensor(h) for h in _jacobian_rows(g, inputs, False))
                     for g in first)
    return hess if is_tuple else hess[0][0]
