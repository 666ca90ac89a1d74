"""Beyond the ci profile: bugs a campaign finds (`RARE`, not in `ZOO`), one a class: a stale
buffer after a retained backward, a third derivative, a custom Function's output two others
save, retain_grad with hooks on x in x * x, several roots that alias.
"""
import weakref

import torch

from .base import Mutant, OpMutant, vjp
from .killers import (ACCUMULATION, CONTROL, CUSTOM, FUNCTION_OUTPUT_HOOKS, GRAD_IN_FULL,
                      GRADS_AS_VALUES, MULTI_ROOT, REMOVED_BY_HANDLE, RETAIN_GRAPH,
                      SELF_REMOVING_HOOKS, TENSOR_HOOKS)


# ===== 7. beyond the ci profile: bugs a campaign finds ======================================
# Not in ZOO (whose every mutant the ci profile must kill): each needs a rare conjunction of
# features that 60 derandomized programs per suite test almost never draw. The campaign
# (README, "Past one machine") is shown finding them; tests/mutants/test_zoo.py checks they
# are real bugs with a hand-written program.
BINARY_OPS = ("add", "sub", "mul", "div", "maximum", "minimum")


def broadcast_over_new_dims(shape, out, n=2):
    """Was an operand of `shape` broadcast to `out` over `n` or more new leading dims?
    (e.g. (4,) to (2, 3, 4), or a 0-d operand to a matrix)"""
    return len(out) - len(shape) >= n


class UnbroadcastBufferReused(OpMutant):
    id = "unbroadcast-buffer-reused"
    area = "broadcasting after a retained backward (rare)"
    description = ("a binary op that saves its operands (mul, div, maximum, minimum) sums the "
                   "gradient of an operand broadcast over two or more new leading dims of a "
                   "result of three or more (e.g. (4,) to (2, 3, 4)) into a scratch buffer "
                   "kept on its node; a second backward through the retained graph adds into "
                   "the stale buffer")
    killers = (ACCUMULATION, RETAIN_GRAPH, CONTROL)
    targets = BINARY_OPS

    def __init__(self):
        super().__init__()
        self._buffers = weakref.WeakKeyDictionary()  # per node (keyed by its forward)

    def applies(self, name, args, params):
        # Only where the op saves its operands (not add/sub) and the result has three or
        # more dims: wider, the ci profile's programs met it once the suite had grown.
        shapes = [tuple(a.shape) for a in args]
        out = tuple(torch.broadcast_shapes(*shapes))
        return (name not in ("add", "sub") and len(out) >= 3
                and any(broadcast_over_new_dims(s, out) for s in shapes))

    def saves_for(self, name):
        return name not in ("add", "sub")  # torch's add and sub nodes save no tensors

    def bad_vjp(self, name, params, xs, g, real):
        grads = vjp(real, xs, g)
        buffers = self._buffers.setdefault(real, {})
        for i, x in enumerate(xs):
            if broadcast_over_new_dims(tuple(x.shape), tuple(g.shape)):
                if i in buffers:
                    buffers[i] += grads[i]  # the scratch buffer is never zeroed
                else:
                    buffers[i] = grads[i].clone()
                grads[i] = buffers[i].clone()
        return grads


class _ByIdentity:
    """A map from tensors, by identity and held weakly, to values (a WeakKeyDictionary or a
    WeakSet would compare two tensors with ==, elementwise)."""

    def __init__(self):
        self._items = {}  # id(tensor) -> (weak reference, value)

    def get(self, t, default=None):
        ref, value = self._items.get(id(t), (None, default))
        return value if ref is not None and ref() is t else default

    def __contains__(self, t):
        return self.get(t, _ByIdentity) is not _ByIdentity

    def __setitem__(self, t, value):
        self._items = {k: item for k, item in self._items.items() if item[0]() is not None}
        self._items[id(t)] = (weakref.ref(t), value)


# ----- a third derivative -------------------------------------------------------------------
class _Tanh(torch.autograd.Function):
    """tanh, saving its output y for its backward, tanh_backward(g, y), as torch's node does."""

    @staticmethod
    def forward(ctx, x):
        y = torch.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return _TanhBackward.apply(g, y)


class _TanhBackward(torch.autograd.Function):
    """tanh_backward(g, y) = g * (1 - y^2): one node, whose own backward is differentiable."""

    @staticmethod
    def forward(ctx, g, y):
        ctx.save_for_backward(g, y)
        return g * (1 - y * y)

    @staticmethod
    def backward(ctx, gg):
        g, y = ctx.saved_tensors
        return gg * (1 - y * y), _TanhDoubleBackward.apply(gg, g, y)


class _TanhDoubleBackward(torch.autograd.Function):
    """tanh_backward's derivative w.r.t. y, gg * g * -2y, as one node whose backward takes g
    (the gradient tanh's backward was given) as a constant: g's gradient, h * gg * -2y, is
    missing."""

    @staticmethod
    def forward(ctx, gg, g, y):
        ctx.save_for_backward(gg, g, y)
        return -2 * gg * g * y

    @staticmethod
    def backward(ctx, h):
        gg, g, y = ctx.saved_tensors
        return -2 * h * g * y, None, -2 * h * gg * g


class TanhThirdDerivative(Mutant):
    id = "tanh-third-derivative"
    area = "higher order (third derivative, rare)"
    description = ("tanh's backward, tanh_backward(g, y), is a differentiable node and so is its "
                   "derivative w.r.t. y, but the node that derivative records takes g as a "
                   "constant: first and second derivatives are right; a third one through g "
                   "(tanh inside a chain, its incoming gradient depending on x) misses a term")
    killers = (GRADS_AS_VALUES,)

    def __init__(self):
        super().__init__()
        real_op = self.op

        def op(name, *args, **params):
            return _Tanh.apply(*args) if name == "tanh" else real_op(name, *args, **params)
        self.op = op


