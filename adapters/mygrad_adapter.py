"""MyGrad (https://mygrad.readthedocs.io), a NumPy autograd with a torch-like `.grad`.

What MyGrad expresses, read from its source (mygrad 2.5, `tensor_base.py`):
- `Tensor.backward(grad=None)` on one tensor: it first sets `.grad = None` on every tensor of
  the graph, writes fresh gradients (leaves *and* intermediate tensors), then clears the graph.
  `.grad` is stateful but never accumulates across calls (deviations/mygrad.py).
- `constant=True` tensors (torch's requires_grad=False); `mg.no_autodiff` (torch's no_grad).
- no nn modules for Linear/RNNCell/LSTMCell (`mygrad.nnet.layers` has conv, pooling,
  batchnorm and a whole-sequence `gru`): the layers are built here from MyGrad ops, so there is
  no module to hook (module_hooks left out).
Left out, as MyGrad has no such thing: retain_graph (the graph is always cleared), several
roots in one call, `autograd.grad`, create_graph, tensor hooks; zero_grad (`null_grad()` only
sets None, zeros cannot be written, and with no accumulation there is nothing to reset);
custom_function: a custom `mygrad.operation_base.Operation` has exactly one output, and the
shared strategies draw two-output custom Functions with no capability to turn them off
(raising UnsupportedProgram for those would reject many of the suite's examples).
Not visible in traces (so not a deviation entry): a float32 tensor times a Python float is
float64 in MyGrad (NumPy 2 promotion of the wrapped 0-d array); torch keeps float32.
"""
import numpy as np

from gradspec.adapter import Adapter, UnsupportedProgram
from .templates import TemplateOps, literal


def _axis(x, dim):
    """torch's dim on a 0-d tensor (dim=0) means "no axis" in NumPy's terms."""
    return () if x.ndim == 0 else dim


def _logsumexp(mg, x, dim, keepdim):
    """MyGrad has no differentiable logsumexp: log(sum(exp(x - m))) + m with m = max(x) a
    constant (m cancels in the gradient, it only keeps exp from overflowing)."""
    axis = _axis(x, dim)
    m = np.max(x.data, axis=axis, keepdims=True)
    s = mg.sum(mg.exp(x - m), axis=axis, keepdims=keepdim)
    return mg.log(s) + (m if keepdim else np.squeeze(m, axis=axis))


def _scan(f, x, dim):
    """cumsum/cumprod along torch's dim; on a 0-d tensor (dim 0 or -1) NumPy's axis is out of
    range, and without one the result is 1-d, where torch keeps the 0-d shape."""
    return f(x, axis=dim) if x.ndim else f(x).reshape(())


def _norm(mg, x, ord, dim, keepdim):
    """mygrad.linalg.norm (NumPy's) along one axis; a 0-d tensor, which NumPy's norm does not
    take, as a one-element vector (torch: |x|)."""
    if x.ndim == 0:
        return mg.linalg.norm(x.reshape(1), ord=ord, axis=0)
    return mg.linalg.norm(x, ord=ord, axis=dim, keepdims=keepdim)


def _index(args, params):
    return f"{args[0]}[{':, ' * params['dim']}np.array({list(params['indices'])})]"


def _along(args, params, key="indices"):
    """x's slices at the indices along dim (NumPy's advanced indexing of that axis)."""
    d, idx = params["dim"], f"np.array({list(params[key])})"
    if d < 0:
        return f"{args[0]}[..., {idx}{', :' * (-d - 1)}]"
    return f"{args[0]}[{':, ' * d}{idx}]"


def _norm_template(args, params):
    d = params["dim"]
    if isinstance(d, tuple) and len(d) > 1:
        raise UnsupportedProgram("mygrad.linalg.norm over two axes is a matrix norm (NumPy's "
                                 "convention); torch's vector_norm flattens them")
    ord_src = "np.inf" if params["ord"] == "inf" else literal(params["ord"])
    return f"_norm(mg, {args[0]}, {ord_src}, {literal(d)}, {params['keepdim']})"


