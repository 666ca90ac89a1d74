"""TensorFlow's spelling of the op vocabulary and of the layers: the code templates the
adapter runs (adapters/templates.py) and its repro scripts print, over `tf`, `tnp` and the
helpers in HELPERS; Keras's layers and how each takes its weights from torch's layout
(adapters/layer_layout.py)."""
from gradspec.adapter import UnsupportedProgram

from .functional_layers import LAYER_PARAMS
from .layer_layout import Ops, Param, layout, source
from .templates import literal, target_literal

# Helpers the templates use: executed into the ops' namespace (after the shared layers,
# adapters/functional_layers.py, over `xp`), and printed in repro scripts.
NAMESPACE = "tnp = tf.experimental.numpy\nxp, sigmoid = tnp, tf.sigmoid\n"

# Keras's layers and how each takes its weights from torch's (keras/src/layers/core/dense.py,
# rnn/simple_rnn.py, rnn/lstm.py): kernel [in, units] = W^T, recurrent_kernel = W_hh^T, one
# bias where torch adds b_ih and b_hh; LSTMCell's gates are i, f, c, o (torch's i, f, g, o).
# The order is `trainable_variables`' order, the list stateless_call takes.
W, B, W_IH, W_HH, B_IH, B_HH = map(Param, ("weight", "bias", "weight_ih", "weight_hh",
                                            "bias_ih", "bias_hh"))
KERAS_LAYOUTS = {
    "linear": layout("keras.layers.Dense", kernel=W.T, bias=B),
    "rnn_cell": layout("keras.layers.SimpleRNNCell", kernel=W_IH.T, recurrent_kernel=W_HH.T,
                       bias=B_IH + B_HH),
    "lstm_cell": layout("keras.layers.LSTMCell", kernel=W_IH.T, recurrent_kernel=W_HH.T,
                        bias=B_IH + B_HH),
}
LAYOUT_OPS = Ops(transpose="tf.transpose({0})", add="tf.math.add({0}, {1})",
                 concat_rows="tf.concat([{args}], axis=0)")
KERAS_CLASSES = {"linear": "keras.layers.Dense", "rnn_cell": "keras.layers.SimpleRNNCell",
                 "lstm_cell": "keras.layers.LSTMCell"}


def keras_source(layer, dtype):
    """The source building `layer`'s Keras layer (adapter and scripts alike)."""
    extra = {"rnn_cell": ", activation='tanh'",
             "lstm_cell": ", activation='tanh', recurrent_activation='sigmoid', "
                          "implementation=2"}.get(layer.kind, "")
    return (f"keras_layer({KERAS_CLASSES[layer.kind]}, {dtype!r}, {layer.in_features}, "
            f"{layer.out_features}, use_bias={layer.bias}{extra})")


def layout_source(layer, name):
    """The conversion of `layer`'s torch-layout leaves (`name(leaf name)` their source) into
    its Keras layer's weights, as a list literal in `trainable_variables` order."""
    have = {p.name for p in layer.params}
    names = {p: name(f"{layer.name}.{p}") if f"{layer.name}.{p}" in have else None
             for p in LAYER_PARAMS[layer.kind]}
    pairs = source(KERAS_LAYOUTS[layer.kind], names, layer.out_features, LAYOUT_OPS)
    return "[" + ", ".join(src for _, src in pairs) + "]"


