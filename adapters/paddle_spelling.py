"""Paddle's spelling of the op vocabulary and of the layers: the code templates the adapter
runs (adapters/templates.py) and its repro scripts print, over `paddle`, `F`
(paddle.nn.functional) and the helpers in HELPERS; the layer modules and how each takes its
parameters from torch's layout (adapters/layer_layout.py)."""
from .functional_layers import LAYER_PARAMS
from .layer_layout import Ops, Param, layout, source
from .templates import Statement, literal, target_literal


# Paddle's modules and how each takes its parameters from torch's (paddle/nn/layer/common.py,
# rnn.py): nn.Linear's weight is [in, out]; SimpleRNNCell and LSTMCell keep torch's layout
# and two biases, the LSTM's gates in torch's order (LSTMCell.forward splits the gates in 4:
# sigmoid, sigmoid, tanh (the cell), sigmoid (the output)).
W, B, W_IH, W_HH, B_IH, B_HH = map(Param, ("weight", "bias", "weight_ih", "weight_hh",
                                            "bias_ih", "bias_hh"))
PADDLE_LAYOUTS = {
    "linear": layout("paddle.nn.Linear", weight=W.T, bias=B),
    "rnn_cell": layout("paddle.nn.SimpleRNNCell", weight_ih=W_IH, weight_hh=W_HH,
                       bias_ih=B_IH, bias_hh=B_HH),
    "lstm_cell": layout("paddle.nn.LSTMCell", weight_ih=W_IH, weight_hh=W_HH, bias_ih=B_IH,
                        bias_hh=B_HH),
}
LAYOUT_OPS = Ops(transpose="paddle.transpose({0}, [1, 0])",
                 concat_rows="paddle.concat([{args}], axis=0)")
MODULES = {"linear": "paddle.nn.Linear", "rnn_cell": "paddle.nn.SimpleRNNCell",
           "lstm_cell": "paddle.nn.LSTMCell"}


def module_source(layer, dtype):
    """The source building `layer`'s Paddle module (adapter and scripts alike)."""
    extra = {"linear": "" if layer.bias else ", bias_attr=False",
             "rnn_cell": ", activation='tanh'"}.get(layer.kind, "")
    if layer.kind != "linear" and not layer.bias:
        extra += ", bias_ih_attr=False, bias_hh_attr=False"
    return (f"module({MODULES[layer.kind]}, {dtype!r}, {layer.in_features}, "
            f"{layer.out_features}{extra})")


def layout_source(layer, name):
    """The conversion of `layer`'s torch-layout leaves (`name(leaf name)` their source) into
    its Paddle module's parameters, as a dict literal."""
    have = {p.name for p in layer.params}
    names = {p: name(f"{layer.name}.{p}") if f"{layer.name}.{p}" in have else None
             for p in LAYER_PARAMS[layer.kind]}
    pairs = source(PADDLE_LAYOUTS[layer.kind], names, layer.out_features, LAYOUT_OPS)
    return "{" + ", ".join(f"{n!r}: {src}" for n, src in pairs) + "}"