# ----- a custom Function's output that two other custom Functions save ----------------------
class CustomSavedOutputRecord(Mutant):
    id = "custom-saved-output-record"
    area = "custom Function (two custom consumers, rare)"
    description = ("a custom Function's output that the Function saved itself becomes one saved "
                   "record, shared by the custom Functions that save that output as an input: "
                   "the first links the output's gradient through the record, a second finds "
                   "it taken and is linked to a detached copy, so its part of the gradient is "
                   "lost")
    killers = (CUSTOM, FUNCTION_OUTPUT_HOOKS)

    def __init__(self):
        super().__init__()
        self._records = _ByIdentity()  # an output its Function saved -> {"linked": bool}

    def custom_function(self, spec, forward_values, backward_values):
        f = super().custom_function(spec, forward_values, backward_values)
        saves_inputs = sorted({i for kind, i in spec.saved if kind == "input"})
        saves_outputs = sorted({j for kind, j in spec.saved if kind == "output"})

        def apply(*inputs):
            args, linking = list(inputs), []
            for i in saves_inputs:
                record = self._records.get(inputs[i])
                if record is None or not inputs[i].requires_grad:
                    continue
                if record["linked"]:
                    args[i] = inputs[i].detach().requires_grad_()
                else:
                    linking.append(record)
            outs = f(*args)
            for record in linking:
                record["linked"] = True
            for j in saves_outputs:
                self._records[outs[j]] = {"linked": False}
            return outs
        return apply


# ----- retain_grad and a hook on one tensor ------------------------------------------------
class RetainGradSquared(Mutant):
    id = "retain-grad-squared"
    area = "retain_grad / hooks (x * x, rare)"
    description = ("x * x is fused into one square node, which makes retain_grad on x read x's "
                   "gradient before x's hooks run: a retained, hooked x multiplied by itself "
                   "gets a .grad without what its hooks return")
    killers = (TENSOR_HOOKS, SELF_REMOVING_HOOKS, REMOVED_BY_HANDLE)

    def __init__(self):
        super().__init__()
        self._squared = _ByIdentity()  # tensors multiplied by themselves
        real_op = self.op

        def op(name, *args, **params):
            if name == "mul" and len(args) == 2 and args[0] is args[1]:
                self._squared[args[0]] = True
            return real_op(name, *args, **params)
        self.op = op

    def retain_grad(self, t):
        super().retain_grad(t)
        if "_mutant_sum" in t.__dict__:
            return
        t._mutant_sum = None

        def keep(g):  # registered before the hooks that come later: sees the gradient as is
            if g is not None:  # (an unused output of a multi-output op)
                t._mutant_sum = g.detach().clone() if t._mutant_sum is None else \
                    t._mutant_sum + g.detach()
        t.register_hook(keep)

    def register_hook(self, t, fn):
        t._mutant_hooked = True
        return super().register_hook(t, fn)

    def read_grad(self, t):
        kept = t.__dict__
        if kept.get("_mutant_hooked") and "_mutant_sum" in kept and t in self._squared:
            return kept["_mutant_sum"]
        return t.grad


# ----- several roots sharing a non-leaf subgraph -------------------------------------------
def seeds_by_pointer(roots, weights):
    """The roots and weights of one backward (or grad) keyed by (data pointer, shape): a root
    with another's key has its weight added to that root's. (Roots torch would reject, or
    that need no gradient, go through as they are, to raise as torch does.)"""
    valid = all(r.requires_grad and (r.numel() == 1 if w is None else w.shape == r.shape)
                for r, w in zip(roots, weights))
    if len(roots) < 2 or not valid:
        return roots, weights
    seeds = {}
    for r, w in zip(roots, weights):
        # (an empty tensor or a ZeroTensor has no memory of its own: keyed by itself)
        key = (r.data_ptr(), tuple(r.shape)) if r.numel() and not r._is_zerotensor() else id(r)
        if key in seeds:
            first, w0 = seeds[key]
            seeds[key] = (first, (torch.ones_like(first) if w0 is None else w0)
                          + (torch.ones_like(r) if w is None else w))
        else:
            seeds[key] = (r, w)
    return [r for r, _ in seeds.values()], [w for _, w in seeds.values()]


class RootsKeyedByPointer(Mutant):
    id = "roots-keyed-by-pointer"
    area = "several roots (sharing a subgraph, rare)"
    description = ("backward and grad over several roots key their gradient weights by (data "
                   "pointer, shape): a root that is a view of another root (sharing its "
                   "non-leaf graph) with the same shape but other strides, such as the "
                   "transpose of a square matrix, has its weight added to the other's, "
                   "untransposed")
    killers = (MULTI_ROOT, GRAD_IN_FULL)

    def backward(self, roots, weights, retain_graph, create_graph):
        roots, weights = seeds_by_pointer(roots, weights)
        super().backward(roots, weights, retain_graph, create_graph)

    def grad(self, outputs, inputs, weights, retain_graph, create_graph, allow_unused, **kw):
        if not kw.get("is_grads_batched"):  # (a batch of weights: grad's own loop, row by row)
            outputs, weights = seeds_by_pointer(outputs, weights)
        return super().grad(outputs, inputs, weights, retain_graph, create_graph, allow_unused,
                            **kw)


RARE = (UnbroadcastBufferReused, TanhThirdDerivative, CustomSavedOutputRecord,
        RetainGradSquared, RootsKeyedByPointer)