# Building and calling the Keras layers: executed into the ops' namespace, printed in scripts.
LAYER_HELPERS = '''
def keras_layer(cls, dtype, n_in, units, **kwargs):
    """A Keras layer in `dtype`, built for inputs [batch, n_in]. Its own initial weights are
    never used: each call passes the program's (`call_keras`)."""
    layer = cls(units, dtype=dtype, **kwargs)
    layer.build((None, n_in))
    return layer


def call_keras(layer, weights, *args):
    """`layer.call(*args)` with `weights` (in `trainable_variables` order) as its variables'
    values: Keras 3's stateless_call, so they are tensors the tape records."""
    state = [v.value for v in layer.non_trainable_variables]  # a seed, unused (no dropout)
    out, _ = layer.stateless_call(weights, state, *args)
    return out


def call_linear(layer, weights, x):
    """keras.layers.Dense: x [*, in] -> [*, units]."""
    return call_keras(layer, weights, x)


def batch_of_one(x):
    """A Keras cell takes x [batch, in]: an unbatched x is a batch of one (as torch's cells
    make it)."""
    return x if x.shape.rank == 2 else tf.expand_dims(x, 0)


def call_rnn_cell(layer, weights, x, h):
    """keras.layers.SimpleRNNCell: call(x, [h]) -> (h', [h']); a None h is its own initial
    state (get_initial_state: zeros)."""
    xb = batch_of_one(x)
    states = layer.get_initial_state(xb.shape[0]) if h is None else [batch_of_one(h)]
    out, _ = call_keras(layer, weights, xb, states)
    return out if x.shape.rank == 2 else out[0]


def call_lstm_cell(layer, weights, x, h, c):
    """keras.layers.LSTMCell: call(x, [h, c]) -> (h', [h', c']); a None state is its own
    initial state (zeros)."""
    xb = batch_of_one(x)
    states = layer.get_initial_state(xb.shape[0]) if h is None else [batch_of_one(h),
                                                                       batch_of_one(c)]
    _, (h2, c2) = call_keras(layer, weights, xb, states)
    return (h2, c2) if x.shape.rank == 2 else (h2[0], c2[0])
'''
HELPERS = '''
TAPES = []  # the tapes recording now (vjp, functional): no_grad stops each of them


@contextlib.contextmanager
def no_grad():
    """torch.no_grad() as TF says it: every tape recording now stops recording."""
    with contextlib.ExitStack() as stack:
        for tape in TAPES:
            stack.enter_context(tape.stop_recording())
        yield


@contextlib.contextmanager
def recording(tape, sources):
    """`with tape:` watching `sources`, known to no_grad while it records."""
    with tape:
        tape.watch(sources)
        TAPES.append(tape)
        try:
            yield tape
        finally:
            TAPES.remove(tape)


def dense(g):
    """A gradient as a Tensor: tf.gather's is an IndexedSlices (None stays None)."""
    return None if g is None else tf.convert_to_tensor(g)


def reduce_(fn, x, dim, keepdim, **kwargs):
    """torch's reductions: a 0-d tensor accepts dim 0/-1, which TF's reductions reject; its
    reduction over all (no) axes is the same value, and recorded as torch's is."""
    if x.shape.rank == 0:
        return fn(x, keepdims=keepdim, **kwargs)
    return fn(x, axis=list(dim) if isinstance(dim, tuple) else dim, keepdims=keepdim, **kwargs)


def scan(fn, x, dim):
    """torch.cumsum/cumprod: a 0-d tensor (dim 0/-1) is its own scan; TF's ScanOp rejects it."""
    return tf.identity(x) if x.shape.rank == 0 else fn(x, axis=dim)


def argmax(x, dim, keepdim):
    """torch.argmax(x, dim, keepdim) as a float constant (tf.cast of an int: no gradient);
    a 0-d x has index 0."""
    if x.shape.rank == 0:
        return tf.zeros([], x.dtype)
    i = tf.math.argmax(x, axis=dim)
    return tf.cast(tf.expand_dims(i, dim) if keepdim else i, x.dtype)


def along(indices, dim):
    """torch's index along dim (gather, scatter_add) as tf.gather_nd's coordinates: each
    entry's own position, its `dim` coordinate replaced by the entry."""
    indices = np.asarray(indices, dtype=np.int64)
    position = np.indices(indices.shape)
    position[dim] = indices
    return tf.constant(np.stack(position, axis=-1))


def slices_at(shape, indices, dim):
    """index_add's coordinates: each position of a source of `shape`, its `dim` coordinate
    replaced by the index of its slice."""
    position = np.indices(tuple(shape))
    position[dim] = np.asarray(indices, dtype=np.int64)[position[dim]]
    return tf.constant(np.stack(position, axis=-1))


def channels_last(x):
    """(N, C, *spatial) -> (N, *spatial, C): TF's convolutions and pools take NWC / NHWC."""
    return tf.transpose(x, [0] + list(range(2, x.shape.rank)) + [1])


def channels_first(x):
    r = x.shape.rank
    return tf.transpose(x, [0, r - 1] + list(range(1, r - 1)))


def conv(x, weight, bias, stride, padding, dilation):
    """torch's conv1d/conv2d: x (N, C, *spatial) and weight [out, in / groups, *kernel] in
    TF's layouts (channels last, filters [*kernel, in / groups, out]; TF infers the groups
    from the depths). conv1d takes no explicit padding: the input is padded first."""
    nd = x.shape.rank - 2
    filters = tf.transpose(weight, list(range(2, nd + 2)) + [1, 0])
    pads = [[0, 0]] + [[p, p] for p in padding] + [[0, 0]]
    if nd == 1:
        out = tf.nn.conv1d(tf.pad(channels_last(x), pads), filters, stride=stride[0],
                           padding="VALID", dilations=dilation[0])
    else:
        out = tf.nn.conv2d(channels_last(x), filters, strides=stride, padding=pads,
                           dilations=dilation)
    if bias is not None:
        out = tf.nn.bias_add(out, bias)
    return channels_first(out)


def pool(fn, x, pads):
    """A pool of (N, C, H, W) or (C, H, W) (a batch of one) in TF's NHWC layout."""
    xb = x if x.shape.rank == 4 else tf.expand_dims(x, 0)
    out = channels_first(fn(channels_last(xb), pads))
    return out if x.shape.rank == 4 else out[0]


def max_pool2d(x, kernel, stride, padding):
    pads = [[0, 0]] + [[p, p] for p in padding] + [[0, 0]]
    return pool(lambda t, pads: tf.nn.max_pool2d(t, kernel, stride, padding=pads), x, pads)


def avg_pool2d(x, kernel, stride, padding):
    """count_include_pad=True: the zero padding is part of each window (tf.nn.avg_pool2d
    takes no explicit padding, so the input is padded first)."""
    pads = [[0, 0]] + [[p, p] for p in padding] + [[0, 0]]
    return pool(lambda t, pads: tf.nn.avg_pool2d(tf.pad(t, pads), kernel, stride, "VALID"),
                x, pads)


def layer_norm(x, k, weight, bias, eps):
    """torch's layer_norm over the last k dims: tf.nn.moments and tf.nn.batch_normalization."""
    axes = list(range(x.shape.rank - k, x.shape.rank))
    mean, variance = tf.nn.moments(x, axes, keepdims=True)
    return tf.nn.batch_normalization(x, mean, variance, bias, weight, eps)


def batch_norm(x, weight, bias, eps):
    """torch's batch_norm in training mode on (N, C, *spatial): moments over all dims but
    the channels; the (C,) weight and bias reshaped to broadcast along dim 1."""
    axes = [0] + list(range(2, x.shape.rank))
    mean, variance = tf.nn.moments(x, axes, keepdims=True)
    channel = [-1] + [1] * (x.shape.rank - 2)
    scale = None if weight is None else tf.reshape(weight, channel)
    offset = None if bias is None else tf.reshape(bias, channel)
    return tf.nn.batch_normalization(x, mean, variance, offset, scale, eps)


def swapaxes(x, dim0, dim1):
    perm = list(range(x.shape.rank))
    perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
    return tf.transpose(x, perm)


def cross_entropy(x, target):
    """torch.nn.functional.cross_entropy with class indices, mean reduction."""
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant(target),
                                                            logits=x)
    return tf.reduce_mean(losses) if x.shape.rank == 2 else losses


def with_indices(reduce, arg, x, dim, keepdim):
    """torch.max/min(x, dim): the values (tf.reduce_max/min) and their indices."""
    indices = arg(x, axis=dim)
    return reduce(x, axis=dim, keepdims=keepdim), (
        tf.expand_dims(indices, dim) if keepdim else indices)


def sort(x, dim, descending):
    direction = "DESCENDING" if descending else "ASCENDING"
    return (tf.sort(x, axis=dim, direction=direction),
            tf.argsort(x, axis=dim, direction=direction, stable=True))


def topk(x, k, dim, largest):
    """torch.topk (sorted): tf.math.top_k works on the last axis, largest first."""
    perm = list(range(x.shape.rank))
    perm[dim], perm[-1] = perm[-1], perm[dim]
    values, indices = tf.math.top_k(tf.transpose(x if largest else -x, perm), k)
    return (tf.transpose(values if largest else -values, perm), tf.transpose(indices, perm))


def split(x, size, dim):
    """torch.split with an int size: pieces of `size` (the last may be shorter)."""
    n = x.shape[dim]
    return tuple(tf.split(x, [size] * (n // size) + ([n % size] if n % size else []), axis=dim))


def chunk(x, chunks, dim):
    """torch.chunk: pieces of ceil(n / chunks), so possibly fewer than `chunks`."""
    return split(x, -(-x.shape[dim] // chunks), dim)


def vjp(f, primals, cotangents):
    """The gradients of f's outputs, weighted by `cotangents`, w.r.t. each primal. A None
    cotangent is an implicit gradient: output_gradients=None where all are (TF's default:
    ones for each target), else a None entry in the list (TF's form for one target)."""
    with recording(tf.GradientTape(), primals) as tape:
        outs = f(*primals)
    weights = None if all(c is None for c in cotangents) else list(cotangents)
    grads = tape.gradient(list(outs), list(primals), output_gradients=weights)
    return tuple(dense(g) for g in grads)


def record(f, sources, persistent):
    """The recorded forward: f's values computed once inside a tape watching `sources`, so
    that several gradients (a persistent tape) w.r.t. any of them, leaves or intermediate
    values, can be asked of it."""
    with recording(tf.GradientTape(persistent=persistent), sources) as tape:
        values = f(*sources)
    return tape, values


def gradient(tape, targets, sources, weights, materialize):
    """One gradient of a recorded forward: targets weighted by `weights` (None: implicit, as
    in `vjp`) w.r.t. `sources`; None for a source the targets do not reach, or zeros if
    `materialize` (torch's allow_unused / materialize_grads)."""
    unconnected = tf.UnconnectedGradients.ZERO if materialize else tf.UnconnectedGradients.NONE
    output_gradients = None if all(w is None for w in weights) else list(weights)
    grads = tape.gradient(list(targets), list(sources), output_gradients=output_gradients,
                          unconnected_gradients=unconnected)
    return tuple(dense(g) for g in grads)


def functional_vjp(f, inputs, weight):
    """torch.autograd.functional.vjp: zeros for an input the output does not use."""
    with recording(tf.GradientTape(), inputs) as tape:
        out = f(*inputs)
    grads = tape.gradient(out, list(inputs), output_gradients=weight,
                          unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return (out,) + tuple(dense(g) for g in grads)


def jacobian(f, inputs):
    with recording(tf.GradientTape(), inputs) as tape:
        out = f(*inputs)
    return tuple(tape.jacobian(out, list(inputs),
                               unconnected_gradients=tf.UnconnectedGradients.ZERO))


def hessian(f, inputs):
    """H[i][j]: the Jacobian w.r.t. input j of the gradient w.r.t. input i (nested tapes;
    the outer one persistent, as it gives one Jacobian per input)."""
    zero = tf.UnconnectedGradients.ZERO
    with recording(tf.GradientTape(persistent=True), inputs) as outer:
        with recording(tf.GradientTape(), inputs) as inner:
            out = f(*inputs)
        grads = [dense(g) for g in inner.gradient(out, list(inputs), unconnected_gradients=zero)]
    return tuple(tuple(outer.jacobian(g, list(inputs), unconnected_gradients=zero))
                 for g in grads)
'''


