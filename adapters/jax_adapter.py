"""JAX through its public API (jax.numpy, jax.vjp, jax.custom_vjp): a functional engine.

JAX has no `.grad`, no graph that outlives a call and no `requires_grad` flag: the interpreter
asks this adapter for `vjp(f, primals, cotangents)` of the program as a pure function (see
`gradspec/interpreter.py`, `_run_functional`), and the gradient weights are the cotangents.

How each feature is expressed, all with JAX's own API:
- gradient weights / several roots: `jax.vjp` with the weights as the output cotangents;
- an implicit (None) weight: a ones cotangent where the root is a scalar (what `jax.grad`
  does), and `jax.grad` itself on a non-scalar root, so that JAX raises its own error;
- detach and no_grad: `jax.lax.stop_gradient` (on every op's output inside no_grad);
- custom Functions: `jax.custom_vjp`, the saved tensors as residuals; with
  `symbolic_zeros=True`, `CustomVJPPrimal.perturbed` is ctx.needs_input_grad and a
  `SymbolicZero` cotangent is set_materialize_grads(False)'s None; no way to mark an output
  non-differentiable;
- layers: Linear, RNNCell and LSTMCell from adapters/functional_layers.py over jnp (torch's
  formulas; JAX core has no modules, and differentiates the cells like any other code), so
  no module hooks.

The ops are code templates (adapters/templates.py) over `jnp`, `jax` and the helpers in
`HELPERS`, so `render_script` prints exactly the code that ran.
"""
import contextlib
import re

import numpy as np

from gradspec.adapter import Adapter
from .functional_layers import LAYER_PARAMS, LAYERS, layer_inputs, layer_outputs
from .functional_script import Spelling, render
from .script_parts import backward_rules
from .templates import TemplateOps, literal, target_literal

