"""The mutant zoo: torch with exactly one realistic autograd bug each.

Every mutant is `adapters.torch_adapter.TorchAdapter` with one bug planted where an engine
author could plausibly ship it, through torch's public API only: an op whose backward is a
custom `torch.autograd.Function` with a wrong vjp, a wrong `backward`/`grad`/`zero_grad`
verb, a custom-Function mechanism that mishandles its ctx, hooks that run wrongly. Seen from
the suite, each is an engine with one bug; the kill report (`python -m tests.mutants.kill`)
and tests/mutants/test_zoo.py check that the ci suites catch every one.

Each mutant is loadable as a backend (`--backend tests.mutants.zoo:SinSign`) and states its
`id`, the semantic `area`, a one-line `description` and the suite tests expected to kill it
(`killers`). Their `render_script` returns None: the unmutated torch script would not
reproduce the bug.
"""
import contextlib
import warnings
import weakref

import torch

from adapters.torch_adapter import TorchAdapter
from gradspec.functions import saved_tensors

# ----- the suite tests, as (module, test function, parameter or None) ---------------------


def OP(name):
    return ("suites.test_ops", "test_op", name)


WEIGHTS = ("suites.test_gradient_weights", "test_nonscalar_backward_with_weights", None)
MULTI_ROOT = ("suites.test_gradient_weights", "test_several_roots_in_one_backward", None)
ACCUMULATION = ("suites.test_grad_accumulation", "test_accumulation_and_zero_grad", None)
RETAIN_GRAPH = ("suites.test_retain_graph", "test_retain_graph_sequences", None)
REUSE = ("suites.test_layer_reuse", "test_layer_reuse_and_recurrence", None)
CUSTOM = ("suites.test_custom_functions", "test_custom_functions", None)
TENSOR_HOOKS = ("suites.test_hooks", "test_tensor_hooks", None)
MODULE_HOOKS = ("suites.test_hooks", "test_module_full_backward_hooks", None)
CONTROL = ("suites.test_graph_control", "test_detach_no_grad_retain_grad", None)
ERRORS = ("suites.test_errors", "test_error_behaviour", None)
BROADCAST = ("suites.test_broadcasting", "test_broadcasting_reduces_back", None)
FUNCTIONAL = ("suites.test_functional_grad", "test_functional_grad", None)


GRAD_MODES = ("suites.test_grad_modes", "test_grad_modes", None)
GRADS_AS_VALUES = ("suites.test_higher_order", "test_gradients_as_values", None)
THROUGH_GRAD = ("suites.test_higher_order", "test_backward_create_graph_and_through_grad", None)
POST_ACCUMULATE = ("suites.test_hooks_since", "test_post_accumulate_grad_hooks", None)
FUNCTION_OUTPUT_HOOKS = ("suites.test_hooks_since", "test_hooks_on_custom_function_outputs", None)
SELF_REMOVING_HOOKS = ("suites.test_hooks_since", "test_hooks_that_remove_themselves", None)
REMOVED_BY_HANDLE = ("suites.test_hooks_since", "test_hooks_removed_by_handle_between_backwards",
                     None)
BATCHED_GRAD = ("suites.test_functional_api", "test_grad_over_a_batch_of_weights", None)
GRAD_IN_FULL = ("suites.test_functional_api", "test_grad_unused_materialized_and_several_outputs",
                None)
FUNCTIONS_OF_LEAVES = ("suites.test_functional_api", "test_vjp_jacobian_hessian", None)


INPLACE = ("suites.test_inplace", "test_inplace_ops_and_views", None)


def MULTI(name):
    return ("suites.test_multi_output", "test_multi_output_op", name)


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


class SinSign(OpMutant):
    id = "sin-sign"
    area = "unary derivative (blatant)"
    description = "d sin(x)/dx = -cos(x): a sign slip"
    killers = (OP("sin"),)
    targets = ("sin",)

    def bad_vjp(self, name, params, xs, g, real):
        return [-g * torch.cos(xs[0])]


class ExpRelative1e4(OpMutant):
    id = "exp-rel-1e-4"
    area = "unary derivative (subtle)"
    description = "exp's vjp is 1e-4 too large (relative): a truncated series / bad constant"
    killers = (OP("exp"),)
    targets = ("exp",)

    def bad_vjp(self, name, params, xs, g, real):
        return [g * torch.exp(xs[0]) * (1 + 1e-4)]


class TanhInFloat32(OpMutant):
    id = "tanh-float32"
    area = "unary derivative (subtle)"
    description = "tanh's vjp is computed in float32 inside a float64 engine"
    killers = (OP("tanh"),)
    targets = ("tanh",)

    def bad_vjp(self, name, params, xs, g, real):
        y = torch.tanh(xs[0].float())
        return [(g.float() * (1 - y * y)).to(g.dtype)]


class ReluEverywhere(OpMutant):
    id = "relu-identity-grad"
    area = "unary derivative (blatant)"
    description = "relu passes the gradient through negative inputs too"
    killers = (OP("relu"),)
    targets = ("relu",)

    def bad_vjp(self, name, params, xs, g, real):
        return [g.clone()]


class PowExponentFactor(OpMutant):
    id = "pow-no-exponent-factor"
    area = "unary derivative (blatant)"
    description = "d x^n/dx = x^(n-1): the factor n is dropped"
    killers = (OP("pow"),)
    targets = ("pow",)

    def bad_vjp(self, name, params, xs, g, real):
        return [g * xs[0] ** (params["exponent"] - 1)]


class MulOwnOperand(OpMutant):
    id = "mul-own-operand"
    area = "binary derivative"
    description = "d(a*b)/da is taken as a instead of b (operands mixed up in the vjp)"
    killers = (OP("mul"),)
    targets = ("mul",)

    def bad_vjp(self, name, params, xs, g, real):
        return vjp(lambda a, b: (a * a + b * b) / 2, xs, g)  # d/da = a, d/db = b