def _index(args, params):
    return f"tf.gather({args[0]}, {list(params['indices'])}, axis={params['dim']})"


def _where(args, params):
    return f"tf.where(tf.constant({literal(params['condition'])}), {args[0]}, {args[1]})"


def _cross_entropy(args, params):
    return f"cross_entropy({args[0]}, {target_literal(params)})"


def _pair(v, n=2):
    return tuple(v) if isinstance(v, tuple) else (v,) * n


def _gelu(args, params):
    return f"tf.nn.gelu({args[0]}, approximate={params['approximate'] == 'tanh'})"


def _softplus(args, params):
    """tf.math.softplus has no beta: softplus(beta x) / beta. Its threshold (linear above
    ~-log(eps), 36 in float64, 15.9 in float32) is where the value differs from
    log1p(exp(x)) by less than the dtype's eps, as torch's 20 is."""
    beta = params["beta"]
    if beta == 1.0:
        return f"tf.math.softplus({args[0]})"
    return f"tf.math.divide(tf.math.softplus(tf.math.multiply({args[0]}, {beta!r})), {beta!r})"


def _alpha_act(name):
    """tf.nn.elu has no alpha: Keras's activation (over tf.nn.elu) takes it; celu is Keras's
    only."""
    def template(args, params):
        if name == "elu" and params["alpha"] == 1.0:
            return f"tf.nn.elu({args[0]})"
        return f"keras.activations.{name}({args[0]}, alpha={params['alpha']!r})"
    return template