# Helpers the templates use: executed into the ops' namespace (after the shared layers,
# adapters/functional_layers.py, over `xp`), and printed in repro scripts.
NAMESPACE = "xp, sigmoid = jnp, jax.nn.sigmoid\n"
HELPERS = '''
def reduce_(fn, x, dim, keepdim):
    """torch's reductions: a 0-d tensor accepts dim 0/-1 and stays itself."""
    return x if jnp.ndim(x) == 0 else fn(x, axis=dim, keepdims=keepdim)


def cross_entropy(x, target):
    """torch.nn.functional.cross_entropy with class indices, mean reduction."""
    logp = jax.nn.log_softmax(x, axis=-1)
    if jnp.ndim(x) == 2:
        return -jnp.mean(logp[jnp.arange(x.shape[0]), jnp.array(target)])
    return -logp[target]


def topk(x, k, dim, largest):
    """torch.topk (sorted): jax.lax.top_k works on the last axis, largest first."""
    moved = jnp.moveaxis(x if largest else -x, dim, -1)
    values, indices = jax.lax.top_k(moved, k)
    return (jnp.moveaxis(values if largest else -values, -1, dim),
            jnp.moveaxis(indices, -1, dim))


def split(x, size, dim):
    """torch.split with an int size: pieces of `size` (the last may be shorter)."""
    return tuple(jnp.split(x, list(range(size, x.shape[dim], size)), axis=dim))


def chunk(x, chunks, dim):
    """torch.chunk: pieces of ceil(n / chunks), so possibly fewer than `chunks`."""
    return split(x, -(-x.shape[dim] // chunks), dim)


def unbind(x, dim):
    return tuple(jnp.take(x, i, axis=dim) for i in range(x.shape[dim]))


def axes_(x, dim):
    """torch's dim on a 0-d tensor (0 or -1) as JAX's axes: none."""
    return () if jnp.ndim(x) == 0 else dim


def scan_(fn, x, dim):
    """torch.cumsum / cumprod: a 0-d tensor stays 0-d (jnp's scans return shape (1,))."""
    return x if jnp.ndim(x) == 0 else fn(x, axis=dim)


def argmax(x, dim, keepdim):
    """torch.argmax as a float constant; a 0-d x accepts dim 0 (its index is 0)."""
    i = jnp.argmax(x, axis=dim, keepdims=keepdim) if jnp.ndim(x) else jnp.argmax(x)
    return i.astype(x.dtype)


def along(index, dim):
    """The full index of torch's gather / scatter_add: `index` on `dim`, and each other
    axis's own position (the index may be shorter than x there)."""
    index = jnp.array(index)
    at = list(jnp.indices(index.shape))
    at[dim] = index
    return tuple(at)


def conv(x, weight, bias, stride, padding, dilation, groups):
    """torch.nn.functional.conv1d / conv2d (N, C, *spatial): jax.lax.conv_general_dilated
    (a cross-correlation, as torch's), rhs_dilation the kernel's dilation."""
    nd = jnp.ndim(weight) - 2
    each = lambda v: tuple(v) if isinstance(v, tuple) else (v,) * nd  # noqa: E731
    layout = ("NCH", "OIH", "NCH") if nd == 1 else ("NCHW", "OIHW", "NCHW")
    out = jax.lax.conv_general_dilated(
        x, weight, window_strides=each(stride), padding=[(p, p) for p in each(padding)],
        rhs_dilation=each(dilation), dimension_numbers=layout, feature_group_count=groups)
    return out if bias is None else out + jnp.reshape(bias, (-1,) + (1,) * nd)


def pool_window(x, kernel_size, stride, padding):
    """jax.lax.reduce_window's window, strides and padding over the last two dims."""
    pair = lambda v: tuple(v) if isinstance(v, tuple) else (v, v)  # noqa: E731
    lead = (1,) * (jnp.ndim(x) - 2)
    kernel = pair(kernel_size)
    strides = kernel if stride is None else pair(stride)
    pads = ((0, 0),) * len(lead) + tuple((p, p) for p in pair(padding))
    return lead + kernel, lead + strides, pads


def max_pool2d(x, kernel_size, stride, padding):
    """torch.nn.functional.max_pool2d: padding is -inf (never chosen)."""
    window = pool_window(x, kernel_size, stride, padding)
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, *window)


def avg_pool2d(x, kernel_size, stride, padding, count_include_pad):
    """torch.nn.functional.avg_pool2d: the window's sum over its size, or over the count of
    its elements inside the input (count_include_pad=False)."""
    window = pool_window(x, kernel_size, stride, padding)
    total = jax.lax.reduce_window(x, 0.0, jax.lax.add, *window)
    if count_include_pad:
        return total / (window[0][-1] * window[0][-2])
    return total / jax.lax.reduce_window(jnp.ones_like(x), 0.0, jax.lax.add, *window)


def batch_norm(x, weight, bias, eps):
    """torch.nn.functional.batch_norm in training mode without running stats:
    jax.nn.standardize per channel (axis 1) over the batch and spatial dims."""
    y = jax.nn.standardize(x, axis=(0,) + tuple(range(2, jnp.ndim(x))), epsilon=eps)
    per_channel = (-1,) + (1,) * (jnp.ndim(x) - 2)
    y = y if weight is None else y * jnp.reshape(weight, per_channel)
    return y if bias is None else y + jnp.reshape(bias, per_channel)


def vjp(f, primals, cotangents):
    """The gradients of f's outputs, weighted by `cotangents`, w.r.t. each primal.

    A None cotangent is an implicit gradient: ones for a scalar output (as jax.grad does),
    and jax.grad itself for a non-scalar one, which raises JAX's own error."""
    outs, vjp_fn = jax.vjp(f, *primals)
    cts = []
    for i, (out, ct) in enumerate(zip(outs, cotangents)):
        if ct is None:
            if jnp.ndim(out) != 0:
                jax.grad(lambda *p: f(*p)[i], argnums=tuple(range(len(primals))))(*primals)
            ct = jnp.ones_like(out)
        cts.append(ct)
    return vjp_fn(tuple(cts))


def vjp_batched(f, primals, cotangents):
    """One vjp a row of the cotangents (their first dimension), at once: jax.vmap of the
    vjp function (per-sample gradients)."""
    _, vjp_fn = jax.vjp(f, *primals)
    return jax.vmap(vjp_fn)(tuple(cotangents))
'''


def _index(args, params):
    return f"jnp.take({args[0]}, jnp.array({list(params['indices'])}), axis={params['dim']})"