def _prod(args, params):
    if params["dim"] is None:
        return f"mg.prod({args[0]})"
    return f"mg.prod({args[0]}, axis=_axis({args[0]}, {params['dim']}), " \
           f"keepdims={params['keepdim']})"


def _conv(nd):
    """mygrad.nnet.conv_nd: stride, padding and dilation, no groups (left out: such programs
    are rejected) and no bias (added after, broadcast over the spatial dims, as MyGrad's
    docs do)."""
    def template(args, params):
        if params["groups"] != 1:
            raise UnsupportedProgram("mygrad's conv_nd has no groups")
        src = (f"conv_nd({args[0]}, {args[1]}, stride={literal(params['stride'])}, "
               f"padding={literal(params['padding'])}, dilation={literal(params['dilation'])})")
        if len(args) > 2:
            src += f" + mg.reshape({args[2]}, (-1{', 1' * nd}))"
        return src
    return template


def _max_pool(args, params):
    """mygrad.nnet.max_pool(x, pool, stride): no padding (such programs are rejected)."""
    def pair(v):
        return tuple(v) if isinstance(v, tuple) else (v, v)
    if any(pair(params["padding"])):
        raise UnsupportedProgram("mygrad's max_pool has no padding")
    kernel = pair(params["kernel_size"])
    stride = kernel if params["stride"] is None else pair(params["stride"])
    return f"max_pool({args[0]}, {kernel}, {stride})"


def _batch_norm(args, params):
    affine = "".join(f", {k}={a}" for k, a in zip(("gamma", "beta"), args[1:]))
    return f"batchnorm({args[0]}{affine}, eps={params['eps']!r})"


def _cross_entropy(args, params):
    """mygrad.nnet.losses.softmax_crossentropy takes (N, C) scores only: a 1-d input and a
    scalar target (torch's unbatched form) are passed as a batch of one."""
    t = params["target"]
    if isinstance(t, tuple):
        return f"softmax_crossentropy({args[0]}, np.array({list(t)}))"
    return f"softmax_crossentropy(mg.reshape({args[0]}, (1, -1)), np.array([{t}]))"


# The names the templates use from mygrad.nnet.activations and mygrad.nnet.layers.
ACTIVATIONS = ("sigmoid", "relu", "softmax", "logsoftmax", "soft_sign", "leaky_relu", "elu",
               "selu", "hard_tanh")
LAYERS = ("conv_nd", "max_pool", "batchnorm")

