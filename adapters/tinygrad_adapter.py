"""tinygrad (https://docs.tinygrad.org), a lazy tensor library whose autograd differentiates its
UOp graph.

What tinygrad 0.14 expresses, read from its source (`tensor.py` Tensor.backward,
`mixin/op.py` Tensor.gradient, `mixin/gradient.py`, `nn/__init__.py`):
- `Tensor.backward(gradient=None)` on one tensor fills `.grad` of *every* live float tensor
  of the graph (leaves and intermediate ones) and adds to an existing `.grad`; the graph is a
  pure expression and is never freed, so there is no retain_graph (nor its freed-graph error)
  and no several-roots call. There is no requires_grad flag and no no_grad mode at all.
- `Tensor.gradient(*targets, gradient=)`: the gradients of one tensor w.r.t. any tensors
  (intermediate ones too), `.grad` untouched: torch's `autograd.grad` for one output.
- `Tensor.detach()`; `nn.Linear`, `nn.LSTMCell` (no RNNCell: built here from tinygrad ops);
  no hooks of any kind (tensor_hooks, module_hooks left out).
- custom gradients only as the alpha, UOp-level `function(grad_fxn=)` (the grad function gets
  UOps and the CALL node; no ctx, no saved tensors): custom_function left out.
- no create_graph switch: gradients are lazy tensors of the same graph, always differentiable
  (left out; the suites do not draw create_graph yet).
Where tinygrad's answers differ from torch's they are stated in deviations/tinygrad.py.
"""
import importlib.metadata

import numpy as np

from gradspec.adapter import Adapter, UnsupportedProgram
from .templates import TemplateOps, literal, target_literal


def _cross_entropy(args, params):
    return f"{args[0]}.cross_entropy(Tensor({target_literal(params)}))"


def _prod(args, params):
    if params["dim"] is None:
        return f"{args[0]}.prod()"
    return f"{args[0]}.prod(axis={params['dim']}, keepdim={params['keepdim']})"


def _along(args, params):
    """x's slices at the indices along dim (tinygrad's indexing with a list)."""
    d, idx = params["dim"], list(params["indices"])
    if d < 0:
        return f"{args[0]}[..., {idx}{', :' * (-d - 1)}]"
    return f"{args[0]}[{':, ' * d}{idx}]"


def _embedding(nn, weight, ids):
    """nn.Embedding with `weight` as its weight (as load_state_dict replaces it), called on
    the int ids."""
    module = nn.Embedding(*weight.shape)
    module.weight = weight
    return module(ids)


def _affine(src, args):
    """`src` times a weight, plus a bias, where given: as tinygrad's nn.LayerNorm and
    nn.BatchNorm apply theirs."""
    if len(args) > 1:
        src = f"{src} * {args[1]}"
    return f"{src} + {args[2]}" if len(args) > 2 else src


def _layer_norm(args, params):
    axes = tuple(range(-len(params["normalized_shape"]), 0))
    return _affine(f"{args[0]}.layernorm(axis={axes}, eps={params['eps']!r})", args)


def _batch_norm(x, weight, bias, eps):
    """Training-mode batch norm as Tensor.batchnorm's docs call it: the batch mean and biased
    variance over every axis but 1 (what nn.BatchNorm computes without running stats)."""
    axes = tuple(a for a in range(x.ndim) if a != 1)
    return x.batchnorm(weight, bias, x.mean(axis=axes), x.var(axis=axes, correction=0).add(eps)
                       .rsqrt())


def _pool(method, extra=""):
    def template(args, params):
        return (f"{args[0]}.{method}({literal(params['kernel_size'])}, "
                f"stride={literal(params['stride'])}, padding={literal(params['padding'])}"
                + extra.format(**params) + ")")
    return template


def _conv(args, params):
    """Tensor.conv2d convolves over any number of spatial dims (conv1d too)."""
    bias = f", {args[2]}" if len(args) > 2 else ""
    return (f"{args[0]}.conv2d({args[1]}{bias}, groups={params['groups']}, "
            f"stride={literal(params['stride'])}, dilation={literal(params['dilation'])}, "
            f"padding={literal(params['padding'])})")