def _where(args, params):
    return f"jnp.where(jnp.array({literal(params['condition'])}), {args[0]}, {args[1]})"


def _cross_entropy(args, params):
    return f"cross_entropy({args[0]}, {target_literal(params)})"


def _gelu(args, params):
    return f"jax.nn.gelu({args[0]}, approximate={params['approximate'] == 'tanh'})"


def _softplus(args, params):
    # torch is linear (x) where beta * x > threshold (20): the draws keep beta * x away from
    # it, and there softplus differs from x by under log(1 + exp(-20)) / beta ~ 2e-9 / beta.
    beta = literal(params["beta"])
    return f"jax.nn.softplus({beta} * {args[0]}) / {beta}"


def _prod(args, params):
    if params["dim"] is None:
        return f"jnp.prod({args[0]})"
    return f"reduce_(jnp.prod, {args[0]}, {params['dim']}, {params['keepdim']})"


def _spread(name):
    def template(args, params):
        return (f"jnp.{name}({args[0]}, axis=axes_({args[0]}, {literal(params['dim'])}), "
                f"ddof={params['correction']}, keepdims={params['keepdim']})")
    return template


def _norm(args, params):
    o = params["ord"]
    return (f"jnp.linalg.vector_norm({args[0]}, ord={'jnp.inf' if o == 'inf' else literal(o)}, "
            f"axis=axes_({args[0]}, {literal(params['dim'])}), keepdims={params['keepdim']})")


def _gather(args, params):
    """jnp.take_along_axis, over x cut to the index's extent off dim (torch's gather allows
    an index shorter than x there; take_along_axis would broadcast instead)."""
    idx = np.array(params["indices"])
    d = params["dim"] % idx.ndim
    cut = ", ".join(":" if k == d else f":{n}" for k, n in enumerate(idx.shape))
    return (f"jnp.take_along_axis({args[0]}[{cut}], jnp.array({literal(params['indices'])}), "
            f"axis={params['dim']})")


def _scatter_add(args, params):
    return (f"{args[0]}.at[along({literal(params['indices'])}, {params['dim']})]"
            f".add({args[1]})")


def _at_dim(params):
    """`:, :, idx` (dim 2) or `..., idx, :` (dim -2): the index of a dim's slices."""
    d, idx = params["dim"], f"jnp.array({literal(params['indices'])})"
    return ", ".join([":"] * d + [idx]) if d >= 0 else ", ".join(["..."] + [idx] + [":"] * (-d - 1))


def _index_add(args, params):
    return f"{args[0]}.at[{_at_dim(params)}].add({literal(params['alpha'])} * {args[1]})"


def _conv(args, params):
    bias = args[2] if len(args) > 2 else "None"
    return (f"conv({args[0]}, {args[1]}, {bias}, stride={literal(params['stride'])}, "
            f"padding={literal(params['padding'])}, dilation={literal(params['dilation'])}, "
            f"groups={params['groups']})")


def _layer_norm(args, params):
    k = len(params["normalized_shape"])
    out = (f"jax.nn.standardize({args[0]}, axis={tuple(range(-k, 0))}, "
           f"epsilon={literal(params['eps'])})")
    if len(args) > 1:
        out = f"{out} * {args[1]}"
    return f"{out} + {args[2]}" if len(args) > 2 else out


def _batch_norm(args, params):
    w, bias = (list(args[1:]) + ["None", "None"])[:2]
    return f"batch_norm({args[0]}, {w}, {bias}, eps={literal(params['eps'])})"