# Building and calling the modules: executed into the ops' namespace and printed in scripts.
LAYER_HELPERS = '''
@contextlib.contextmanager
def default_dtype(dtype):
    """Paddle's default dtype inside the block: a module's parameters take it, and so does an
    RNN cell's zero state (RNNCellBase.get_initial_states): a float64 program sets it."""
    before = paddle.get_default_dtype()
    paddle.set_default_dtype(dtype)
    try:
        yield
    finally:
        paddle.set_default_dtype(before)


def module(cls, dtype, *args, **kwargs):
    """A Paddle layer in `dtype`. Its own parameters are never used where the program gives
    them: each call binds the program's (`call_with`)."""
    with default_dtype(dtype):
        return cls(*args, **kwargs)


def call_with(module, params, *args):
    """`module(*args)` with `params` (name -> tensor, in the module's own layout) as its
    parameters, under the input's dtype: Paddle has no stateless call (torch's
    torch.func.functional_call), so they are bound into the layer's `_parameters` for the
    call, its own put back after."""
    own = dict(module._parameters)
    module._parameters.update(params)
    try:
        with default_dtype(args[0].dtype):
            return module(*args)
    finally:
        module._parameters.clear()
        module._parameters.update(own)


def call_linear(module, params, x):
    """paddle.nn.Linear: x [*, in] -> [*, out]."""
    return call_with(module, params, x)


def call_rnn_cell(module, params, x, h):
    """paddle.nn.SimpleRNNCell: x [batch, in] (an unbatched x is a batch of one, as torch's
    RNNCell makes it), states None (its own zeros) or h; it returns (h', h')."""
    if x.ndim == 1:
        h = None if h is None else paddle.unsqueeze(h, 0)
        return paddle.squeeze(call_rnn_cell(module, params, paddle.unsqueeze(x, 0), h), 0)
    out, _ = call_with(module, params, x, h)
    return out


def call_lstm_cell(module, params, x, h, c):
    """paddle.nn.LSTMCell: states None (its own zeros) or (h, c); it returns (h', (h', c'))."""
    if x.ndim == 1:
        state = (None, None) if h is None else (paddle.unsqueeze(h, 0), paddle.unsqueeze(c, 0))
        h2, c2 = call_lstm_cell(module, params, paddle.unsqueeze(x, 0), *state)
        return paddle.squeeze(h2, 0), paddle.squeeze(c2, 0)
    _, (h2, c2) = call_with(module, params, x, None if h is None else (h, c))
    return h2, c2
'''
HELPERS = '''
def pool(fn, x, *args, **kwargs):
    """A pool of (N, C, H, W) or (C, H, W): Paddle's pools take 4-D input only, so an
    unbatched x is a batch of one (as torch makes it)."""
    if x.ndim == 4:
        return fn(x, *args, **kwargs)
    return paddle.squeeze(fn(paddle.unsqueeze(x, 0), *args, **kwargs), 0)


def batch_norm(x, weight, bias, eps):
    """torch's batch_norm(x, None, None, weight, bias, training=True): Paddle's takes running
    statistics always (updated in place, then unused), so fresh ones are given."""
    c = x.shape[1]
    return F.batch_norm(x, paddle.zeros([c], x.dtype), paddle.ones([c], x.dtype), weight, bias,
                        training=True, epsilon=eps)


def split(x, size, dim):
    """torch.split with an int size (pieces of `size`, the last maybe shorter): Paddle's
    split takes the number of pieces or their sizes, so the sizes are given."""
    n = x.shape[dim]
    return paddle.split(x, [size] * (n // size) + ([n % size] if n % size else []), axis=dim)
'''


def _index(args, params):
    return (f"paddle.index_select({args[0]}, paddle.to_tensor({list(params['indices'])}), "
            f"axis={params['dim']})")


def _where(args, params):
    return f"paddle.where(paddle.to_tensor({literal(params['condition'])}), {args[0]}, {args[1]})"


def _cross_entropy(args, params):
    return f"F.cross_entropy({args[0]}, paddle.to_tensor({target_literal(params)}))"


def _linear(args, params):
    """torch's linear (weight [out, in]); Paddle's F.linear takes the weight as [in, out]."""
    bias = f", {args[2]}" if len(args) > 2 else ""
    return f"F.linear({args[0]}, paddle.transpose({args[1]}, [1, 0]){bias})"


def _to_tensor(values):
    return f"paddle.to_tensor({literal(values)})"


def _lerp(args, params):
    weight = literal(params["weight"]) if "weight" in params else args[2]
    return f"paddle.lerp({args[0]}, {args[1]}, {weight})"


def _prod(args, params):
    if params["dim"] is None:
        return f"paddle.prod({args[0]})"
    return f"paddle.prod({args[0]}, axis={params['dim']}, keepdim={params['keepdim']})"


def _spread(name):
    """var/std: Paddle's `unbiased` is torch's correction 1 (0: unbiased=False)."""
    def template(args, params):
        return (f"paddle.{name}({args[0]}, axis={literal(params['dim'])}, "
                f"unbiased={params['correction'] == 1}, keepdim={params['keepdim']})")
    return template


def _norm(args, params):
    o = params["ord"]
    p = "float('inf')" if o == "inf" else literal(float(o))
    return (f"paddle.linalg.vector_norm({args[0]}, p={p}, axis={literal(params['dim'])}, "
            f"keepdim={params['keepdim']})")


def _index_add(args, params):
    """paddle.index_add has no alpha: the source is scaled."""
    src = args[1] if params["alpha"] == 1.0 else f"{args[1]} * {params['alpha']!r}"
    return (f"paddle.index_add({args[0]}, {_to_tensor(params['indices'])}, {params['dim']}, "
            f"{src})")


def _embedding(args, params):
    return f"F.embedding({_to_tensor(params['ids'])}, {args[0]})"


def _conv(nd):
    def template(args, params):
        bias = args[2] if len(args) > 2 else "None"
        return (f"F.conv{nd}d({args[0]}, {args[1]}, {bias}, stride={literal(params['stride'])}, "
                f"padding={literal(params['padding'])}, dilation={literal(params['dilation'])}, "
                f"groups={params['groups']})")
    return template


def _max_pool2d(args, params):
    return (f"pool(F.max_pool2d, {args[0]}, {literal(params['kernel_size'])}, "
            f"stride={literal(params['stride'])}, padding={literal(params['padding'])})")