class DivDenominatorSign(OpMutant):
    id = "div-denominator-sign"
    area = "binary derivative"
    description = "d(a/b)/db = +a/b^2: the sign of the denominator's gradient is lost"
    killers = (OP("div"),)
    targets = ("div",)

    def bad_vjp(self, name, params, xs, g, real):
        a, b = xs
        return [unbroadcast(g / b, a.shape), unbroadcast(g * a / (b * b), b.shape)]


class BroadcastMean(OpMutant):
    id = "broadcast-mean"
    area = "broadcasting"
    description = "binary ops reduce a broadcast gradient with mean instead of sum"
    killers = (BROADCAST, OP("add"))
    targets = ("add", "sub", "mul", "div", "maximum", "minimum")

    def saves_for(self, name):
        return name not in ("add", "sub")  # torch's add and sub nodes save no tensors

    def bad_vjp(self, name, params, xs, g, real):
        shape = torch.broadcast_shapes(*(x.shape for x in xs))
        full = [x.expand(shape) for x in xs]
        grads = vjp(real, full, g)
        out = []
        for x, gr in zip(xs, grads):
            while gr.dim() > x.dim():
                gr = gr.mean(0)
            for d, size in enumerate(x.shape):
                if size == 1 and gr.shape[d] != 1:
                    gr = gr.mean(d, keepdim=True)
            out.append(gr)
        return out


class MatmulReshapedNotTransposed(OpMutant):
    id = "matmul-reshape-not-transpose"
    area = "matmul derivative (transposition)"
    description = "matmul's dB is computed as (g^T A) and reshaped to B's shape, not transposed"
    killers = (OP("matmul"),)
    targets = ("matmul",)

    def bad_vjp(self, name, params, xs, g, real):
        da, db = vjp(real, xs, g)
        if db.dim() >= 2:
            db = db.mT.contiguous().reshape(db.shape)
        return [da, db]


class ReshapeAsTranspose(OpMutant):
    id = "reshape-as-transpose"
    area = "shape derivative (non-square only)"
    description = ("a reshape to the reversed shape (m x n to n x m) is differentiated as a "
                   "transpose, all axes reversed like .T (shows only on non-square shapes)")
    killers = (OP("reshape"),)
    targets = ("reshape",)
    saves = False

    def applies(self, name, args, params):
        shape = tuple(args[0].shape)
        return len(shape) >= 2 and tuple(params["shape"]) == shape[::-1] != shape

    def bad_vjp(self, name, params, xs, g, real):
        return [g.permute(tuple(reversed(range(g.dim())))).contiguous()]


class MeanMirroredDim(OpMutant):
    id = "mean-mirrored-dim"
    area = "reduction derivative (non-square only)"
    description = ("mean's vjp divides by the size of dim -1-d instead of d (a dim normalized "
                   "with the wrong sign; shows only on non-square shapes)")
    killers = (OP("mean"),)
    targets = ("mean",)
    saves = False

    def bad_vjp(self, name, params, xs, g, real):
        (grad,) = vjp(real, xs, g)
        shape = xs[0].shape
        dims = _dims(params["dim"], len(shape))
        right = wrong = 1
        for d in dims:
            right *= shape[d]
            wrong *= shape[-1 - d]
        return [grad * right / wrong]


class SumKeepdimFalse(OpMutant):
    id = "sum-keepdim-false"
    area = "reduction derivative (keepdim=False only)"
    description = ("sum's vjp re-inserts the reduced dims at the end, not at their positions "
                   "(shows only with keepdim=False over a non-trailing dim)")
    killers = (OP("sum"),)
    targets = ("sum",)
    saves = False

    def bad_vjp(self, name, params, xs, g, real):
        x = xs[0]
        if x.dim() == 0 or params["keepdim"]:
            return vjp(real, xs, g)
        for _ in _dims(params["dim"], x.dim()):
            g = g.unsqueeze(-1)
        return [g.expand(x.shape).contiguous()]


class MaxFirstElement(OpMutant):
    id = "max-first-element"
    area = "reduction derivative"
    description = "max along a dim routes the gradient to the slice's first element, not argmax"
    killers = (OP("max"),)
    targets = ("max",)

    def bad_vjp(self, name, params, xs, g, real):
        x = xs[0]
        dim = params["dim"] % x.dim()
        if not params["keepdim"]:
            g = g.unsqueeze(dim)
        index = torch.zeros(g.shape, dtype=torch.long)
        return [torch.zeros_like(x).scatter(dim, index, g)]


class SoftmaxUncentered(OpMutant):
    id = "softmax-uncentered"
    area = "softmax derivative"
    description = "softmax's vjp is s*g, missing the -s*sum(s*g) term"
    killers = (OP("softmax"),)
    targets = ("softmax",)

    def bad_vjp(self, name, params, xs, g, real):
        return [real(xs[0]) * g]


class LogSoftmaxNoSum(OpMutant):
    id = "log-softmax-no-sum"
    area = "softmax derivative"
    description = "log_softmax's vjp is g - softmax*g instead of g - softmax*sum(g)"
    killers = (OP("log_softmax"),)
    targets = ("log_softmax",)

    def bad_vjp(self, name, params, xs, g, real):
        return [g - torch.exp(real(xs[0])) * g]


class PermuteNotInverted(OpMutant):
    id = "permute-not-inverted"
    area = "shape derivative"
    description = "permute's vjp applies the permutation again instead of its inverse"
    killers = (OP("permute"),)
    targets = ("permute",)
    saves = False

    def bad_vjp(self, name, params, xs, g, real):
        return [g.permute(params["dims"]).contiguous()]


class ExpandMean(OpMutant):
    id = "expand-mean"
    area = "shape derivative"
    description = "expand's vjp averages over the expanded dims instead of summing"
    killers = (OP("expand"),)
    targets = ("expand",)
    saves = False

    def bad_vjp(self, name, params, xs, g, real):
        (grad,) = vjp(real, xs, g)
        return [grad * xs[0].numel() / g.numel()]