MYGRAD_TEMPLATES = {
    **{name: f"mg.{name}({{0}})" for name in ("exp", "log", "tanh", "sin", "cos", "sqrt",
                                              "reciprocal")},
    "neg": "mg.negative({0})",
    "abs": "mg.absolute({0})",
    "sigmoid": "sigmoid({0})",
    "relu": "relu({0})",
    "pow": "mg.power({0}, {exponent})",
    "scale": "{0} * {c}",
    "add": "{0} + {1}",
    "sub": "{0} - {1}",
    "mul": "{0} * {1}",
    "div": "{0} / {1}",
    "maximum": "mg.maximum({0}, {1})",
    "minimum": "mg.minimum({0}, {1})",
    "matmul": "mg.matmul({0}, {1})",
    # MyGrad has no linear: x @ W.T (+ b), as torch.nn.functional.linear defines it.
    "linear": lambda a, p: f"mg.matmul({a[0]}, mg.swapaxes({a[1]}, 0, 1))"
                           + (f" + {a[2]}" if len(a) > 2 else ""),
    "sum": "mg.sum({0}, axis=_axis({0}, {dim}), keepdims={keepdim})",
    "mean": "mg.mean({0}, axis=_axis({0}, {dim}), keepdims={keepdim})",
    "max": "mg.max({0}, axis={dim}, keepdims={keepdim})",
    "logsumexp": "_logsumexp(mg, {0}, {dim}, {keepdim})",
    "softmax": "softmax({0}, axis={dim})",
    "log_softmax": "logsoftmax({0}, axis={dim})",
    "reshape": "mg.reshape({0}, {shape})",
    "transpose": "mg.swapaxes({0}, {dim0}, {dim1})",
    "permute": "mg.transpose({0}, {dims})",
    "expand": "mg.broadcast_to({0}, {shape})",
    "unsqueeze": "mg.expand_dims({0}, {dim})",
    "squeeze": "mg.squeeze({0}, axis={dim})",
    "getitem": "{0}[{index}]",
    "index": _index,
    "cat": "mg.concatenate([{args}], axis={dim})",
    "stack": "mg.stack([{args}], axis={dim})",
    "where": lambda a, p: f"mg.where(np.array({literal(p['condition'])}), {a[0]}, {a[1]})",
    # MyGrad has no mse_loss: the mean of squared differences (torch's reduction='mean').
    "mse_loss": "mg.mean(({0} - {1}) ** 2)",
    "cross_entropy": _cross_entropy,
    # Issue 21's ops, each MyGrad's own function. Left out, as MyGrad has none: rsqrt, erf,
    # silu, logsigmoid, mish, gelu, softplus, celu, lerp, gather, scatter_add, index_add,
    # avg_pool2d, layer_norm; fmod and remainder are NumPy's ufuncs, which MyGrad refuses on
    # tensors that need a gradient ("cannot involve non-constant mygrad tensors").
    "square": "mg.square({0})",
    "log1p": "mg.log1p({0})",
    "expm1": "mg.expm1({0})",
    "atan": "mg.arctan({0})",
    "sinh": "mg.sinh({0})",
    "cosh": "mg.cosh({0})",
    "tan": "mg.tan({0})",
    "asin": "mg.arcsin({0})",
    "softsign": "soft_sign({0})",
    "leaky_relu": "leaky_relu({0}, {negative_slope})",
    "elu": "elu({0}, {alpha})",
    "selu": "selu({0})",
    "hardtanh": "hard_tanh({0}, lower_bound={min_val}, upper_bound={max_val})",
    "atan2": "mg.arctan2({0}, {1})",
    "pow_tensor": "mg.power({0}, {1})",
    "clamp_tensor": "mg.clip({0}, {1}, {2})",
    "cumsum": "_scan(mg.cumsum, {0}, {dim})",
    "cumprod": "_scan(mg.cumprod, {0}, {dim})",
    # A NumPy ufunc on constant tensors: it returns an array, made a constant tensor.
    "floor_divide": "mg.tensor(mg.floor_divide({0}, {1}), constant=True)",
    "min": "mg.min({0}, axis={dim}, keepdims={keepdim})",
    "amax": "mg.amax({0}, axis=_axis({0}, {dim}), keepdims={keepdim})",
    "amin": "mg.amin({0}, axis=_axis({0}, {dim}), keepdims={keepdim})",
    "prod": _prod,
    "var": "mg.var({0}, axis=_axis({0}, {dim}), ddof={correction}, keepdims={keepdim})",
    "std": "mg.std({0}, axis=_axis({0}, {dim}), ddof={correction}, keepdims={keepdim})",
    "norm": _norm_template,
    # mg.argmax has no keepdims: NumPy's on the data, as a float constant (as torch's is drawn).
    "argmax": "mg.tensor(np.argmax({0}.data, axis={dim}, keepdims={keepdim}), dtype={0}.dtype, "
              "constant=True)",
    "index_select": _along,
    "embedding": lambda a, p: f"{a[0]}[np.array({literal(p['ids'])})]",
    "einsum": "mg.einsum({equation}, {args})",
    "conv1d": _conv(1),
    "conv2d": _conv(2),
    "max_pool2d": _max_pool,
    "batch_norm": _batch_norm,
}