JAX_TEMPLATES = {
    **{name: f"jnp.{name}({{0}})" for name in (
        "negative", "exp", "log", "tanh", "sin", "cos", "sqrt", "abs", "reciprocal", "sign",
        "round")},
    "neg": "jnp.negative({0})",
    "sigmoid": "jax.nn.sigmoid({0})",
    "relu": "jax.nn.relu({0})",
    "pow": "jnp.power({0}, {exponent})",
    "scale": "{0} * {c}",
    "add": "{0} + {1}",
    "sub": "{0} - {1}",
    "mul": "{0} * {1}",
    "div": "{0} / {1}",
    "maximum": "jnp.maximum({0}, {1})",
    "minimum": "jnp.minimum({0}, {1})",
    "matmul": "jnp.matmul({0}, {1})",
    "linear": "linear({args})",
    "sum": "reduce_(jnp.sum, {0}, {dim}, {keepdim})",
    "mean": "reduce_(jnp.mean, {0}, {dim}, {keepdim})",
    "max": "jnp.max({0}, axis={dim}, keepdims={keepdim})",
    "logsumexp": "reduce_(jax.nn.logsumexp, {0}, {dim}, {keepdim})",
    "softmax": "jax.nn.softmax({0}, axis={dim})",
    "log_softmax": "jax.nn.log_softmax({0}, axis={dim})",
    "reshape": "jnp.reshape({0}, {shape})",
    "transpose": "jnp.swapaxes({0}, {dim0}, {dim1})",
    "permute": "jnp.transpose({0}, {dims})",
    "expand": "jnp.broadcast_to({0}, {shape})",
    "unsqueeze": "jnp.expand_dims({0}, {dim})",
    "squeeze": "jnp.squeeze({0}, axis={dim})",
    "getitem": "{0}[{index}]",
    "index": _index,
    "cat": "jnp.concatenate([{args}], axis={dim})",
    "stack": "jnp.stack([{args}], axis={dim})",
    "where": _where,
    "mse_loss": "jnp.mean(jnp.square({0} - {1}))",
    "cross_entropy": _cross_entropy,
    # issue 21: unary ops and activations
    **{name: f"jnp.{name}({{0}})" for name in (
        "square", "log1p", "expm1", "sinh", "cosh", "tan")},
    "atan": "jnp.arctan({0})",
    "asin": "jnp.arcsin({0})",
    "rsqrt": "jax.lax.rsqrt({0})",
    "erf": "jax.scipy.special.erf({0})",
    "silu": "jax.nn.silu({0})",
    "softsign": "jax.nn.soft_sign({0})",
    "logsigmoid": "jax.nn.log_sigmoid({0})",
    "mish": "jax.nn.mish({0})",
    "gelu": _gelu,
    "softplus": _softplus,
    "leaky_relu": "jax.nn.leaky_relu({0}, negative_slope={negative_slope})",
    "elu": "jax.nn.elu({0}, alpha={alpha})",
    "celu": "jax.nn.celu({0}, alpha={alpha})",
    "selu": "jax.nn.selu({0})",
    "hardtanh": "jnp.clip({0}, {min_val}, {max_val})",  # jax.nn.hard_tanh is fixed at -1, 1
    # binary pointwise ops and scans (lerp left out: JAX has no lerp, only its formula)
    "atan2": "jnp.arctan2({0}, {1})",
    "fmod": "jnp.fmod({0}, {1})",
    "remainder": "jnp.remainder({0}, {1})",
    "pow_tensor": "jnp.power({0}, {1})",
    "clamp_tensor": "jnp.clip({0}, {1}, {2})",
    "cumsum": "scan_(jnp.cumsum, {0}, {dim})",
    "cumprod": "scan_(jnp.cumprod, {0}, {dim})",
    "floor_divide": "jnp.floor_divide({0}, {1})",
    # reductions
    "min": "jnp.min({0}, axis={dim}, keepdims={keepdim})",
    "amax": "reduce_(jnp.max, {0}, {dim}, {keepdim})",
    "amin": "reduce_(jnp.min, {0}, {dim}, {keepdim})",
    "prod": _prod,
    "var": _spread("var"),
    "std": _spread("std"),
    "norm": _norm,
    "argmax": "argmax({0}, {dim}, {keepdim})",
    # indexing and einsum
    "gather": _gather,
    "scatter_add": _scatter_add,
    "index_select": "jnp.take({0}, jnp.array({indices}), axis={dim})",
    "index_add": _index_add,
    "embedding": "jnp.take({0}, jnp.array({ids}), axis=0)",
    "einsum": "jnp.einsum({equation}, {args})",
    # conv, pool, norm
    "conv1d": _conv,
    "conv2d": _conv,
    "max_pool2d": "max_pool2d({0}, {kernel_size}, {stride}, {padding})",
    "avg_pool2d": "avg_pool2d({0}, {kernel_size}, {stride}, {padding}, {count_include_pad})",
    "layer_norm": _layer_norm,
    "batch_norm": _batch_norm,
    # several outputs (MultiOp steps unpack them); indices are int arrays
    "max_dim": "(jnp.max({0}, axis={dim}, keepdims={keepdim}), "
               "jnp.argmax({0}, axis={dim}, keepdims={keepdim}))",
    "min_dim": "(jnp.min({0}, axis={dim}, keepdims={keepdim}), "
               "jnp.argmin({0}, axis={dim}, keepdims={keepdim}))",
    "sort": "(jnp.sort({0}, axis={dim}, descending={descending}), "
            "jnp.argsort({0}, axis={dim}, descending={descending}))",
    "topk": "topk({0}, {k}, {dim}, {largest})",
    "split": "split({0}, {split_size}, {dim})",
    "chunk": "chunk({0}, {chunks}, {dim})",
    "unbind": "unbind({0}, {dim})",
}
del JAX_TEMPLATES["negative"]