def _prod(args, params):
    if params["dim"] is None:
        return f"tf.math.reduce_prod({args[0]})"
    return f"reduce_(tf.math.reduce_prod, {args[0]}, {params['dim']}, {params['keepdim']})"


def _spread(fn):
    """var/std: tf.math.reduce_variance/reduce_std have no ddof (correction). The NumPy API's
    tnp.var(ddof=1) fails in its forward over an axis (TypeError, TF 2.21) and tnp.std takes
    no ddof: correction=1 is not expressible."""
    def template(args, params):
        if params["correction"] != 0:
            raise UnsupportedProgram(f"TF's {fn} has no correction (ddof)")
        return f"reduce_({fn}, {args[0]}, {literal(params['dim'])}, {params['keepdim']})"
    return template


def _norm(args, params):
    """tf.norm over one axis (ord 1, 2, inf); over several, tf.norm is a matrix norm (a
    pair of axes) or refuses: the Euclidean norm over several is tf.math.reduce_euclidean_norm,
    and ord 1 / inf over several has no TF function."""
    o, d, keep = params["ord"], params["dim"], params["keepdim"]
    if isinstance(d, tuple):
        if o != 2:
            raise UnsupportedProgram(f"TF has no vector norm of ord {o} over several axes")
        return f"reduce_(tf.math.reduce_euclidean_norm, {args[0]}, {d}, {keep})"
    ord_src = "np.inf" if o == "inf" else ("'euclidean'" if o == 2 else literal(o))
    return f"reduce_(tf.norm, {args[0]}, {d}, {keep}, ord={ord_src})"