TINYGRAD_TEMPLATES = {
    **{name: f"{{0}}.{name}()" for name in ("exp", "log", "tanh", "sigmoid", "relu", "sin",
                                             "cos", "sqrt", "abs", "reciprocal")},
    "neg": "-{0}",
    "pow": "{0}.pow({exponent})",
    "scale": "{0} * {c}",
    "add": "{0} + {1}",
    "sub": "{0} - {1}",
    "mul": "{0} * {1}",
    "div": "{0} / {1}",
    "maximum": "{0}.maximum({1})",
    "minimum": "{0}.minimum({1})",
    "matmul": "{0}.matmul({1})",
    # tinygrad's linear takes the weight as (in, out): torch's (out, in) weight transposed.
    "linear": lambda a, p: f"{a[0]}.linear({a[1]}.transpose()"
                           + (f", {a[2]})" if len(a) > 2 else ")"),
    "sum": "{0}.sum(axis={dim}, keepdim={keepdim})",
    "mean": "{0}.mean(axis={dim}, keepdim={keepdim})",
    "max": "{0}.max(axis={dim}, keepdim={keepdim})",
    "logsumexp": "{0}.logsumexp(axis={dim}, keepdim={keepdim})",
    "softmax": "{0}.softmax(axis={dim})",
    "log_softmax": "{0}.log_softmax(axis={dim})",
    "reshape": "{0}.reshape({shape})",
    "transpose": "{0}.transpose({dim0}, {dim1})",
    "permute": "{0}.permute({dims})",
    "expand": "{0}.expand({shape})",
    "unsqueeze": "{0}.unsqueeze({dim})",
    "squeeze": "{0}.squeeze({dim})",
    "getitem": "{0}[{index}]",
    "index": lambda a, p: f"{a[0]}[{':, ' * p['dim']}{list(p['indices'])}]",
    # x.cat(*others) / x.stack(*others): the first tensor is the receiver.
    "cat": lambda a, p: f"{a[0]}.cat({', '.join(a[1:])}, dim={p['dim']})",
    "stack": lambda a, p: f"{a[0]}.stack({', '.join(a[1:])}, dim={p['dim']})",
    "where": lambda a, p: f"Tensor({literal(p['condition'])}).where({a[0]}, {a[1]})",
    # tinygrad has no mse_loss: the mean of squared differences (torch's reduction='mean').
    "mse_loss": "({0} - {1}).square().mean()",
    "cross_entropy": _cross_entropy,
    # Issue 21's ops, each tinygrad's own Tensor method (or module). Left out, as tinygrad has
    # none: log1p, expm1, atan2, index_add, norm (a vector norm).
    **{name: f"{{0}}.{name}()" for name in ("square", "rsqrt", "atan", "sinh", "cosh", "tan",
                                             "asin", "erf", "silu", "softsign", "logsigmoid",
                                             "mish", "selu")},
    "gelu": "{0}.gelu(approximate={approximate})",
    # tinygrad's softplus has no threshold (torch's is linear above 20 / beta, where the two
    # differ by log(1 + exp(-20)) / beta ~ 2e-9 / beta).
    "softplus": "{0}.softplus(beta={beta})",
    "leaky_relu": "{0}.leaky_relu({negative_slope})",
    "elu": "{0}.elu({alpha})",
    "celu": "{0}.celu({alpha})",
    "hardtanh": "{0}.hardtanh({min_val}, {max_val})",
    "fmod": "{0}.fmod({1})",
    "remainder": "{0}.mod({1})",
    # pow_tensor left out: a tensor pow whose exponent is itself one, `b.pow(c.pow(c))`,
    # raises "ValueError: cannot convert float NaN to integer" when realized (0.14.0, float32
    # and float64), outside any step, where a deviation cannot state it; and the processes it
    # fails in compute later programs wrong.
    "lerp": lambda a, p: f"{a[0]}.lerp({a[1]}, {a[2] if len(a) > 2 else literal(p['weight'])})",
    "clamp_tensor": "{0}.clamp({1}, {2})",
    "cumsum": "{0}.cumsum({dim})",
    "cumprod": "{0}.cumprod({dim})",
    "floor_divide": "{0} // {1}",
    "min": "{0}.min(axis={dim}, keepdim={keepdim})",
    "amax": "{0}.max(axis={dim}, keepdim={keepdim})",
    "amin": "{0}.min(axis={dim}, keepdim={keepdim})",
    "prod": _prod,
    "var": "{0}.var(axis={dim}, keepdim={keepdim}, correction={correction})",
    "std": "{0}.std(axis={dim}, keepdim={keepdim}, correction={correction})",
    "argmax": "{0}.argmax(axis={dim}, keepdim={keepdim}).cast({0}.dtype)",
    "gather": "{0}.gather({dim}, Tensor({indices}))",
    "scatter_add": "{0}.scatter_reduce({dim}, Tensor({indices}), {1}, reduce='sum')",
    "index_select": _along,
    "embedding": lambda a, p: f"_embedding(nn, {a[0]}, Tensor({literal(p['ids'])}))",
    "einsum": "Tensor.einsum({equation}, {args})",
    "conv1d": _conv,
    "conv2d": _conv,
    "max_pool2d": _pool("max_pool2d"),
    "avg_pool2d": _pool("avg_pool2d", ", count_include_pad={count_include_pad}"),
    "layer_norm": _layer_norm,
    "batch_norm": lambda a, p: f"_batch_norm({a[0]}, {a[1] if len(a) > 1 else None}, "
                               f"{a[2] if len(a) > 2 else None}, {p['eps']!r})",
}


class _RNNCell:
    """torch.nn.RNNCell (tanh) from tinygrad ops: tinygrad has no RNNCell module."""

    def __init__(self, Tensor, hidden):
        self.Tensor, self.hidden, self.bias_ih, self.bias_hh = Tensor, hidden, None, None

    def __call__(self, x, h=None):
        if h is None:  # torch: a zero state, still multiplied by weight_hh
            h = self.Tensor.zeros(*x.shape[:-1], self.hidden, dtype=x.dtype)
        return (x.linear(self.weight_ih.T, self.bias_ih)
                + h.linear(self.weight_hh.T, self.bias_hh)).tanh()


