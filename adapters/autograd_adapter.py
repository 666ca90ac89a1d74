"""HIPS autograd (autograd.numpy, autograd.make_vjp) through its public API: a functional
engine.

autograd traces a Python function over boxed NumPy values and gives its vjp; it has no `.grad`,
no graph that outlives a call and no `requires_grad` flag. The interpreter asks this adapter
for `vjp(f, primals, cotangents)` of the program as a pure function (see
`gradspec/interpreter.py`, `_run_functional`), and the gradient weights are the cotangents.

How each feature is expressed, all with autograd's own API:
- gradient weights / several roots: `autograd.make_vjp` of a function returning an
  `autograd.builtins.tuple` of the roots, the weights as the tuple's cotangent;
- an implicit (None) weight: `vspace(root).ones()` where the root has one element (what
  `autograd.grad` does), and `autograd.grad` itself on any other root, so that autograd
  raises its own error;
- detach and no_grad: `autograd.extend.notrace_primitive` (a function evaluated on unboxed
  values, whose output is not traced), applied to every op's output inside no_grad;
- custom Functions: `autograd.extend.primitive` + `defvjp_argnums`; the saved tensors are
  read from the primitive's inputs and outputs, as a vjp maker gets them, and the vjp
  maker's `argnums` (the inputs being differentiated) is ctx.needs_input_grad; a None
  gradient becomes `vspace(input).zeros()` (autograd's convention for a None vjp,
  `defvjp(f, None)`; its backward pass cannot carry None). An unused output's cotangent is
  always materialized zeros (no set_materialize_grads(False)), and no output can be marked
  non-differentiable;
- expand: `anp.broadcast_to`, after a reshape adding the leading dims (broadcast_to's vjp
  asserts "Can't handle extra leading dims");
- layers: Linear, RNNCell and LSTMCell from adapters/functional_layers.py over autograd.numpy
  (torch's formulas; autograd has no modules and differentiates the cells like any other
  code), so no module hooks.
"""
import contextlib
import warnings

import numpy as np

from gradspec.adapter import Adapter
from .functional_layers import LAYERS, layer_inputs, layer_outputs
from .templates import TemplateOps, literal, target_literal

# Helpers the templates use, over autograd.numpy (`anp`) and autograd.scipy.special (`sp`).
HELPERS = '''
def reduce_(fn, x, dim, keepdim):
    """torch's reductions: a 0-d tensor accepts dim 0/-1 and stays itself."""
    return x if anp.ndim(x) == 0 else fn(x, axis=dim, keepdims=keepdim)


def softmax(x, dim):
    return anp.exp(x - sp.logsumexp(x, axis=dim, keepdims=True))


def log_softmax(x, dim):
    return x - sp.logsumexp(x, axis=dim, keepdims=True)


def expand(x, shape):
    """torch's expand. Leading dims are added by a reshape first: the vjp of
    anp.broadcast_to asserts "Can't handle extra leading dims" (autograd 1.9.1)."""
    lead = (1,) * (len(shape) - anp.ndim(x))
    return anp.broadcast_to(anp.reshape(x, lead + anp.shape(x)) if lead else x, shape)


def take(x, indices, dim):
    return x[(slice(None),) * dim + (np.array(indices),)]


def scan_(fn, x, dim):
    """torch.cumsum: a 0-d tensor stays 0-d (NumPy's scans return shape (1,))."""
    return x if anp.ndim(x) == 0 else fn(x, axis=dim)


def axes_(x, dim):
    """torch's dim on a 0-d tensor (0 or -1) as NumPy's axes: none."""
    return () if anp.ndim(x) == 0 else dim


def argmax(x, dim, keepdim):
    """torch.argmax as a float constant; a 0-d x accepts dim 0 (its index is 0)."""
    i = anp.argmax(x, axis=dim, keepdims=keepdim) if anp.ndim(x) else anp.argmax(x)
    return np.asarray(i).astype(anp.result_type(x))


def along(index, dim):
    """The full index of torch's gather: `index` on `dim`, and each other axis's own
    position (the index may be shorter than x there)."""
    at = list(np.indices(np.shape(index)))
    at[dim] = np.array(index)
    return tuple(at)


def cross_entropy(x, target):
    """torch.nn.functional.cross_entropy with class indices, mean reduction."""
    logp = log_softmax(x, -1)
    if anp.ndim(x) == 2:
        return -anp.mean(logp[np.arange(anp.shape(x)[0]), np.array(target)])
    return -logp[target]
'''


def _index(args, params):
    return f"take({args[0]}, {list(params['indices'])}, {params['dim']})"


def _where(args, params):
    return f"anp.where(np.array({literal(params['condition'])}), {args[0]}, {args[1]})"


def _cross_entropy(args, params):
    return f"cross_entropy({args[0]}, {target_literal(params)})"


def _prod(args, params):
    if params["dim"] is None:
        return f"anp.prod({args[0]})"
    return f"reduce_(anp.prod, {args[0]}, {params['dim']}, {params['keepdim']})"