def _index_add(args, params):
    src = args[1] if params["alpha"] == 1.0 else f"tf.math.multiply({args[1]}, {params['alpha']!r})"
    return (f"tf.tensor_scatter_nd_add({args[0]}, slices_at({args[1]}.shape, "
            f"{literal(params['indices'])}, {params['dim']}), {src})")


def _embedding(args, params):
    return f"tf.nn.embedding_lookup({args[0]}, {literal(params['ids'])})"


def _conv(nd):
    """TF's CPU kernels have no gradient for a grouped or a dilated convolution
    (Conv2DBackpropInput: "Gradients for grouped convolutions are not supported on CPU",
    "Current CPU implementations do not yet support dilation rates larger than 1"): such
    programs are left out."""
    def template(args, params):
        dilation = _pair(params["dilation"], nd)
        if params["groups"] != 1 or dilation != (1,) * nd:
            raise UnsupportedProgram("TF's CPU kernels have no gradient for grouped or "
                                     "dilated convolutions")
        bias = args[2] if len(args) > 2 else "None"
        return (f"conv({args[0]}, {args[1]}, {bias}, {_pair(params['stride'], nd)}, "
                f"{_pair(params['padding'], nd)}, {dilation})")
    return template


def _pool_geometry(params):
    kernel = _pair(params["kernel_size"])
    stride = kernel if params["stride"] is None else _pair(params["stride"])
    return kernel, stride, _pair(params["padding"])