def call_cell(module, kind, x, h=None, c=None):
    """Call a layer as torch does. torch's cells also take one unbatched (1-d) input;
    nn.LSTMCell only a batch: a 1-d input (and state) goes in as a batch of one and comes
    out squeezed. Returns the outputs as a tuple."""
    if kind == "linear":
        return (module(x),)
    one = x.ndim == 1
    x, h, c = (None if a is None else (a.unsqueeze(0) if one else a) for a in (x, h, c))
    outs = (module(x, h),) if kind == "rnn_cell" else module(x, None if h is None else (h, c))
    return tuple(o.squeeze(0) if one else o for o in outs)


class TinygradAdapter(Adapter):
    name = "tinygrad"
    capabilities = frozenset({
        "float64", "float32", "stateful_grad", "zero_grad", "nonscalar_backward",
        "functional_grad", "grad_wrt_nonleaf", "retain_grad", "detach", "layers", "error_kinds",
    })
    ops = frozenset(TINYGRAD_TEMPLATES)

    def __init__(self):
        from tinygrad import Device, Tensor, dtypes, nn
        self.Tensor, self.Device, self.dtypes, self.nn = Tensor, Device, dtypes, nn
        self.op = TemplateOps(TINYGRAD_TEMPLATES, {"Tensor": Tensor, "nn": nn,
                                                   "_embedding": _embedding,
                                                   "_batch_norm": _batch_norm})

    def describe(self):
        return f"tinygrad {importlib.metadata.version('tinygrad')} on {self.Device.DEFAULT}"

    def tensor(self, values, dtype, requires_grad):
        """A tensor with storage. `Tensor(0-d array)` would be a device-less CONST, which
        tinygrad never differentiates (backward skips tensors without a device): a 0-d value
        is made as a 1-element buffer viewed as shape (). (requires_grad has no tinygrad
        counterpart: every float tensor is differentiated.)"""
        arr = np.asarray(values, dtype=dtype)
        if arr.ndim == 0:
            return self.Tensor(arr.reshape(1)).reshape(())
        return self.Tensor(arr)

    def to_numpy(self, t):
        # Read through clone(): tinygrad 0.14's .numpy() (and .contiguous().numpy()) of some
        # views raises once their buffer was realized ("non-contiguous view is not supported
        # for CPU buffer": the transpose of a (1, 1) tensor read twice). The clone is a fresh
        # tensor outside every graph, so reading changes nothing the suite compares.
        return t.clone().numpy()

    def requires_grad(self, t):
        """tinygrad has no such flag: backward differentiates every float tensor."""
        return t.is_floating_point()

    def detach(self, t):
        return t.detach()

    def retain_grad(self, t):
        """Nothing to do: backward fills `.grad` on intermediate tensors too."""

    def make_layer(self, layer, param_values, dtype):
        nn = self.nn
        if layer.kind == "linear":
            module = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias)
        elif layer.kind == "lstm_cell":
            module = nn.LSTMCell(layer.in_features, layer.out_features, bias=layer.bias)
        else:
            module = _RNNCell(self.Tensor, layer.out_features)
        params = {}
        for full, values in param_values.items():  # as tinygrad's load_state_dict replaces them
            params[full] = self.tensor(values, dtype, True)
            setattr(module, full.rsplit(".", 1)[1], params[full])
        return module, params

    def call_layer(self, module, layer, args):
        return call_cell(module, layer.kind, *args)

    def backward(self, roots, weights, retain_graph, create_graph):
        """`root.backward(gradient)`: one root; no retain_graph or create_graph parameter."""
        if len(roots) != 1 or retain_graph is not None or create_graph:
            raise UnsupportedProgram("tinygrad backwards one root, without retain_graph or "
                                     "create_graph")
        roots[0].backward(weights[0])

    def grad(self, outputs, inputs, weights, retain_graph, create_graph, allow_unused):
        """`output.gradient(*inputs, gradient=w)`: one output, no allow_unused (an unused
        input gets zeros)."""
        if len(outputs) != 1 or retain_graph is not None or create_graph:
            raise UnsupportedProgram("tinygrad's gradient() takes one output, without "
                                     "retain_graph or create_graph")
        return tuple(outputs[0].gradient(*inputs, gradient=weights[0]))

    def read_grad(self, t):
        return t.grad

    def zero_grad(self, tensors, set_to_none):
        """set_to_none: `t.grad = None`, as tinygrad's Optimizer.zero_grad; else `.grad` is
        overwritten with zeros (torch's zero_(), a plain write: backward then adds to it)."""
        for t in tensors:
            if t.grad is not None:
                t.grad = None if set_to_none else t.grad.zeros_like()

    def render_script(self, program):
        from .tinygrad_script import render
        return render(program, self.op)

    def error_kind(self, exc):
        text = str(exc)
        if isinstance(exc, AssertionError):
            if "when no gradient is provided, backward must be called on a scalar" in text:
                return "nonscalar_implicit_grad"
            if "grad shape must match tensor shape" in text:
                return "grad_shape_mismatch"
        return None