def _avg_pool2d(args, params):
    """Paddle's `exclusive` (padding left out of the count) is not count_include_pad."""
    return (f"pool(F.avg_pool2d, {args[0]}, {literal(params['kernel_size'])}, "
            f"stride={literal(params['stride'])}, padding={literal(params['padding'])}, "
            f"exclusive={not params['count_include_pad']})")


def _norm_affine(args):
    return (list(args[1:]) + ["None", "None"])[:2]


def _layer_norm(args, params):
    """Paddle's layer_norm takes the weight and bias flattened (1-D), whatever
    normalized_shape is."""
    w, b = (a if a == "None" else f"paddle.flatten({a})" for a in _norm_affine(args))
    return (f"F.layer_norm({args[0]}, {list(params['normalized_shape'])}, {w}, {b}, "
            f"epsilon={params['eps']!r})")


def _batch_norm(args, params):
    w, b = _norm_affine(args)
    return f"batch_norm({args[0]}, {w}, {b}, {params['eps']!r})"


PADDLE_TEMPLATES = {
    **{name: f"paddle.{name}({{0}})" for name in (
        "neg", "exp", "log", "tanh", "sin", "cos", "sqrt", "abs", "reciprocal", "sign",
        "round")},
    "sigmoid": "F.sigmoid({0})",
    "relu": "F.relu({0})",
    "pow": "paddle.pow({0}, {exponent})",
    "scale": "{0} * {c}",
    "add": "{0} + {1}",
    "sub": "{0} - {1}",
    "mul": "{0} * {1}",
    "div": "{0} / {1}",
    "maximum": "paddle.maximum({0}, {1})",
    "minimum": "paddle.minimum({0}, {1})",
    "matmul": "paddle.matmul({0}, {1})",
    "linear": _linear,
    "sum": "paddle.sum({0}, axis={dim}, keepdim={keepdim})",
    "mean": "paddle.mean({0}, axis={dim}, keepdim={keepdim})",
    "max": "paddle.max({0}, axis={dim}, keepdim={keepdim})",
    "logsumexp": "paddle.logsumexp({0}, axis={dim}, keepdim={keepdim})",
    "softmax": "F.softmax({0}, axis={dim})",
    "log_softmax": "F.log_softmax({0}, axis={dim})",
    "reshape": "paddle.reshape({0}, {shape})",
    "transpose": "paddle.swapaxes({0}, {dim0}, {dim1})",
    "permute": "paddle.transpose({0}, {dims})",
    "expand": "paddle.expand({0}, {shape})",
    "unsqueeze": "paddle.unsqueeze({0}, {dim})",
    "squeeze": "paddle.squeeze({0}, axis={dim})",
    "getitem": "{0}[{index}]",
    "index": _index,
    "cat": "paddle.concat([{args}], axis={dim})",
    "stack": "paddle.stack([{args}], axis={dim})",
    "where": _where,
    "mse_loss": "F.mse_loss({0}, {1})",
    "cross_entropy": _cross_entropy,
    # several outputs (MultiOp steps unpack them). Paddle's max/min/sort return values only:
    # the indices come from argmax/argmin/argsort (they carry no gradient).
    "max_dim": "(paddle.max({0}, axis={dim}, keepdim={keepdim}), "
               "paddle.argmax({0}, axis={dim}, keepdim={keepdim}))",
    "min_dim": "(paddle.min({0}, axis={dim}, keepdim={keepdim}), "
               "paddle.argmin({0}, axis={dim}, keepdim={keepdim}))",
    "sort": "(paddle.sort({0}, axis={dim}, descending={descending}), "
            "paddle.argsort({0}, axis={dim}, descending={descending}))",
    "topk": "tuple(paddle.topk({0}, {k}, axis={dim}, largest={largest}))",
    "split": "split({0}, {split_size}, {dim})",
    "chunk": "paddle.chunk({0}, {chunks}, axis={dim})",
    "unbind": "paddle.unbind({0}, axis={dim})",
    # issue 21: unary ops and activations
    **{name: f"paddle.{name}({{0}})" for name in (
        "square", "log1p", "expm1", "rsqrt", "atan", "sinh", "cosh", "tan", "asin", "erf")},
    **{name: f"F.{name}({{0}})" for name in ("silu", "softsign", "mish", "selu", "hardsigmoid")},
    "logsigmoid": "F.log_sigmoid({0})",
    "gelu": lambda args, params: (f"F.gelu({args[0]}, "
                                  f"approximate={params['approximate'] == 'tanh'})"),
    "softplus": "F.softplus({0}, beta={beta}, threshold={threshold})",
    "leaky_relu": "F.leaky_relu({0}, negative_slope={negative_slope})",
    "elu": "F.elu({0}, alpha={alpha})",
    "celu": "F.celu({0}, alpha={alpha})",
    "hardtanh": "F.hardtanh({0}, min={min_val}, max={max_val})",
    # binary pointwise ops and scans
    "atan2": "paddle.atan2({0}, {1})",
    "remainder": "paddle.remainder({0}, {1})",
    "pow_tensor": "paddle.pow({0}, {1})",
    "lerp": _lerp,
    # paddle.clip takes one-element tensor bounds only
    "clamp_tensor": "paddle.minimum(paddle.maximum({0}, {1}), {2})",
    "cumsum": "paddle.cumsum({0}, axis={dim})",
    "cumprod": "paddle.cumprod({0}, dim={dim})",
    "floor_divide": "paddle.floor_divide({0}, {1})",
    # reductions
    "min": "paddle.min({0}, axis={dim}, keepdim={keepdim})",
    "amax": "paddle.amax({0}, axis={dim}, keepdim={keepdim})",
    "amin": "paddle.amin({0}, axis={dim}, keepdim={keepdim})",
    "prod": _prod,
    "norm": _norm,
    "var": _spread("var"),
    "std": _spread("std"),
    "argmax": "paddle.argmax({0}, axis={dim}, keepdim={keepdim}).astype({0}.dtype)",
    # indexing and einsum (broadcast=False: torch's index, smaller than x off the dim)
    "gather": "paddle.take_along_axis({0}, paddle.to_tensor({indices}), axis={dim}, "
              "broadcast=False)",
    "scatter_add": "paddle.put_along_axis({0}, paddle.to_tensor({indices}), {1}, axis={dim}, "
                   "reduce='add', broadcast=False)",
    "index_select": "paddle.index_select({0}, paddle.to_tensor({indices}), axis={dim})",
    "index_add": _index_add,
    "embedding": _embedding,
    "einsum": "paddle.einsum({equation}, {args})",
    # conv, pool and norms: Paddle's layouts are torch's (NCHW, weight [out, in/groups, *k])
    "conv1d": _conv(1),
    "conv2d": _conv(2),
    "max_pool2d": _max_pool2d,
    "avg_pool2d": _avg_pool2d,
    "layer_norm": _layer_norm,
    "batch_norm": _batch_norm,
}
# Left out: fmod (Paddle has no C-style truncated modulo: paddle.mod / floor_mod are
# remainder's floored one). prod, batch_norm, lerp, norm, hardtanh, selu, hardsigmoid and
# avg_pool2d differ from torch in ways stated in deviations/paddle/ops.py; var, std, argmax,
# cumprod and layer_norm are restricted (`restricted` below).