class IndexRepeatedOnce(OpMutant):
    id = "index-repeats-once"
    area = "integer indexing"
    description = "integer indexing scatters its gradient without accumulating: repeated " \
                  "indices count once"
    killers = (OP("index"),)
    targets = ("index",)

    def bad_vjp(self, name, params, xs, g, real):
        x = xs[0]
        index = torch.tensor(params["indices"])
        return [torch.zeros_like(x).index_copy(params["dim"], index, g)]


class GetitemIgnoresStep(OpMutant):
    id = "getitem-ignores-step"
    area = "basic indexing"
    description = "slicing's vjp ignores the step: x[0:4:2]'s gradient lands in x[0:2]"
    killers = (OP("getitem"),)
    targets = ("getitem",)
    saves = False

    def bad_vjp(self, name, params, xs, g, real):
        index = []
        for item in params["index"]:
            if isinstance(item, tuple):
                start, stop, step = item[1:]
                n = len(range(start, stop, step or 1))
                index.append(slice(start, start + n))
            else:
                index.append(item)
        grad = torch.zeros_like(xs[0])
        grad[tuple(index)] = g
        return [grad]


class CatNoOffset(OpMutant):
    id = "cat-no-offset"
    area = "join derivative"
    description = "cat's vjp hands every input the first slice of the gradient (offsets lost)"
    killers = (OP("cat"),)
    targets = ("cat",)
    saves = False

    def bad_vjp(self, name, params, xs, g, real):
        dim = params["dim"] % g.dim()
        return [g.narrow(dim, 0, x.shape[dim]).contiguous() for x in xs]


class WhereInverted(OpMutant):
    id = "where-inverted"
    area = "selection derivative"
    description = "where's vjp routes the gradient with the negated condition"
    killers = (OP("where"),)
    targets = ("where",)

    def bad_vjp(self, name, params, xs, g, real):
        cond = ~torch.tensor(params["condition"])
        return vjp(lambda a, b: torch.where(cond, a, b), xs, g)