# JAX's messages -> normalized error kinds, each the same failure as torch's.
JAX_ERRORS = (
    (TypeError, "Gradient only defined for scalar-output functions", "nonscalar_implicit_grad"),
    # "... got float64[3,2], but expected float64[3] ...": only a shape difference counts.
    (ValueError, re.compile(r"unexpected JAX type \(e\.g\. shape/dtype\) for argument to VJP "
                            r"function: got \w+\[([^\]]*)\], but expected \w+\[(?!\1\])"),
     "grad_shape_mismatch"),
    (TypeError, "Custom VJP bwd rule must produce an output with the same container",
     "custom_grad_count"),
    (ValueError, "so the shapes do not match", "custom_grad_shape"),
)

class JaxAdapter(Adapter):
    name = "jax"
    # Missing, and why: stateful_grad, zero_grad, retain_graph, retain_grad, grad_wrt_nonleaf
    # (no .grad, no graph kept between calls, no handle on an intermediate value);
    # tensor_hooks, module_hooks (no hooks in JAX); non_differentiable (custom_vjp cannot
    # mark an output so); grad_modes and friends (JAX has stop_gradient, not modes). create_graph: a gradient used as a value (a GradStep) is a jax.vjp
    # nested in the function the outer vjp differentiates (JAX's own higher order).
    capabilities = frozenset({
        "float64", "float32", "nonscalar_backward", "multi_root", "functional_grad", "detach",
        "no_grad", "layers", "custom_function", "error_kinds", "needs_input_grad", "create_graph",
        "materialize_grads", "materialize_unused_grads", "functional_api", "multi_output",
        "batched_grad",
    })
    ops = frozenset(JAX_TEMPLATES)

    def __init__(self):
        import jax
        import jax.numpy as jnp
        # float64 needs x64 mode. This is PROCESS-GLOBAL JAX state: it changes the default
        # dtypes for every other user of JAX in this process too.
        jax.config.update("jax_enable_x64", True)
        self.jax, self.jnp = jax, jnp
        namespace = {"jax": jax, "jnp": jnp}
        exec(NAMESPACE + LAYERS + HELPERS, namespace)  # noqa: S102 - our own helper source
        self._helpers = namespace
        self._ops = TemplateOps(JAX_TEMPLATES, namespace)
        self._op_fns = {}  # (op, n args, params, no_grad) -> (function, jitted function)
        self._layers = {k: (namespace[k], jax.jit(namespace[k])) for k in LAYER_PARAMS}
        self._detach = (jax.lax.stop_gradient, jax.jit(jax.lax.stop_gradient))
        self._no_grad_depth = 0

    def describe(self):
        return f"jax {self.jax.__version__} on {self.jax.devices()[0].platform}"

    # ----- tensors -----------------------------------------------------------------------
    def tensor(self, values, dtype, requires_grad):
        return self.jnp.asarray(np.asarray(values, dtype=dtype))

    def to_numpy(self, t):
        return np.asarray(t)

    def op(self, name, *args, **params):
        no_grad = self._no_grad_depth > 0
        key = (name, len(args), tuple(sorted(params.items())), no_grad)
        fns = self._op_fns.get(key)
        if fns is None:
            ops, stop = self._ops, self.jax.lax.stop_gradient
            fn = (lambda *a: stop(ops(name, *a, **params))) if no_grad else (
                lambda *a: ops(name, *a, **params))
            fns = self._op_fns[key] = (fn, self.jax.jit(fn))
        return self._call(fns, *args)

    def _call(self, fns, *args):
        """Run eagerly (concrete arrays) through the jitted function: compiled once per
        shape, instead of once per primitive inside it as eager JAX does. Inside a vjp
        (traced values) the plain function is traced into the caller's jit."""
        traced = any(isinstance(a, self.jax.core.Tracer) for a in args)
        return fns[0](*args) if traced else fns[1](*args)

    @contextlib.contextmanager
    def no_grad(self):
        self._no_grad_depth += 1
        try:
            yield
        finally:
            self._no_grad_depth -= 1

    def detach(self, t):
        return self._call(self._detach, t)

    # ----- layers and custom functions ---------------------------------------------------
    def make_layer(self, layer, param_values, dtype):
        # The parameters are used as given: inside a vjp they are JAX's traced primals.
        params = {name: v if isinstance(v, self.jax.Array) else self.tensor(v, dtype, True)
                  for name, v in param_values.items()}
        return params, params

    def call_layer(self, module, layer, args):
        return layer_outputs(layer, self._call(self._layers[layer.kind],
                                               *layer_inputs(module, layer, args)))

    def custom_function(self, spec, run_forward, run_backward):
        """jax.custom_vjp with symbolic_zeros=True: fwd learns which inputs are differentiated
        (CustomVJPPrimal.perturbed, torch's ctx.needs_input_grad) and bwd gets a SymbolicZero
        for an output no gradient reached (torch's None under set_materialize_grads(False);
        materialized as zeros otherwise, which is JAX's default)."""
        from gradspec.functions import saved_tensors
        jax, jnp = self.jax, self.jnp
        symbolic_zero = jax.custom_derivatives.SymbolicZero

        @jax.custom_vjp
        def fn(*inputs):
            return run_forward(inputs)

        def fwd(*primals):
            inputs = tuple(p.value for p in primals)
            outputs = run_forward(inputs)
            # Residuals are a pytree of arrays: the flags ride in its structure, not as values.
            needs = tuple(() if p.perturbed else None for p in primals)
            return outputs, (saved_tensors(spec, inputs, outputs), needs)

        def bwd(residuals, grads):
            saved, needs = residuals
            grads = tuple(
                g if not isinstance(g, symbolic_zero) else
                jnp.zeros(g.shape, g.dtype) if spec.materialize_grads else None
                for g in grads)
            return run_backward(grads, saved, tuple(n is not None for n in needs))

        fn.defvjp(fwd, bwd, symbolic_zeros=True)
        return fn

    # ----- autograd verbs ----------------------------------------------------------------
    def vjp(self, f, primals, cotangents):
        # Jitted: one XLA compilation per program instead of one per primitive and shape of
        # its forward and backward passes (eager JAX compiles each); values are the same.
        vjp = self._helpers["vjp"]
        return self.jax.jit(lambda *p: vjp(f, p, cotangents))(*primals)

    def vjp_batched(self, f, primals, cotangents):
        vjp_batched = self._helpers["vjp_batched"]
        return self.jax.jit(lambda *p: vjp_batched(f, p, cotangents))(*primals)

    def functional(self, kind, f, inputs, weight):
        """jax.vjp, jax.jacrev and jax.hessian over every input (jitted, as `vjp`)."""
        jax, argnums = self.jax, tuple(range(len(inputs)))
        if kind == "vjp":
            def vjp(*p):
                out, vjp_fn = jax.vjp(f, *p)
                return (out,) + tuple(vjp_fn(self.jnp.ones_like(out) if weight is None
                                             else weight))
            return jax.jit(vjp)(*inputs)
        transform = jax.jacrev if kind == "jacobian" else jax.hessian
        return jax.jit(transform(f, argnums=argnums))(*inputs)

    def error_kind(self, exc):
        text = str(exc)
        for cls, needle, kind in JAX_ERRORS:
            if isinstance(exc, cls) and (
                    needle.search(text) if isinstance(needle, re.Pattern) else needle in text):
                return kind
        return None

    def render_script(self, program):
        return render_script(program, self._ops)