def _spread(name):
    def template(args, params):
        return (f"anp.{name}({args[0]}, axis=axes_({args[0]}, {literal(params['dim'])}), "
                f"ddof={params['correction']}, keepdims={params['keepdim']})")
    return template


def _at_dim(params):
    """`:, :, idx` (dim 2) or `..., idx, :` (dim -2): the index of a dim's slices."""
    d, idx = params["dim"], f"np.array({literal(params['indices'])})"
    return ", ".join([":"] * d + [idx]) if d >= 0 else ", ".join(["..."] + [idx] + [":"] * (-d - 1))


AUTOGRAD_TEMPLATES = {
    **{name: f"anp.{name}({{0}})" for name in (
        "exp", "log", "tanh", "sin", "cos", "sqrt", "abs", "reciprocal", "sign", "round")},
    "neg": "anp.negative({0})",
    "sigmoid": "sp.expit({0})",
    "relu": "anp.maximum({0}, 0.0)",
    "pow": "anp.power({0}, {exponent})",
    "scale": "{0} * {c}",
    "add": "{0} + {1}",
    "sub": "{0} - {1}",
    "mul": "{0} * {1}",
    "div": "{0} / {1}",
    "maximum": "anp.maximum({0}, {1})",
    "minimum": "anp.minimum({0}, {1})",
    "matmul": "anp.matmul({0}, {1})",
    "linear": "linear({args})",
    "sum": "reduce_(anp.sum, {0}, {dim}, {keepdim})",
    "mean": "reduce_(anp.mean, {0}, {dim}, {keepdim})",
    "max": "anp.max({0}, axis={dim}, keepdims={keepdim})",
    "logsumexp": "reduce_(sp.logsumexp, {0}, {dim}, {keepdim})",
    "softmax": "softmax({0}, {dim})",
    "log_softmax": "log_softmax({0}, {dim})",
    "reshape": "anp.reshape({0}, {shape})",
    "transpose": "anp.swapaxes({0}, {dim0}, {dim1})",
    "permute": "anp.transpose({0}, {dims})",
    "expand": "expand({0}, {shape})",
    "unsqueeze": "anp.expand_dims({0}, {dim})",
    "squeeze": "anp.squeeze({0}, axis={dim})",
    "getitem": "{0}[{index}]",
    "index": _index,
    "cat": "anp.concatenate([{args}], axis={dim})",
    "stack": "anp.stack([{args}], axis={dim})",
    "where": _where,
    "mse_loss": "anp.mean(anp.square({0} - {1}))",
    "cross_entropy": _cross_entropy,
    # issue 21. Left out, as autograd has no function for them (or no vjp for it, or not
    # for every param drawn): rsqrt, the activations silu, softsign, logsigmoid, mish, gelu,
    # softplus, leaky_relu, elu, celu, selu (no nn functions); fmod and cumprod (anp.fmod and
    # anp.cumprod have no vjp); lerp (no function); clamp_tensor (anp.clip has no vjp for its
    # bounds); norm (anp.linalg.norm's vjp lacks ord 1 and inf, and takes a 2-tuple axis as
    # a matrix norm); scatter_add and index_add (no scatter: arrays are immutable and
    # autograd has no functional update); conv1d, conv2d, the pools and the norms (no
    # functions with strides, dilation or groups, nor normalization).
    **{name: f"anp.{name}({{0}})" for name in (
        "square", "log1p", "expm1", "sinh", "cosh", "tan")},
    "atan": "anp.arctan({0})",
    "asin": "anp.arcsin({0})",
    "erf": "sp.erf({0})",
    "hardtanh": "anp.clip({0}, {min_val}, {max_val})",
    "atan2": "anp.arctan2({0}, {1})",
    "remainder": "anp.remainder({0}, {1})",
    "pow_tensor": "anp.power({0}, {1})",
    "cumsum": "scan_(anp.cumsum, {0}, {dim})",
    "floor_divide": "anp.floor_divide({0}, {1})",
    "min": "anp.min({0}, axis={dim}, keepdims={keepdim})",
    "amax": "reduce_(anp.amax, {0}, {dim}, {keepdim})",
    "amin": "reduce_(anp.amin, {0}, {dim}, {keepdim})",
    "prod": _prod,
    "var": _spread("var"),
    "std": _spread("std"),
    "argmax": "argmax({0}, {dim}, {keepdim})",
    "gather": "{0}[along({indices}, {dim})]",
    "index_select": lambda args, params: f"{args[0]}[{_at_dim(params)}]",
    "embedding": "{0}[np.array({ids})]",
    "einsum": "anp.einsum({equation}, {args})",
}

# autograd's messages -> normalized error kinds, each the same failure as torch's.
AUTOGRAD_ERRORS = (
    (TypeError, "Grad only applies to real scalar-output functions", "nonscalar_implicit_grad"),
)