class LinearBiasMean(OpMutant):
    id = "linear-bias-mean"
    area = "linear derivative"
    description = "linear's bias gradient is averaged over the batch instead of summed"
    killers = (OP("linear"),)
    targets = ("linear",)

    def bad_vjp(self, name, params, xs, g, real):
        grads = vjp(real, xs, g)
        if len(xs) == 3:
            grads[2] = grads[2] / (g.numel() // g.shape[-1])  # the batch size (1 if none)
        return grads


class CrossEntropyNotAveraged(OpMutant):
    id = "cross-entropy-not-averaged"
    area = "loss derivative"
    description = "cross_entropy's vjp forgets to divide by the batch size"
    killers = (OP("cross_entropy"),)
    targets = ("cross_entropy",)

    def bad_vjp(self, name, params, xs, g, real):
        (grad,) = vjp(real, xs, g)
        return [grad * (xs[0].shape[0] if xs[0].dim() == 2 else 1)]


class MseHalf(OpMutant):
    id = "mse-missing-2"
    area = "loss derivative"
    description = "mse_loss's vjp drops the factor 2 of the square"
    killers = (OP("mse_loss"),)
    targets = ("mse_loss",)

    def bad_vjp(self, name, params, xs, g, real):
        return [gr / 2 for gr in vjp(real, xs, g)]


# ===== 2. the backward verbs =================================================================
class WeightsIgnored(Mutant):
    id = "weights-ignored"
    area = "gradient weights"
    description = "backward(roots, weights) differentiates as if every weight were all ones"
    killers = (WEIGHTS, MULTI_ROOT)

    def backward(self, roots, weights, retain_graph, create_graph):
        weights = [None if w is None else torch.ones_like(w) for w in weights]
        super().backward(roots, weights, retain_graph, create_graph)


class WeightsTransposed(Mutant):
    id = "weights-transposed"
    area = "gradient weights"
    description = "a matrix gradient weight is read transposed (column-major)"
    killers = (WEIGHTS, MULTI_ROOT)

    def backward(self, roots, weights, retain_graph, create_graph):
        weights = [w.mT.contiguous() if w is not None and w.dim() >= 2 else w for w in weights]
        super().backward(roots, weights, retain_graph, create_graph)


class FirstRootOnly(Mutant):
    id = "first-root-only"
    area = "several roots"
    description = "backward over several roots backpropagates only the first"
    killers = (MULTI_ROOT,)

    def backward(self, roots, weights, retain_graph, create_graph):
        super().backward(roots[:1], weights[:1], retain_graph, create_graph)


class ImplicitOnesForNonscalar(Mutant):
    id = "implicit-nonscalar-ones"
    area = "errors"
    description = "an implicit gradient for a non-scalar root silently means ones (no error)"
    killers = (ERRORS,)

    def backward(self, roots, weights, retain_graph, create_graph):
        weights = [torch.ones_like(r) if w is None and r.dim() else w
                   for r, w in zip(roots, weights)]
        super().backward(roots, weights, retain_graph, create_graph)


class _TracksLeaves(Mutant):
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


class GradOverwritten(_TracksLeaves):
    id = "grad-overwritten"
    area = ".grad accumulation"
    description = "each backward overwrites a leaf's .grad instead of adding to it"
    killers = (ACCUMULATION, RETAIN_GRAPH)

    def backward(self, roots, weights, retain_graph, create_graph):
        leaves = self.leaves()
        before = [t.grad for t in leaves]
        for t in leaves:
            t.grad = None
        try:
            super().backward(roots, weights, retain_graph, create_graph)
        finally:
            for t, old in zip(leaves, before):
                if t.grad is None:
                    t.grad = old


class RetainGraphAlways(Mutant):
    id = "retain-graph-always"
    area = "retain_graph"
    description = "retain_graph is always True: a backward through freed buffers never fails"
    killers = (RETAIN_GRAPH, ACCUMULATION)
    retain = True

    def backward(self, roots, weights, retain_graph, create_graph):
        super().backward(roots, weights, self.retain, create_graph)

    def grad(self, outputs, inputs, weights, retain_graph, create_graph, allow_unused, **kw):
        return super().grad(outputs, inputs, weights, self.retain, create_graph, allow_unused,
                             **kw)


class RetainGraphNever(RetainGraphAlways):
    id = "retain-graph-never"
    area = "retain_graph"
    description = "retain_graph=True is ignored: the graph is always freed"
    killers = (RETAIN_GRAPH, ACCUMULATION)
    retain = False


class ZeroGradNoop(Mutant):
    id = "zero-grad-noop"
    area = "zero_grad"
    description = "zero_grad does nothing"
    killers = (ACCUMULATION,)

    def zero_grad(self, tensors, set_to_none):
        pass


class ZeroGradNeverNone(Mutant):
    id = "zero-grad-never-none"
    area = "zero_grad"
    description = "zero_grad(set_to_none=True) zeros .grad instead of setting it to None"
    killers = (ACCUMULATION,)

    def zero_grad(self, tensors, set_to_none):
        super().zero_grad(tensors, False)


class FunctionalGradAccumulates(Mutant):
    id = "grad-writes-dot-grad"
    area = "functional grad"
    description = "autograd.grad also accumulates its result into the inputs' .grad"
    killers = (FUNCTIONAL,)

    def grad(self, outputs, inputs, weights, retain_graph, create_graph, allow_unused, **kw):
        grads = super().grad(outputs, inputs, weights, retain_graph, create_graph, allow_unused,
                             **kw)
        for t, g in zip(inputs, grads):
            if g is not None and t.is_leaf:
                t.grad = g.detach().clone() if t.grad is None else t.grad + g.detach()
        return grads


class AllowUnusedZeros(Mutant):
    id = "allow-unused-zeros"
    area = "functional grad"
    description = "grad(..., allow_unused=True) returns zeros for an unused input, not None"
    killers = (FUNCTIONAL,)

    def grad(self, outputs, inputs, weights, retain_graph, create_graph, allow_unused, **kw):
        grads = super().grad(outputs, inputs, weights, retain_graph, create_graph, allow_unused,
                             **kw)
        return tuple(torch.zeros_like(t) if g is None else g for t, g in zip(inputs, grads))


# ===== 3. reuse: a leaf used several times ===================================================
class _Use(torch.autograd.Function):
    """One use of a leaf: an identity whose backward passes the gradient on only if
    `keep(use number, number of uses so far)` says so."""

    @staticmethod
    def forward(ctx, x, counter, k, keep):
        ctx.counter, ctx.k, ctx.keep = counter, k, keep
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return (g if ctx.keep(ctx.k, ctx.counter[0]) else None), None, None, None


class _ReuseMutant(Mutant):
    """Every use of a leaf that requires grad (an op or function argument, a layer parameter
    in a call) goes through a _Use; `keep` decides which uses the engine accumulates."""

    @staticmethod
    def keep(k, n):
        raise NotImplementedError

    def __init__(self):
        super().__init__()
        real_op = self.op
        self.op = lambda name, *args, **params: real_op(name, *map(self._use, args), **params)

    def _use(self, t):
        if not (isinstance(t, torch.Tensor) and t.is_leaf and t.requires_grad
                and torch.is_grad_enabled()):
            return t
        counter = t.__dict__.setdefault("_mutant_uses", [0])
        counter[0] += 1
        return _Use.apply(t, counter, counter[0] - 1, self.keep)

    def call_layer(self, module, layer, args):
        params = {name: self._use(p) for name, p in module.named_parameters()}
        args = [None if a is None else self._use(a) for a in args]
        call = lambda *xs: torch.func.functional_call(module, params, xs)  # noqa: E731
        if layer.kind == "linear":
            return (call(args[0]),)
        if layer.kind == "rnn_cell":
            return (call(args[0]) if args[1] is None else call(args[0], args[1]),)
        x, h, c = args
        return tuple(call(x) if h is None else call(x, (h, c)))

    def custom_function(self, spec, forward_values, backward_values):
        f = super().custom_function(spec, forward_values, backward_values)
        return lambda *ts: f(*map(self._use, ts))


class FirstUseOnly(_ReuseMutant):
    id = "reuse-first-use-only"
    area = "reuse (weight sharing)"
    description = "only the first use of a reused leaf or parameter contributes to its .grad"
    killers = (REUSE,)

    @staticmethod
    def keep(k, n):
        return k == 0


class LastUseOnly(_ReuseMutant):
    id = "reuse-last-use-only"
    area = "reuse (weight sharing)"
    description = "only the last use of a reused leaf or parameter contributes to its .grad"
    killers = (REUSE,)

    @staticmethod
    def keep(k, n):
        return k == n - 1


# ===== 4. graph control ======================================================================
class NonLeafGradFilled(Mutant):
    id = "nonleaf-grad-filled"
    area = "retain_grad"
    description = "backward fills .grad of every non-leaf, retain_grad() or not"
    killers = (CONTROL,)

    def __init__(self):
        super().__init__()
        real_op = self.op
        self.op = lambda name, *args, **params: self._retain(real_op(name, *args, **params))

    @staticmethod
    def _retain(t):
        if isinstance(t, torch.Tensor) and t.requires_grad and not t.is_leaf:
            t.retain_grad()
        return t

    def call_layer(self, module, layer, args):
        return tuple(map(self._retain, super().call_layer(module, layer, args)))

    def custom_function(self, spec, forward_values, backward_values):
        f = super().custom_function(spec, forward_values, backward_values)
        return lambda *ts: tuple(map(self._retain, f(*ts)))


class RetainGradBeforeHooks(Mutant):
    id = "retain-grad-before-hooks"
    area = "retain_grad / hooks"
    description = ("retain_grad is an ordinary hook run in registration order, so it misses "
                   "the replacement made by a hook registered after it (torch < 2.0)")
    killers = (TENSOR_HOOKS,)

    def retain_grad(self, t):
        if "_mutant_grad" in t.__dict__:
            return
        t._mutant_grad = None

        def keep(g):
            t._mutant_grad = g.detach().clone() if t._mutant_grad is None else \
                t._mutant_grad + g.detach()
        t.register_hook(keep)

    def read_grad(self, t):
        return t.__dict__["_mutant_grad"] if "_mutant_grad" in t.__dict__ else t.grad


class DetachLeaks(Mutant):
    id = "detach-leaks"
    area = "detach"
    description = "detach() returns an alias that stays attached to the graph"
    killers = (CONTROL,)

    def detach(self, t):
        return t.view_as(t)


class NoGradIgnored(Mutant):
    id = "no-grad-ignored"
    area = "no_grad"
    description = "no_grad() does not stop recording"
    killers = (CONTROL,)

    def no_grad(self):
        return contextlib.nullcontext()


# ===== 5. custom Functions ===================================================================
def buggy_function(spec, forward_values, backward_values, *, materialize=True,
                   needs=None, grads=None, result=None):
    """gradspec.functions.torch_like_function with one hook per bug: `materialize=False`
    ignores set_materialize_grads(False); `needs(inputs)` computes needs_input_grad;
    `grads(grads)` and `result(ctx, result)` change what backward receives and returns."""

    def forward(ctx, *inputs):
        outputs = forward_values(inputs)
        ctx.save_for_backward(*saved_tensors(spec, inputs, outputs))
        if not spec.materialize_grads and materialize:
            ctx.set_materialize_grads(False)
        if spec.non_differentiable:
            ctx.mark_non_differentiable(*(outputs[j] for j in spec.non_differentiable))
        ctx.inputs_meta = [(x.shape, x.dtype) for x in inputs]
        ctx.fake_needs = needs(inputs) if needs else None
        return outputs

    def backward(ctx, *gs):
        saved = ctx.saved_tensors if spec.saved else ()
        gs = grads(gs) if grads else gs
        out = backward_values(gs, saved, ctx.fake_needs or ctx.needs_input_grad)
        return result(ctx, out) if result else out

    cls = type(spec.name, (torch.autograd.Function,), {"forward": staticmethod(forward),
                                                        "backward": staticmethod(backward)})
    return cls.apply


class CustomGradsSwapped(Mutant):
    id = "custom-grads-swapped"
    area = "custom Function"
    description = "a custom backward's gradients are routed to its inputs in reverse order"
    killers = (CUSTOM,)

    def custom_function(self, spec, forward_values, backward_values):
        def swap(ctx, out):
            return tuple(reversed(out[:2])) + tuple(out[2:]) if len(out) >= 2 else out
        return buggy_function(spec, forward_values, backward_values, result=swap)


class CustomNoneAsZeros(Mutant):
    id = "custom-none-as-zeros"
    area = "custom Function"
    description = "a custom backward's None gradient is turned into zeros"
    killers = (CUSTOM,)

    def custom_function(self, spec, forward_values, backward_values):
        def zeros(ctx, out):
            fixed = []
            for i, g in enumerate(out):
                if g is None and i < len(ctx.inputs_meta):
                    shape, dtype = ctx.inputs_meta[i]
                    g = torch.zeros(shape, dtype=dtype)
                fixed.append(g)
            return tuple(fixed)
        return buggy_function(spec, forward_values, backward_values, result=zeros)


class CustomIncomingGradReplaced(Mutant):
    id = "custom-incoming-grad-ones"
    area = "custom Function"
    description = "a custom backward receives ones instead of the incoming gradient"
    killers = (CUSTOM,)

    def custom_function(self, spec, forward_values, backward_values):
        return buggy_function(spec, forward_values, backward_values,
                              grads=lambda gs: tuple(None if g is None else torch.ones_like(g)
                                                     for g in gs))


class CustomNeedsInputGradWrong(Mutant):
    id = "custom-needs-input-grad"
    area = "custom Function"
    description = ("ctx.needs_input_grad says whether an input has a grad_fn (False for "
                   "leaves that require grad)")
    killers = (CUSTOM,)

    def custom_function(self, spec, forward_values, backward_values):
        return buggy_function(spec, forward_values, backward_values,
                              needs=lambda inputs: tuple(x.grad_fn is not None for x in inputs))


class CustomMaterializeIgnored(Mutant):
    id = "custom-materialize-ignored"
    area = "custom Function"
    description = "set_materialize_grads(False) is ignored: unused outputs' grads are zeros"
    killers = (CUSTOM,)

    def custom_function(self, spec, forward_values, backward_values):
        return buggy_function(spec, forward_values, backward_values, materialize=False)


# ===== 6. hooks ==============================================================================
class HookReturnIgnored(Mutant):
    id = "hook-return-ignored"
    area = "tensor hooks"
    description = "a tensor hook's return value does not replace the gradient"
    killers = (TENSOR_HOOKS,)

    def register_hook(self, t, fn):
        return t.register_hook(lambda g: (fn(g), None)[1])


class HooksReversed(Mutant):
    id = "hooks-reversed"
    area = "tensor hooks"
    description = "several hooks on one tensor run in reverse registration order"
    killers = (TENSOR_HOOKS,)

    def register_hook(self, t, fn):
        hooks = t.__dict__.get("_mutant_hooks")
        if hooks is None:
            hooks = t._mutant_hooks = []

            def run_all(g):
                for f in reversed(hooks):
                    r = f(g)
                    g = g if r is None else r
                return g
            t.register_hook(run_all)
        hooks.append(fn)


class ModuleHookParamGrads(Mutant):
    id = "module-hook-param-grads"
    area = "module hooks"
    description = ("a module's grad_input reports its last operation's gradients, parameters "
                   "included (torch's legacy register_backward_hook)")
    killers = (MODULE_HOOKS,)

    def register_module_hook(self, module, fn):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return module.register_backward_hook(lambda m, gi, go: fn(gi, go))

    def call_layer(self, module, layer, args):
        with warnings.catch_warnings():  # torch warns about legacy hooks on every call
            warnings.simplefilter("ignore")
            return super().call_layer(module, layer, args)


# ===== harder semantics: ops with several outputs =========================================
class _MultiNode(torch.autograd.Function):
    """One application of a multi-output op: torch's forward, the mutant's backward. It gets
    None for an output no loss used (as torch's own nodes do before materializing zeros) and
    saves tensors (the indices, and the input) only where torch's node saves the indices, so a
    freed graph fails alike."""

    @staticmethod
    def forward(ctx, app, x):
        ctx.app, ctx.shape, ctx.dtype = app, x.shape, x.dtype
        ctx.set_materialize_grads(False)
        outs = tuple(o.clone() for o in app.real(x))
        if len(outs) == 2 and not outs[1].is_floating_point():  # (values, indices)
            ctx.mark_non_differentiable(outs[1])
            ctx.save_for_backward(outs[1], x)
        else:
            ctx.piece_shapes = [o.shape for o in outs]
        return outs

    @staticmethod
    def backward(ctx, *grads):
        return None, ctx.app.bad_vjp(ctx, grads)


class MultiOpMutant(Mutant):
    """The multi-output ops in `targets` get `bad_vjp(name, params, ctx, grads)` (None for an
    unused output) as their backward."""

    targets = ()

    def __init__(self):
        super().__init__()
        real_op = self.op

        def op(name, *args, **params):
            if name not in self.targets:
                return real_op(name, *args, **params)
            app = _Application(lambda x: real_op(name, x, **params), None, True)
            app.bad_vjp = lambda ctx, grads: self.bad_vjp(name, params, ctx, grads)
            return _MultiNode.apply(app, *args)
        self.op = op

    def bad_vjp(self, name, params, ctx, grads):
        raise NotImplementedError


class UnusedPieceOnes(MultiOpMutant):
    id = "unused-piece-ones"
    area = "multi-output (unused outputs)"
    description = ("split/chunk/unbind treat the gradient of a piece no loss used as ones, not "
                   "zeros")
    killers = (MULTI("split"), MULTI("chunk"), MULTI("unbind"))
    targets = ("split", "chunk", "unbind")

    def bad_vjp(self, name, params, ctx, grads):
        dim = params["dim"] % len(ctx.shape)
        grads = [torch.ones(shape, dtype=ctx.dtype) if g is None else g
                 for g, shape in zip(grads, ctx.piece_shapes)]
        return torch.stack(grads, dim) if name == "unbind" else torch.cat(grads, dim)


class _Scatter(MultiOpMutant):
    def bad_vjp(self, name, params, ctx, grads):
        indices, x = ctx.saved_tensors
        g = grads[0]
        dim = params["dim"] % len(ctx.shape)
        if name in ("max_dim", "min_dim") and not params["keepdim"]:
            g, indices = g.unsqueeze(dim), indices.unsqueeze(dim)
        return torch.zeros(ctx.shape, dtype=g.dtype).scatter(dim, self.where(indices, dim, x), g)


class SortGradUnpermuted(_Scatter):
    id = "sort-grad-unpermuted"
    area = "multi-output (sort)"
    description = "sort's vjp hands the gradient back in sorted order, not through the indices"
    killers = (MULTI("sort"),)
    targets = ("sort",)

    @staticmethod
    def where(indices, dim, x):
        shape = [1] * indices.dim()
        shape[dim] = indices.shape[dim]
        return torch.arange(indices.shape[dim]).reshape(shape).expand(indices.shape)


class MinDimAtArgmax(_Scatter):
    id = "min-dim-at-argmax"
    area = "multi-output (min along a dim)"
    description = "min(dim)'s vjp routes the gradient to the argmax (a max kernel reused)"
    killers = (MULTI("min_dim"),)
    targets = ("min_dim",)

    @staticmethod
    def where(indices, dim, x):
        return x.argmax(dim, keepdim=True)


# ===== harder semantics: grad modes ==========================================================
class EnableGradIgnored(Mutant):
    id = "enable-grad-ignored"
    area = "grad modes (nested)"
    description = ("enable_grad() / set_grad_enabled(True) inside no_grad do nothing: the outer "
                   "no_grad leaks into what should be recorded")
    killers = (GRAD_MODES,)

    def grad_mode(self, mode):
        if mode in ("enable_grad", "set_grad_enabled(True)") and not torch.is_grad_enabled():
            return contextlib.nullcontext()
        return super().grad_mode(mode)


class InferenceModeAsNoGrad(Mutant):
    id = "inference-mode-as-no-grad"
    area = "grad modes (inference_mode)"
    description = ("inference_mode() is no_grad(): no inference tensors (no error when a recorded "
                   "op saves one), and enable_grad inside it records")
    killers = (GRAD_MODES,)

    def grad_mode(self, mode):
        return super().grad_mode("no_grad" if mode == "inference_mode" else mode)


class RequiresGradOffAccumulates(Mutant):
    id = "requires-grad-off-accumulates"
    area = "grad modes (requires_grad_)"
    description = ("requires_grad_(False) on a leaf only changes the flag: a backward through ops "
                   "recorded before still accumulates into its .grad")
    killers = (GRAD_MODES,)

    def set_requires_grad(self, t, flag):
        if not flag and t.requires_grad:
            def accumulate(g):  # a leaf's hook runs even where its accumulator then does not
                if not t.requires_grad:
                    t.grad = g.detach().clone() if t.grad is None else t.grad + g.detach()
            t.register_hook(accumulate)
        t.requires_grad_(flag)


class DetachCopies(Mutant):
    id = "detach-copies"
    area = "grad modes (detach shares storage)"
    description = "detach() returns a copy, not a tensor sharing its source's memory"
    killers = (GRAD_MODES,)

    def detach(self, t):
        return t.detach().clone()


# ===== harder semantics: higher-order gradients =============================================
class CreateGraphIgnored(Mutant):
    id = "create-graph-ignored"
    area = "higher order (create_graph)"
    description = ("create_graph=True is ignored (the graph is still retained): gradients are "
                   "constants, so a gradient of a gradient is missing")
    killers = (GRADS_AS_VALUES, THROUGH_GRAD)

    def backward(self, roots, weights, retain_graph, create_graph):
        retain = create_graph if retain_graph is None else retain_graph
        super().backward(roots, weights, retain, False)

    def grad(self, outputs, inputs, weights, retain_graph, create_graph, allow_unused, **kw):
        retain = create_graph if retain_graph is None else retain_graph
        return super().grad(outputs, inputs, weights, retain, False, allow_unused, **kw)


class MulBackwardConstant(OpMutant):
    id = "mul-double-backward-constant"
    area = "higher order (double backward)"
    description = ("mul's backward treats its saved operands as constants: first derivatives "
                   "are right, their derivatives (a Hessian-vector product) miss the mixed term")
    killers = (GRADS_AS_VALUES,)
    targets = ("mul",)

    def bad_vjp(self, name, params, xs, g, real):
        a, b = xs
        return [unbroadcast(g * b.detach(), a.shape), unbroadcast(g * a.detach(), b.shape)]


class DotGradDetached(_TracksLeaves):
    id = "dot-grad-detached"
    area = "higher order (.grad after create_graph)"
    description = ("backward(create_graph=True) stores .grad detached: it does not require grad "
                   "and a backward through it adds nothing")
    killers = (THROUGH_GRAD,)

    def backward(self, roots, weights, retain_graph, create_graph):
        super().backward(roots, weights, retain_graph, create_graph)
        if create_graph:
            for t in self.leaves():
                if t.grad is not None:
                    t.grad = t.grad.detach()


# ===== harder semantics: hooks added since =================================================
class PostAccumulateBeforeAccumulation(Mutant):
    id = "post-accumulate-before-accumulation"
    area = "post-accumulate-grad hooks"
    description = ("post-accumulate-grad hooks run before the gradient is accumulated (they see "
                   "the previous .grad, and an optimizer step there uses it)")
    killers = (POST_ACCUMULATE,)

    def register_post_accumulate_hook(self, t, fn):
        return t.register_hook(lambda g: fn(t))


class HookRemovalIgnored(Mutant):
    id = "hook-removal-ignored"
    area = "hook handles"
    description = "a hook's handle.remove() does nothing: the hook keeps firing"
    killers = (SELF_REMOVING_HOOKS, REMOVED_BY_HANDLE)

    def remove_hook(self, handle):
        pass


class RemovalBetweenBackwardsIgnored(Mutant):
    id = "hook-removal-between-backwards-ignored"
    area = "hook handles"
    description = ("handle.remove() works from inside a running hook but does nothing between "
                   "two backward calls: the hook fires again in the next backward")
    killers = (REMOVED_BY_HANDLE,)

    def __init__(self):
        super().__init__()
        self._in_backward = False

    def backward(self, roots, weights, retain_graph, create_graph):
        self._in_backward = True
        try:
            return super().backward(roots, weights, retain_graph, create_graph)
        finally:
            self._in_backward = False

    def remove_hook(self, handle):
        if self._in_backward:
            super().remove_hook(handle)


class FunctionOutputHooksSkipped(Mutant):
    id = "function-output-hooks-skipped"
    area = "hooks on custom Function outputs"
    description = "tensor hooks registered on the outputs of a custom Function never run"
    killers = (FUNCTION_OUTPUT_HOOKS,)

    def __init__(self):
        super().__init__()
        self._made_by_functions = weakref.WeakSet()

    def custom_function(self, spec, forward_values, backward_values):
        f = super().custom_function(spec, forward_values, backward_values)

        def apply(*ts):
            outs = f(*ts)
            self._made_by_functions.update(outs)
            return outs
        return apply

    def register_hook(self, t, fn):
        if t in self._made_by_functions:
            return t.register_hook(lambda g: None)  # registered, but not the user's function
        return super().register_hook(t, fn)


# ===== harder semantics: the functional API ================================================
class MaterializeGradsIgnored(Mutant):
    id = "materialize-grads-ignored"
    area = "functional API (materialize_grads)"
    description = "grad(..., materialize_grads=True) still returns None for an unused input"
    killers = (GRAD_IN_FULL,)

    def grad(self, outputs, inputs, weights, retain_graph, create_graph, allow_unused, **kw):
        return super().grad(outputs, inputs, weights, retain_graph, create_graph, allow_unused)


class BatchedGradOneRow(Mutant):
    id = "batched-grad-one-row"
    area = "functional API (batched grad)"
    description = "grad(..., is_grads_batched=True) repeats the first row's vjp for every row"
    killers = (BATCHED_GRAD,)

    def batched_grad(self, outputs, inputs, weights, retain_graph, create_graph, allow_unused,
                     materialize_grads):
        n = int(weights[0].shape[0])
        first = self.torch.autograd.grad(outputs, inputs, [w[0] for w in weights],
                                         retain_graph=retain_graph, create_graph=create_graph,
                                         allow_unused=allow_unused,
                                         materialize_grads=materialize_grads)
        return tuple(None if g is None else g.unsqueeze(0).expand(n, *g.shape).clone()
                     for g in first)


class GradOutputsReversed(Mutant):
    id = "grad-outputs-reversed"
    area = "functional API (several outputs)"
    description = "grad() over several outputs pairs their grad_outputs in reverse order"
    killers = (GRAD_IN_FULL,)

    def grad(self, outputs, inputs, weights, retain_graph, create_graph, allow_unused, **kw):
        return super().grad(outputs, inputs, weights[::-1], retain_graph, create_graph,
                            allow_unused, **kw)


class JacobianTransposed(Mutant):
    id = "jacobian-transposed"
    area = "functional API (jacobian)"
    description = ("jacobian() lays each Jacobian out as input shape + output shape (the "
                   "transpose), not output shape + input shape")
    killers = (FUNCTIONS_OF_LEAVES,)

    def functional(self, kind, f, inputs, weight):
        result = super().functional(kind, f, inputs, weight)
        if kind != "jacobian":
            return result
        transposed = []
        for j, x in zip(result, inputs):
            out_shape = j.shape[:j.dim() - x.dim()]
            flat = j.reshape(out_shape.numel(), x.numel())
            transposed.append(flat.T.reshape(tuple(x.shape) + tuple(out_shape)))
        return tuple(transposed)


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
    description = ("a binary op sums the gradient of an operand broadcast over two or more new "
                   "leading dims (e.g. (4,) to (2, 3, 4)) into a scratch buffer kept on its "
                   "node; a second backward through the retained graph adds into the stale "
                   "buffer")
    killers = (ACCUMULATION, RETAIN_GRAPH, CONTROL)
    targets = BINARY_OPS

    def __init__(self):
        super().__init__()
        self._buffers = weakref.WeakKeyDictionary()  # per node (keyed by its forward)

    def applies(self, name, args, params):
        shapes = [tuple(a.shape) for a in args]
        out = tuple(torch.broadcast_shapes(*shapes))
        return any(broadcast_over_new_dims(s, out) for s in shapes)

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


# ===== harder semantics: in-place ops and views =============================================
class _SavedByReference(torch.autograd.graph.saved_tensors_hooks):
    """Saved tensors kept as the tensors themselves, not as versioned SavedVariables."""

    def __init__(self):
        super().__init__(lambda t: t, lambda t: t)


class VersionNeverChecked(Mutant):
    id = "inplace-version-never-checked"
    area = "in-place ops (version counter)"
    description = ("a saved tensor's version is never checked: a backward through a node whose "
                   "saved tensor was since modified in place uses the new values instead of "
                   "raising")
    killers = (INPLACE,)

    def __init__(self):
        super().__init__()
        op, inplace = self.op, self.inplace_ops
        self.op = _Wrapped(op, _SavedByReference)
        self.inplace_ops = _Wrapped(inplace, _SavedByReference)


class _Wrapped:
    """Ops run inside a context manager (made fresh for each call)."""

    def __init__(self, ops, context):
        self.ops, self.context = ops, context

    def __call__(self, name, *args, **params):
        with self.context():
            return self.ops(name, *args, **params)

    def source(self, *a):
        return self.ops.source(*a)


class InplaceNotRecorded(Mutant):
    id = "inplace-not-recorded"
    area = "in-place ops (history)"
    description = ("an in-place op changes the values (and the version) but not the history: "
                   "gradients flow as if the tensor still held what it held before, and an "
                   "operand gets none")
    killers = (INPLACE,)

    def inplace(self, name, target, *args, **params):
        if torch.is_grad_enabled() and target.requires_grad and target.is_leaf:
            return super().inplace(name, target, *args, **params)  # still refused at once
        with torch.no_grad():
            return super().inplace(name, target, *args, **params)


class ViewWriteNotReachingBase(Mutant):
    id = "inplace-view-write-copied"
    area = "in-place ops (views)"
    description = ("a write into a view goes to a copy of the view: the base (and its other "
                   "views) never see it, nor get its gradient")
    killers = (INPLACE,)

    def inplace(self, name, target, *args, **params):
        if target._is_view() and not (target.requires_grad and target._base.is_leaf):
            target = target.clone()
        return super().inplace(name, target, *args, **params)


class LeafInplaceAllowed(Mutant):
    id = "leaf-inplace-allowed"
    area = "in-place ops (leaf check)"
    description = ("an in-place op on a leaf that requires grad (or on a view of one) is "
                   "carried out silently, unrecorded, instead of raising")
    killers = (INPLACE,)

    def inplace(self, name, target, *args, **params):
        base = target._base if target._is_view() else target
        if torch.is_grad_enabled() and base.requires_grad and base.is_leaf:
            with torch.no_grad():
                return super().inplace(name, target, *args, **params)
        return super().inplace(name, target, *args, **params)


RARE = (UnbroadcastBufferReused,)


ZOO = (
    SinSign, ExpRelative1e4, TanhInFloat32, ReluEverywhere, PowExponentFactor, MulOwnOperand,
    DivDenominatorSign, BroadcastMean, MatmulReshapedNotTransposed, ReshapeAsTranspose,
    MeanMirroredDim, SumKeepdimFalse, MaxFirstElement, SoftmaxUncentered, LogSoftmaxNoSum,
    PermuteNotInverted, ExpandMean, IndexRepeatedOnce, GetitemIgnoresStep, CatNoOffset,
    WhereInverted, LinearBiasMean, CrossEntropyNotAveraged, MseHalf,
    WeightsIgnored, WeightsTransposed, FirstRootOnly, ImplicitOnesForNonscalar,
    GradOverwritten, RetainGraphAlways, RetainGraphNever, ZeroGradNoop, ZeroGradNeverNone,
    FunctionalGradAccumulates, AllowUnusedZeros,
    FirstUseOnly, LastUseOnly,
    NonLeafGradFilled, RetainGradBeforeHooks, DetachLeaks, NoGradIgnored,
    CustomGradsSwapped, CustomNoneAsZeros, CustomIncomingGradReplaced,
    CustomNeedsInputGradWrong, CustomMaterializeIgnored,
    HookReturnIgnored, HooksReversed, ModuleHookParamGrads,
    UnusedPieceOnes, SortGradUnpermuted, MinDimAtArgmax,
    EnableGradIgnored, InferenceModeAsNoGrad, RequiresGradOffAccumulates, DetachCopies,
    CreateGraphIgnored, MulBackwardConstant, DotGradDetached,
    PostAccumulateBeforeAccumulation, HookRemovalIgnored, RemovalBetweenBackwardsIgnored,
    FunctionOutputHooksSkipped,
    MaterializeGradsIgnored, BatchedGradOneRow, GradOutputsReversed, JacobianTransposed,
    VersionNeverChecked, InplaceNotRecorded, ViewWriteNotReachingBase, LeafInplaceAllowed,
)
BY_ID = {m.id: m for m in ZOO + RARE}
assert len(BY_ID) == len(ZOO) + len(RARE), "duplicate mutant ids"