def _max_pool2d(args, params):
    return f"max_pool2d({args[0]}, {', '.join(map(str, _pool_geometry(params)))})"


def _avg_pool2d(args, params):
    """tf.nn.avg_pool2d has no explicit padding: zero padding counted (count_include_pad)
    is tf.pad first; padding left out of the count is only TF's 'SAME', not any padding."""
    kernel, stride, padding = _pool_geometry(params)
    if not params["count_include_pad"] and padding != (0, 0):
        raise UnsupportedProgram("tf.nn.avg_pool2d cannot leave explicit padding out of "
                                 "the count")
    return f"avg_pool2d({args[0]}, {kernel}, {stride}, {padding})"


def _norm_affine(args):
    return (list(args[1:]) + ["None", "None"])[:2]


def _layer_norm(args, params):
    w, b = _norm_affine(args)
    return (f"layer_norm({args[0]}, {len(params['normalized_shape'])}, {w}, {b}, "
            f"{params['eps']!r})")


def _batch_norm(args, params):
    w, b = _norm_affine(args)
    return f"batch_norm({args[0]}, {w}, {b}, {params['eps']!r})"


TF_TEMPLATES = {
    **{name: f"tf.math.{name}({{0}})" for name in (
        "exp", "log", "tanh", "sin", "cos", "sqrt", "abs", "reciprocal", "sign", "round")},
    "neg": "tf.math.negative({0})",
    "sigmoid": "tf.math.sigmoid({0})",
    "relu": "tf.nn.relu({0})",
    "pow": "tf.math.pow({0}, {exponent})",
    # tf.math's functions, not Python's operators: a custom grad_fn may get an IndexedSlices
    # (tf.gather's gradient), which they convert to a Tensor and the operators reject.
    "scale": "tf.math.multiply({0}, {c})",
    "add": "tf.math.add({0}, {1})",
    "sub": "tf.math.subtract({0}, {1})",
    "mul": "tf.math.multiply({0}, {1})",
    "div": "tf.math.divide({0}, {1})",
    "maximum": "tf.math.maximum({0}, {1})",
    "minimum": "tf.math.minimum({0}, {1})",
    # numpy's matmul (1-d operands, broadcast batch dims), which tf.linalg.matmul is not
    "matmul": "tnp.matmul({0}, {1})",
    "linear": "linear({args})",
    "sum": "reduce_(tf.math.reduce_sum, {0}, {dim}, {keepdim})",
    "mean": "reduce_(tf.math.reduce_mean, {0}, {dim}, {keepdim})",
    "max": "reduce_(tf.math.reduce_max, {0}, {dim}, {keepdim})",
    "logsumexp": "reduce_(tf.math.reduce_logsumexp, {0}, {dim}, {keepdim})",
    "softmax": "tf.nn.softmax({0}, axis={dim})",
    "log_softmax": "tf.nn.log_softmax({0}, axis={dim})",
    "reshape": "tf.reshape({0}, {shape})",
    "transpose": "swapaxes({0}, {dim0}, {dim1})",
    "permute": "tf.transpose({0}, {dims})",
    "expand": "tf.broadcast_to({0}, {shape})",
    "unsqueeze": "tf.expand_dims({0}, {dim})",
    "squeeze": "tf.squeeze({0}, axis={dim})",
    "getitem": "{0}[{index}]",
    "index": _index,
    "cat": "tf.concat([{args}], axis={dim})",
    "stack": "tf.stack([{args}], axis={dim})",
    "where": _where,
    "mse_loss": "tf.math.reduce_mean(tf.math.square({0} - {1}))",
    "cross_entropy": _cross_entropy,
    # several outputs (MultiOp steps unpack them); indices are int arrays
    "max_dim": "with_indices(tf.math.reduce_max, tf.math.argmax, {0}, {dim}, {keepdim})",
    "min_dim": "with_indices(tf.math.reduce_min, tf.math.argmin, {0}, {dim}, {keepdim})",
    "sort": "sort({0}, {dim}, {descending})",
    "topk": "topk({0}, {k}, {dim}, {largest})",
    "split": "split({0}, {split_size}, {dim})",
    "chunk": "chunk({0}, {chunks}, {dim})",
    "unbind": "tuple(tf.unstack({0}, axis={dim}))",
    # issue 21: unary ops and activations
    **{name: f"tf.math.{name}({{0}})" for name in (
        "square", "log1p", "expm1", "rsqrt", "atan", "sinh", "cosh", "tan", "asin", "erf")},
    "silu": "tf.nn.silu({0})",
    "softsign": "tf.nn.softsign({0})",
    "logsigmoid": "tf.math.log_sigmoid({0})",
    "mish": "keras.activations.mish({0})",  # TF has none of its own (tfa had one)
    "gelu": _gelu,
    "softplus": _softplus,
    "leaky_relu": "tf.nn.leaky_relu({0}, alpha={negative_slope})",
    "elu": _alpha_act("elu"),
    "celu": _alpha_act("celu"),
    "selu": "tf.nn.selu({0})",
    "hardtanh": "tf.clip_by_value({0}, {min_val}, {max_val})",
    "hardsigmoid": "keras.activations.hard_sigmoid({0})",  # x / 6 + 1/2, clipped to [0, 1]
    # binary pointwise ops and scans
    "atan2": "tf.math.atan2({0}, {1})",
    "remainder": "tf.math.floormod({0}, {1})",
    "pow_tensor": "tf.math.pow({0}, {1})",
    # tf.clip_by_value takes tensor bounds, but not ones that broadcast x to a larger shape
    "clamp_tensor": "tf.math.minimum(tf.math.maximum({0}, {1}), {2})",
    "cumsum": "scan(tf.math.cumsum, {0}, {dim})",
    "cumprod": "scan(tf.math.cumprod, {0}, {dim})",
    "floor_divide": "tf.math.floordiv({0}, {1})",
    # reductions
    "min": "reduce_(tf.math.reduce_min, {0}, {dim}, {keepdim})",
    "amax": "reduce_(tf.math.reduce_max, {0}, {dim}, {keepdim})",
    "amin": "reduce_(tf.math.reduce_min, {0}, {dim}, {keepdim})",
    "prod": _prod,
    "var": _spread("tf.math.reduce_variance"),
    "std": _spread("tf.math.reduce_std"),
    "norm": _norm,
    "argmax": "argmax({0}, {dim}, {keepdim})",
    # indexing and einsum: torch's index along a dim as tf.gather_nd's coordinates
    "gather": "tf.gather_nd({0}, along({indices}, {dim}))",
    "scatter_add": "tf.tensor_scatter_nd_add({0}, along({indices}, {dim}), {1})",
    "index_select": "tf.gather({0}, {indices}, axis={dim})",
    "index_add": _index_add,
    "embedding": _embedding,
    "einsum": "tf.einsum({equation}, {args})",
    # conv, pool and norms, in TF's channels-last layouts (the helpers transpose)
    "conv1d": _conv(1),
    "conv2d": _conv(2),
    "max_pool2d": _max_pool2d,
    "avg_pool2d": _avg_pool2d,
    "layer_norm": _layer_norm,
    "batch_norm": _batch_norm,
}
# Left out: lerp (TF has no lerp of its own; start + weight * (end - start) is emulation);
# fmod (TF's C-style modulo, tf.truncatemod, has no registered gradient: tape.gradient raises
# LookupError "gradient registry has no entry for: TruncateMod").
# Restricted by their templates (UnsupportedProgram): var/std with correction=1, norm of
# ord 1 / inf over several axes, grouped or dilated conv1d/conv2d (no CPU gradient),
# avg_pool2d that leaves explicit padding out of the count.

# TF's errors -> normalized error kinds, each the same failure as torch's.