class _Layer:
    """A Linear/RNNCell/LSTMCell as torch defines it, computed with MyGrad ops (MyGrad has no
    such modules, so there is no module object to hook)."""

    def __init__(self, mg, kind, hidden, params):
        """params: {"weight": tensor, ...} (torch's names; a missing bias is absent)."""
        self.mg, self.kind, self.hidden, self.p = mg, kind, hidden, params

    def _affine(self, x, w, b):
        y = self.mg.matmul(x, self.mg.swapaxes(self.p[w], 0, 1))
        return y if b not in self.p else y + self.p[b]

    def __call__(self, x, h=None, c=None):
        mg = self.mg
        if self.kind == "linear":
            return (self._affine(x, "weight", "bias"),)
        if h is None:  # torch: a zero state, still multiplied by weight_hh
            h = mg.tensor(np.zeros(x.shape[:-1] + (self.hidden,), x.dtype), constant=True)
        gates = self._affine(x, "weight_ih", "bias_ih") + self._affine(h, "weight_hh", "bias_hh")
        if self.kind == "rnn_cell":
            return (mg.tanh(gates),)
        if c is None:
            c = mg.tensor(np.zeros(h.shape, x.dtype), constant=True)
        n = self.hidden
        i, f, g, o = (gates[..., k * n:(k + 1) * n] for k in range(4))
        sig = mg.nnet.activations.sigmoid
        c2 = sig(f) * c + sig(i) * mg.tanh(g)
        return sig(o) * mg.tanh(c2), c2


class MyGradAdapter(Adapter):
    name = "mygrad"
    capabilities = frozenset({
        "float64", "float32", "stateful_grad", "nonscalar_backward", "retain_grad", "detach",
        "no_grad", "layers", "error_kinds",
    })
    ops = frozenset(MYGRAD_TEMPLATES)

    def __init__(self):
        import mygrad as mg
        import mygrad.nnet  # noqa: F401 - mg.nnet.* below
        from mygrad.errors import InvalidBackprop
        from mygrad.nnet import activations, layers
        from mygrad.nnet.losses import softmax_crossentropy
        self.mg, self._invalid_backprop = mg, InvalidBackprop
        self.op = TemplateOps(MYGRAD_TEMPLATES, {
            "mg": mg, "np": np, "softmax_crossentropy": softmax_crossentropy,
            **{name: getattr(activations, name) for name in ACTIVATIONS},
            **{name: getattr(layers, name) for name in LAYERS},
            "_axis": _axis, "_logsumexp": _logsumexp, "_scan": _scan, "_norm": _norm})

    def describe(self):
        return f"mygrad {self.mg.__version__} (NumPy {np.__version__})"

    def tensor(self, values, dtype, requires_grad):
        return self.mg.tensor(np.asarray(values, dtype=dtype), constant=not requires_grad)

    def to_numpy(self, t):
        return np.asarray(t.data if isinstance(t, self.mg.Tensor) else t)

    def requires_grad(self, t):
        return not t.constant

    def no_grad(self):
        return self.mg.no_autodiff

    def detach(self, t):
        """MyGrad has no detach(): its way to cut the graph is a constant tensor made from the
        value (`mg.tensor(t, constant=True)`, a copy: MyGrad locks graph arrays read-only)."""
        return self.mg.tensor(t, constant=True)

    def retain_grad(self, t):
        """Nothing to do: MyGrad's backward writes `.grad` on every tensor of the graph,
        intermediate ones included (read back with read_grad)."""

    def make_layer(self, layer, param_values, dtype):
        params = {full: self.mg.tensor(np.asarray(v, dtype=dtype)) for full, v in
                  param_values.items()}
        short = {full.rsplit(".", 1)[1]: t for full, t in params.items()}
        return _Layer(self.mg, layer.kind, layer.out_features, short), params

    def call_layer(self, module, layer, args):
        return module(*args)

    def backward(self, roots, weights, retain_graph, create_graph):
        """`root.backward(grad)`: one root, and no retain_graph/create_graph parameters."""
        if len(roots) != 1 or retain_graph is not None or create_graph:
            raise UnsupportedProgram("mygrad backwards one root, without retain_graph or "
                                     "create_graph")
        roots[0].backward(weights[0])

    def read_grad(self, t):
        return t.grad

    def error_kind(self, exc):
        if isinstance(exc, ValueError) and "passed a gradient with an incompatible shape" in \
                str(exc):
            return "grad_shape_mismatch"
        if isinstance(exc, self._invalid_backprop) and "was 'cleared' prior to backprop" in \
                str(exc):
            return "graph_freed"
        return None

    def render_script(self, program):
        from .mygrad_script import render
        return render(program, self.op)