class AutogradAdapter(Adapter):
    name = "autograd"
    # Missing, and why: stateful_grad, zero_grad, retain_graph, retain_grad, grad_wrt_nonleaf
    # (no .grad, no graph kept between calls, no handle on an intermediate value);
    # tensor_hooks, module_hooks (no hooks); materialize_grads (a primitive's vjp always gets
    # materialized cotangents, zeros for an unused output); non_differentiable (no way to mark
    # an output). create_graph: a gradient used as a value (a GradStep) is a make_vjp nested
    # in the function the outer vjp differentiates (autograd's own higher order).
    capabilities = frozenset({
        "float64", "float32", "nonscalar_backward", "multi_root", "functional_grad", "detach",
        "no_grad", "layers", "custom_function", "error_kinds", "needs_input_grad", "create_graph",
        "materialize_unused_grads", "functional_api",
    })
    ops = frozenset(AUTOGRAD_TEMPLATES)

    def __init__(self):
        import autograd
        import autograd.builtins
        import autograd.extend
        import autograd.numpy as anp
        import autograd.scipy.special as sp
        self.autograd, self.anp = autograd, anp
        self._builtins, self._extend = autograd.builtins, autograd.extend
        namespace = {"anp": anp, "sp": sp, "np": np, "xp": anp, "sigmoid": sp.expit}
        exec(LAYERS + HELPERS, namespace)  # noqa: S102 - our own helper source
        self._helpers = namespace
        self._ops = TemplateOps(AUTOGRAD_TEMPLATES, namespace)
        # detach: evaluated on the unboxed value, its output not traced.
        self._detach = autograd.extend.notrace_primitive(lambda x: x)
        self._no_grad_depth = 0

    def describe(self):
        from importlib.metadata import version
        return f"HIPS autograd {version('autograd')} (NumPy {np.__version__})"

    # ----- tensors -----------------------------------------------------------------------
    def tensor(self, values, dtype, requires_grad):
        return np.array(values, dtype=dtype)

    def to_numpy(self, t):
        return np.asarray(t)

    def op(self, name, *args, **params):
        out = self._ops(name, *args, **params)
        return self._detach(out) if self._no_grad_depth else out

    @contextlib.contextmanager
    def no_grad(self):
        self._no_grad_depth += 1
        try:
            yield
        finally:
            self._no_grad_depth -= 1

    def detach(self, t):
        return self._detach(t)

    # ----- layers and custom functions ---------------------------------------------------
    def make_layer(self, layer, param_values, dtype):
        # The parameters are used as given: inside a vjp they are autograd's boxed primals.
        params = {name: v if not isinstance(v, np.ndarray) else np.array(v, dtype=dtype)
                  for name, v in param_values.items()}
        return params, params

    def call_layer(self, module, layer, args):
        return layer_outputs(layer, self._helpers[layer.kind](*layer_inputs(module, layer, args)))

    def custom_function(self, spec, run_forward, run_backward):
        from gradspec.functions import saved_tensors
        vspace = self._extend.vspace

        @self._extend.primitive
        def fn(*inputs):
            return tuple(run_forward(inputs))

        def vjp_maker(argnums, outputs, inputs, kwargs):
            # `argnums`: the inputs being differentiated (torch's ctx.needs_input_grad).
            saved = saved_tensors(spec, inputs, outputs)
            needs = tuple(i in argnums for i in range(len(inputs)))

            def vjp(grads):
                result = run_backward(tuple(grads), saved, needs)
                return tuple(vspace(inputs[i]).zeros() if result[i] is None else result[i]
                             for i in argnums)
            return vjp

        self._extend.defvjp_argnums(fn, vjp_maker)
        return fn

    # ----- autograd verbs ----------------------------------------------------------------
    def vjp(self, f, primals, cotangents):
        autograd, vspace = self.autograd, self._extend.vspace
        argnums = tuple(range(len(primals)))
        as_tuple = self._builtins.tuple

        def roots(*p):
            return as_tuple(f(*p))
        with warnings.catch_warnings():
            # Roots that depend on no primal: autograd warns, and its vjp is zeros.
            warnings.filterwarnings("ignore", "Output seems independent of input")
            vjp_fn, outs = autograd.make_vjp(roots, argnums)(*primals)
            cts = []
            for i, (out, ct) in enumerate(zip(outs, cotangents)):
                if ct is None:
                    if vspace(out).size != 1:
                        autograd.grad(lambda *p: f(*p)[i], argnums)(*primals)
                    ct = vspace(out).ones()
                cts.append(ct)
            return vjp_fn(tuple(cts))

    def functional(self, kind, f, inputs, weight):
        """make_vjp, and autograd.jacobian (one input at a time; the Hessian is the Jacobian of
        the Jacobian, w.r.t. each pair of inputs)."""
        autograd, n = self.autograd, range(len(inputs))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Output seems independent of input")
            if kind == "vjp":
                vjp_fn, out = autograd.make_vjp(f, tuple(n))(*inputs)
                ct = self._extend.vspace(out).ones() if weight is None else weight
                return (out,) + tuple(vjp_fn(ct))
            jac = autograd.jacobian
            if kind == "jacobian":
                return tuple(jac(f, i)(*inputs) for i in n)
            return tuple(tuple(jac(jac(f, i), j)(*inputs) for j in n) for i in n)

    def error_kind(self, exc):
        text = str(exc)
        for cls, needle, kind in AUTOGRAD_ERRORS:
            if isinstance(exc, cls) and needle in text:
                return kind
        return None