def restricted(name, args, params):
    """Why Paddle's op cannot take these operands as torch does (the adapter raises
    UnsupportedProgram), else None. Each is a minor difference in a corner (measured on Paddle
    3.3.1, CPU, float64) that a deviation could state only with a broad predicate (a None for a
    zero gradient, a shape), so the corner is left out instead:
    - var/std of a 0-d input: its gradient is None where torch's is zero;
    - argmax of a 0-d input with keepdim=True: shape [1] where torch's is 0-d;
    - cumprod of a 0-d input raises (paddle.cumsum takes it);
    - layer_norm over every dim of its input raises (begin_norm_axis must be > 0)."""
    if name not in ("var", "std", "cumprod", "argmax", "layer_norm"):
        return None
    ndim = args[0].ndim
    if name in ("var", "std", "cumprod") and ndim == 0:
        return f"paddle.{name} of a 0-d tensor differs from torch's (no gradient, or raises)"
    if name == "argmax" and ndim == 0 and params.get("keepdim"):
        return "paddle.argmax of a 0-d tensor with keepdim=True has shape [1]"
    if name == "layer_norm" and len(params["normalized_shape"]) == ndim:
        return "F.layer_norm cannot normalize over every dim of its input"
    return None


def _setitem(args, params):
    value = args[1] if len(args) > 1 else literal(params["value"])
    from gradspec.vocabulary import index_source
    return f"{args[0]}[{index_source(params['index'])}] = {value}"


# In-place ops (InPlace steps): {0} is the target; each returns it.
INPLACE_TEMPLATES = {
    "add_": "{0}.add_({1})",
    "mul_": "{0}.multiply_({1})",
    "clamp_": "{0}.clip_(min={min}, max={max})",
    "relu_": "F.relu_({0})",
    "masked_fill_": "{0}.masked_fill_(paddle.to_tensor({mask}), {value})",
    "setitem": Statement(_setitem),
}

# Paddle's messages -> normalized error kinds (gradspec/adapter.py ERROR_KINDS).