# ----- the standalone JAX script of a program (what a failure report prints) ----------------
SCRIPT_HEADER = '''import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)


def show(label, x):
    """Print a recorded quantity: an array, None, or (nested) tuples of them."""
    print(label, "=", plain(x))


def plain(x):
    if isinstance(x, (tuple, list)):
        return [plain(v) for v in x]
    return None if x is None else np.asarray(x).tolist()

'''


class JaxSpelling(Spelling):
    engine = "jax"
    header = SCRIPT_HEADER
    helpers = NAMESPACE + LAYERS + HELPERS

    def array(self, values, dtype):
        return f"jnp.array({literal(values)}, dtype=jnp.{dtype})"

    def detach(self, src):
        return f"jax.lax.stop_gradient({src})"

    def no_grad(self, out, code):
        return f"{out} = jax.lax.stop_gradient({code})"

    def function(self, spec, ops):
        k = len(spec.forward)
        ins = [f"x{i}" for i in range(spec.n_inputs)]
        outs = "".join(f"y{j}, " for j in range(k))
        lines = [f"def {spec.name}_forward({', '.join(ins)}):"]
        for j, expr in enumerate(spec.forward):
            params = {"c": expr[2]} if expr[0] == "scale" else {}
            lines.append(f"    y{j} = {ops.source(expr[0], [ins[i] for i in expr[1]], params)}")
        saved = [ins[i] if kind == "input" else f"y{i}" for kind, i in spec.saved]
        lines += [f"    return ({outs})", "", "",
                  f"{spec.name} = jax.custom_vjp({spec.name}_forward)", "", "",
                  f"def {spec.name}_fwd({', '.join(ins)}):",
                  "    # ctx.needs_input_grad, carried in the residuals' pytree structure",
                  f"    needs = tuple(() if x.perturbed else None for x in ({', '.join(ins)},))",
                  f"    {', '.join(ins)}, = {', '.join(f'{x}.value' for x in ins)},",
                  f"    {outs}= {spec.name}_forward({', '.join(ins)})",
                  f"    return ({outs}), (({''.join(x + ', ' for x in saved)}), needs)", "", "",
                  f"def {spec.name}_bwd(residuals, grads):",
                  f"    ({''.join(f's{i}, ' for i in range(len(saved)))}), needs = residuals",
                  "    needs_input_grad = [flag is not None for flag in needs]",
                  "    zero = jax.custom_derivatives.SymbolicZero"]
        unused = "jnp.zeros(g.shape, g.dtype)" if spec.materialize_grads else "None"
        lines.append(f"    {''.join(f'g{j}, ' for j in range(k))}= "
                     f"({unused} if isinstance(g, zero) else g for g in grads)")
        lines += backward_rules(spec, ops, "    ")
        lines += ["", "",
                  f"{spec.name}.defvjp({spec.name}_fwd, {spec.name}_bwd, symbolic_zeros=True)"]
        return "\n".join(lines) + "\n"

    def plan_vjp(self, f, names, cotangents):
        # Jitted, as the adapter runs a plan action's vjp.
        return (f"jax.jit(lambda *p: vjp({f}, p, ({', '.join(cotangents)},)))"
                f"({', '.join(names)})")

    def plan_vjp_batched(self, f, names, cotangents):
        return (f"jax.jit(lambda *p: vjp_batched({f}, p, ({', '.join(cotangents)},)))"
                f"({', '.join(names)})")

    def functional(self, action, f, names, dtype):
        ins = ", ".join(names)
        if action.kind == "vjp":
            ct = "jnp.ones_like(_out)" if action.weight is None else \
                self.array(action.weight, dtype)
            return [f"_out, _vjp = jax.vjp({f}, {ins})",
                    f"show('returned', (_out,) + tuple(_vjp({ct})))"]
        transform = "jax.jacrev" if action.kind == "jacobian" else "jax.hessian"
        argnums = tuple(range(len(names)))
        return [f"show('returned', {transform}({f}, argnums={argnums})({ins}))"]


def render_script(program, ops):
    return render(program, ops, JaxSpelling())
