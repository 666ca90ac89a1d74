"""What every mutant shares: `Mutant` (TorchAdapter with one bug and its killers),
`OpMutant` (an op whose backward is a custom Function with a wrong vjp) and its helpers, and
`TracksLeaves` (an adapter that knows its live leaves, for bugs in how `.grad` is written;
the broken reference adapters of broken.py use it too).
"""
import weakref

import torch

from adapters.torch_adapter import TorchAdapter


class Mutant(TorchAdapter):
    """TorchAdapter with one bug. Subclasses set the four class attributes below."""

    id = ""
    area = ""
    description = ""
    killers = ()

    def __init__(self):
        super().__init__()
        self.name = f"mutant:{self.id}"

    def describe(self):
        return f"{super().describe()} with mutant {self.id}: {self.description}"

    def render_script(self, program):
        return None  # torch's script would not show the planted bug


# ===== 1. wrong local derivatives ===========================================================
# The op's forward is torch's own; its backward is a custom Function computing a wrong vjp.
# The node saves tensors (and so fails a second backward once freed) exactly when torch's
# node for that op does, so nothing but the derivative differs.


def vjp(fn, inputs, g):
    """The correct vjp of torch function `fn` at `inputs` (zeros for an unused input)."""
    with torch.enable_grad():
        xs = [x.detach().requires_grad_(True) for x in inputs]
        out = fn(*xs)
        grads = torch.autograd.grad(out, xs, g, allow_unused=True)
    return [torch.zeros_like(x) if gr is None else gr for x, gr in zip(xs, grads)]


def unbroadcast(grad, shape):
    """Sum `grad` down to `shape` (the correct reduction of a broadcast gradient)."""
    while grad.dim() > len(shape):
        grad = grad.sum(0)
    for d, size in enumerate(shape):
        if size == 1 and grad.shape[d] != 1:
            grad = grad.sum(d, keepdim=True)
    return grad


def _dims(dim, nd):
    dims = dim if isinstance(dim, tuple) else (dim,)
    return sorted(d % nd for d in dims) if nd else []


class _Node(torch.autograd.Function):
    """One op application: torch's forward, the mutant's backward."""

    @staticmethod
    def forward(ctx, node, *inputs):
        ctx.node = node
        if node.saves:
            ctx.save_for_backward(*inputs)
        else:  # a linear op's vjp needs shapes only, as torch's node keeps only sizes
            ctx.meta = [(x.shape, x.dtype) for x in inputs]
        out = node.real(*inputs)
        return out.clone() if out._is_view() else out

    @staticmethod
    def backward(ctx, g):
        node = ctx.node
        inputs = ctx.saved_tensors if node.saves else [
            torch.zeros(shape, dtype=dtype) for shape, dtype in ctx.meta]
        grads = node.bad_vjp(inputs, g)
        return (None,) + tuple(gr if need else None
                               for gr, need in zip(grads, ctx.needs_input_grad[1:]))


class _Application:
    def __init__(self, real, bad_vjp, saves):
        self.real, self.bad_vjp, self.saves = real, bad_vjp, saves


class OpMutant(Mutant):
    """The ops in `targets` get `bad_vjp(name, params, inputs, g, real)` as their backward;
    `real(*inputs)` is torch's op with the same params (for vjp() of the right function)."""

    targets = ()
    saves = True  # does torch's node for the target save tensors (freed after a backward)?

    def __init__(self):
        super().__init__()
        real_op = self.op

        def op(name, *args, **params):
            if name not in self.targets or not self.applies(name, args, params):
                return real_op(name, *args, **params)
            real = lambda *xs: real_op(name, *xs, **params)  # noqa: E731
            bad = lambda xs, g: self.bad_vjp(name, params, xs, g, real)  # noqa: E731
            return _Node.apply(_Application(real, bad, self.saves_for(name)), *args)
        self.op = op

    def applies(self, name, args, params):
        return True

    def saves_for(self, name):
        return self.saves

    def bad_vjp(self, name, params, xs, g, real):
        raise NotImplementedError


class TracksLeaves:
    """A mixin for any adapter: weak references to every leaf that requires grad (`leaves()`)."""

    def __init__(self):
        super().__init__()
        self._leaves = []

    def _track(self, t):
        self._leaves = [r for r in self._leaves if r() is not None]
        self._leaves.append(weakref.ref(t))
        return t

    def tensor(self, values, dtype, requires_grad):
        t = super().tensor(values, dtype, requires_grad)
        return self._track(t) if requires_grad else t

    def make_layer(self, layer, param_values, dtype):
        module, params = super().make_layer(layer, param_values, dtype)
        for p in params.values():
            self._track(p)
        return module, params

    def leaves(self):
        return [t for t in (r() for r in self._leaves) if t is not None]
