"""`reference.nn`: Module, Parameter, Linear, RNNCell, LSTMCell, full backward hooks, functional.

Why this shape: modules are built only from `reference.ops`, so every parameter gradient comes
from the engine being proven, and module backward hooks are wired exactly as torch wires them
(torch/utils/hooks.py `BackwardHook`, torch/nn/modules/_functions.py `BackwardHookFunction`):
an identity custom Function on the tensor positional args and another on the outputs, a node
*post* hook on each, a fresh wiring per call. Reusing the reference's own Function and node
hooks is what makes torch's corner cases (None grad_outputs, zeros for non-differentiable
inputs, a hook-returned grad_input replacing what flows on) fall out rather than be imitated.
"""
import itertools
import math
import sys
import types
import warnings

import numpy as np

from . import errors, ops
from .function import Function
from .grad_mode import is_recording
from .tensor import Tensor, float64

_ids = itertools.count()


class Parameter(Tensor):
    """A leaf that requires grad and that a Module registers when assigned (torch's Parameter)."""

    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        arr = data.data if isinstance(data, Tensor) else np.asarray(data)
        super().__init__(arr, requires_grad=requires_grad)


class RemovableHandle:
    """Removes one hook from its dict by id (the same callable may be registered twice)."""

    def __init__(self, hooks):
        self._hooks, self.id = hooks, next(_ids)

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class Module:
    """torch.nn.Module's parameter registry, `zero_grad` and full backward (pre) hooks."""

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_backward_hooks", {})
        object.__setattr__(self, "_backward_pre_hooks", {})

    def __setattr__(self, name, value):
        params, modules = self.__dict__.get("_parameters"), self.__dict__.get("_modules")
        if params is None:
            raise AttributeError("cannot assign before Module.__init__() call")
        if isinstance(value, Parameter):
            self.__dict__.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            self.__dict__.pop(name, None)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(torch.nn.Parameter or None expected)")
            params[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for store in ("_parameters", "_modules"):
            if name in d.get(store, ()):
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def register_parameter(self, name, param):
        self._parameters[name] = param

    def named_parameters(self, prefix=""):
        seen = set()
        for name, p in self._named_all(prefix):
            if id(p) not in seen:
                seen.add(id(p))
                yield name, p

    def _named_all(self, prefix):
        for name, p in self._parameters.items():
            if p is not None:
                yield prefix + name, p
        for name, m in self._modules.items():
            yield from m._named_all(prefix + name + ".")

    def parameters(self):
        for _, p in self.named_parameters():
            yield p

    def zero_grad(self, set_to_none=True):
        """torch's steps: None, or detach the grad (drop requires_grad), then zero it in place."""
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad.detach_()
                    else:
                        p.grad.requires_grad_(False)
                    p.grad.zero_()

    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function')

    def register_full_backward_hook(self, hook, prepend=False):
        return self._add_hook(self._backward_hooks, hook, prepend)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        return self._add_hook(self._backward_pre_hooks, hook, prepend)

    @staticmethod
    def _add_hook(hooks, hook, prepend):
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            items = list(hooks.items())
            hooks.clear()
            hooks.update([items[-1]] + items[:-1])
        return handle

    def __call__(self, *args, **kwargs):
        """torch's `_call_impl` minus forward hooks: a fresh BackwardHook per call."""
        full, pre = list(self._backward_hooks.values()), list(self._backward_pre_hooks.values())
        if not (full or pre):
            return self.forward(*args, **kwargs)
        bw_hook = BackwardHook(self, full, pre)
        args = bw_hook.setup_input_hook(args)
        result = self.forward(*args, **kwargs)
        if not isinstance(result, (Tensor, tuple)):
            warnings.warn("For backward hooks to be called, module output should be a Tensor or "
                          f"a tuple of Tensors but received {type(result)}", stacklevel=2)
        return bw_hook.setup_output_hook(result)


# ----- full backward hooks: a port of torch.utils.hooks.BackwardHook ------------------------------
class BackwardHookFunction(Function):
    """Identity on tensors; inputs that do not require grad come out non-differentiable.

    Returns fresh aliases (torch returns views) and marks *those*, because the reference's
    Function matches non-differentiable outputs by identity.
    """

    @staticmethod
    def forward(ctx, *args):
        outs = tuple(Tensor(a.data, _version=a._version) for a in args)
        ctx.mark_non_differentiable(*[o for a, o in zip(args, outs) if not a.requires_grad])
        return outs

    @staticmethod
    def backward(ctx, *grads):
        return grads


class BackwardHook:
    """Collects grad_outputs on the output identity node, calls user hooks on the input one."""

    def __init__(self, module, user_hooks, user_pre_hooks):
        self.module, self.user_hooks, self.user_pre_hooks = module, user_hooks, user_pre_hooks
        self.grad_outputs = None
        self.n_outputs = self.n_inputs = -1
        self.output_tensors_index = self.input_tensors_index = None

    @staticmethod
    def _pack_with_none(indices, values, size):
        res = [None] * size
        for i, v in zip(indices, values):
            res[i] = v
        return tuple(res)

    def _set_user_hook(self, node):
        def hook(grad_input, _):
            if self.grad_outputs is None:  # reached the input without passing the output
                return None
            res = self._pack_with_none(self.input_tensors_index, grad_input, self.n_inputs)
            for user_hook in self.user_hooks:
                out = user_hook(self.module, res, self.grad_outputs)
                if out is None:
                    continue
                if len(out) != len(res):
                    raise errors.ModuleHookError(
                        "Backward hook returned an invalid number of grad_input, "
                        f"got {len(out)}, but expected {len(res)}")
                res = out
            self.grad_outputs = None
            return tuple(res[i] for i in self.input_tensors_index)
        node.register_hook(hook)

    def _apply_on_tensors(self, fn, args):
        idx = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        tensors = [args[i] for i in idx]
        if not (any(t.requires_grad for t in tensors) and is_recording()):
            return args, None
        new = BackwardHookFunction.apply(*tensors)
        fn(next(t.grad_fn for t in new if t.grad_fn is not None))
        out = list(args)
        for i, t in zip(idx, new):
            out[i] = t
        return tuple(out), idx

    def setup_input_hook(self, args):
        res, self.input_tensors_index = self._apply_on_tensors(self._set_user_hook, args)
        self.n_inputs = len(args)
        return res

    def setup_output_hook(self, result):
        def fn(node):
            def hook(_, grad_output):
                self.grad_outputs = self._pack_with_none(
                    self.output_tensors_index, grad_output, self.n_outputs)
                for pre_hook in self.user_pre_hooks:
                    new = pre_hook(self.module, self.grad_outputs)
                    if new is None:
                        continue
                    if len(new) != len(self.grad_outputs):
                        raise errors.ModuleHookError(
                            "Backward pre hook returned an invalid number of grad_output, "
                            f"got {len(new)}, but expected {len(self.grad_outputs)}")
                    self.grad_outputs = new
                local = self.grad_outputs
                if self.input_tensors_index is None:  # no input requires grad: fire here
                    warnings.warn(
                        "Full backward hook is firing when gradients are computed with respect "
                        "to module outputs since no inputs require gradients.", stacklevel=2)
                    grad_inputs = (None,) * self.n_inputs
                    for user_hook in self.user_hooks:
                        r = user_hook(self.module, grad_inputs, self.grad_outputs)
                        if r is not None and not (isinstance(r, tuple)
                                                  and all(e is None for e in r)):
                            raise errors.ModuleHookError(
                                "Backward hook for Modules where no input requires gradient "
                                "should always return None or None for all gradients.")
                    self.grad_outputs = None
                # Replaces the node's (materialized) outputs: an undefined grad stays None.
                return tuple(local[i] for i in self.output_tensors_index)
            node.register_hook(hook)

        is_tuple = isinstance(result, tuple)
        args = result if is_tuple else (result,)
        res, self.output_tensors_index = self._apply_on_tensors(fn, args)
        self.n_outputs = len(args)
        return res if is_tuple else res[0]


# ----- layers -------------------------------------------------------------------------------------
def _uniform(rng, bound, shape, dtype):
    return Parameter(rng.uniform(-bound, bound, size=shape).astype(dtype))


class Linear(Module):
    """y = x W^T + b; W, b ~ U(-1/sqrt(in), 1/sqrt(in)) as torch's init gives, from `seed`."""

    def __init__(self, in_features, out_features, bias=True, dtype=None, seed=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        rng, dt = np.random.default_rng(seed), np.dtype(dtype or float64)
        bound = 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
        self.weight = _uniform(rng, bound, (out_features, in_features), dt)
        if bias:
            self.bias = _uniform(rng, bound, (out_features,), dt)
        else:
            self.register_parameter("bias", None)

    def forward(self, input):
        return ops.linear(input, self.weight, self.bias)


class _RNNCellBase(Module):
    def __init__(self, input_size, hidden_size, bias, num_chunks, dtype, seed):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        rng, dt = np.random.default_rng(seed), np.dtype(dtype or float64)
        stdv = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
        n = num_chunks * hidden_size
        self.weight_ih = _uniform(rng, stdv, (n, input_size), dt)
        self.weight_hh = _uniform(rng, stdv, (n, hidden_size), dt)
        if bias:
            self.bias_ih = _uniform(rng, stdv, (n,), dt)
            self.bias_hh = _uniform(rng, stdv, (n,), dt)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def _gates(self, x, h):
        """linear_hh(h) + linear_ih(x), the sum ATen's cells compute."""
        return ops.add(ops.linear(h, self.weight_hh, self.bias_hh),
                       ops.linear(x, self.weight_ih, self.bias_ih))

    def _zeros(self, x):
        return Tensor(np.zeros((x.shape[0], self.hidden_size), dtype=x.dtype))


class RNNCell(_RNNCellBase):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh); checks and unbatched handling as torch's."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=None,
                 seed=None):
        super().__init__(input_size, hidden_size, bias, 1, dtype, seed)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        if input.dim() not in (1, 2):
            raise ValueError(f"RNNCell: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None and hx.dim() not in (1, 2):
            raise ValueError(f"RNNCell: Expected hidden to be 1D or 2D, got {hx.dim()}D instead")
        batched = input.dim() == 2
        if not batched:
            input = ops.unsqueeze(input, 0)
        hx = self._zeros(input) if hx is None else (hx if batched else ops.unsqueeze(hx, 0))
        if self.nonlinearity == "tanh":
            ret = ops.tanh(self._gates(input, hx))
        elif self.nonlinearity == "relu":
            ret = ops.relu(self._gates(input, hx))
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return ret if batched else ops.squeeze(ret, 0)


class LSTMCell(_RNNCellBase):
    """Gates i, f, g, o (rows of W in that order); c' = f*c + i*g, h' = o*tanh(c')."""

    def __init__(self, input_size, hidden_size, bias=True, dtype=None, seed=None):
        super().__init__(input_size, hidden_size, bias, 4, dtype, seed)

    def forward(self, input, hx=None):
        if input.dim() not in (1, 2):
            raise ValueError(
                f"LSTMCell: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None:
            for i, v in enumerate(hx):
                if v.dim() not in (1, 2):
                    raise ValueError(
                        f"LSTMCell: Expected hx[{i}] to be 1D or 2D, got {v.dim()}D instead")
        batched = input.dim() == 2
        if not batched:
            input = ops.unsqueeze(input, 0)
        if hx is None:
            zeros = self._zeros(input)
            hx = (zeros, zeros)
        elif not batched:
            hx = (ops.unsqueeze(hx[0], 0), ops.unsqueeze(hx[1], 0))
        h, c = hx
        gates, n = self._gates(input, h), self.hidden_size
        i, f, g, o = (ops.getitem(gates, (slice(None), slice(k * n, (k + 1) * n)))
                      for k in range(4))
        i, f, g, o = ops.sigmoid(i), ops.sigmoid(f), ops.tanh(g), ops.sigmoid(o)
        cy = ops.add(ops.mul(f, c), ops.mul(i, g))
        hy = ops.mul(o, ops.tanh(cy))
        return (hy, cy) if batched else (ops.squeeze(hy, 0), ops.squeeze(cy, 0))


# ----- functional: `reference.nn.functional`, also importable as a module ---------------------
functional = types.ModuleType(__name__ + ".functional",
                              "torch.nn.functional's spelling of the reference ops.")
functional.linear = lambda input, weight, bias=None: ops.linear(input, weight, bias)
functional.relu = ops.relu
functional.tanh = ops.tanh
functional.sigmoid = ops.sigmoid
functional.softmax = lambda input, dim: ops.softmax(input, dim)
functional.log_softmax = lambda input, dim: ops.log_softmax(input, dim)
functional.mse_loss = lambda input, target, reduction="mean": ops.mse_loss(input, target,
                                                                           reduction)
functional.cross_entropy = lambda input, target, reduction="mean": ops.cross_entropy(
    input, target, reduction)
sys.modules[functional.__name__] = functional

__all__ = ["Module", "Parameter", "Linear", "RNNCell", "LSTMCell", "functional",
           "RemovableHandle", "BackwardHook", "BackwardHookFunction"]
