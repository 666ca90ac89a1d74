"""TensorFlow 2 through its public API (tf.GradientTape, tf.custom_gradient), run eagerly: a
functional engine.

TF has no `.grad` and no `requires_grad` flag: a tf.GradientTape records the ops run inside
it and gives the gradients of its targets w.r.t. its watched sources. The interpreter
(`gradspec/interpreter.py`, `_run_recorded`) asks this adapter to `record` the program's
forward once: every value computed inside one tape watching the leaves; each plan action is
then `tape.gradient(roots, sources, output_gradients=weights)` of that tape, its sources
leaves or intermediate values. Several Grad actions share the tape: it is persistent where
an action passes retain_graph=True, else its second `gradient` raises (torch's freed graph).
A gradient used as a value (GradStep) is still `vjp(f, primals, cotangents)`, a tape of its
own nested in the one recording.

How each feature is expressed, all with TF's own API:
- gradient weights / several roots: `output_gradients`, one per root. An implicit (None)
  weight: `output_gradients=None` when every weight is implicit (TF's default: ones for each
  target, so a non-scalar root's gradient is its sum's). Where only some are, TF's form is a
  None entry in the list (pywrap_tfe.h: "a python list of either Tensor or None"), which
  aborts the process or fails (findings/tensorflow/none-output-gradient.py): the adapter
  rejects such programs (UnsupportedProgram). Filling in ones itself would only repeat an
  explicit weight, which the suites draw anyway;
- an input the roots do not reach: `unconnected_gradients=NONE` (TF's default), so None, as
  torch's `.grad` stays None (and grad(allow_unused=True) returns); zeros where torch
  materializes them (grad(materialize_grads=True), torch.autograd.functional) are
  `unconnected_gradients=ZERO`;
- detach: `tf.stop_gradient`; no_grad: `GradientTape.stop_recording()` of every tape
  recording at the time (the adapter's own tapes: `TAPES`);
- create_graph: a gradient used as a value (a GradStep) is a tape nested in the tape that
  differentiates it, its `gradient` called while the outer one records (TF's higher order);
- custom Functions: `tf.custom_gradient`; its grad_fn gets one upstream gradient per output
  (zeros for an output nothing reached) and returns one per input;
- layers: Keras 3's own `keras.layers.Dense`, `SimpleRNNCell` (tanh) and `LSTMCell` (sigmoid
  gates, `implementation=2`), each built once per kind, shape and dtype and run by
  `layer.stateless_call` on values the tape records: the program's torch-layout leaves
  converted at each call with TF ops (`layer_layouts`, adapters/layer_layout.py): a kernel is
  the transpose of torch's weight ([in, out]; a recurrent_kernel of weight_hh), and a cell's
  one bias is bias_ih + bias_hh; the LSTM's gates are in torch's order (Keras's i, f, c, o).
  So the Keras layers' own formulas are what TF differentiates, and the gradient reaches the
  torch-layout leaves through the conversion.

The ops are code templates (adapters/templates.py) over `tf`, `tnp` and the helpers in
`HELPERS`, so `render_script` prints exactly the code that ran.
"""
import os

import numpy as np

from gradspec.adapter import Adapter, Recording, UnsupportedProgram
from .functional_layers import LAYER_PARAMS, LAYERS
from .functional_script import Spelling, render
from .layer_layout import Ops, Param, convert, layout, source
from .script_parts import backward_rules, py
from .templates import TemplateOps, first_line_source, literal, target_literal

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
TF_ERRORS = (
    (ValueError, "custom_gradient function expected to return", "custom_grad_count"),
    # a second gradient of a tape that is not persistent: torch's freed graph
    (RuntimeError, "non-persistent GradientTape can only be used", "graph_freed"),
)


class TapeRecording(Recording):
    """A recorded forward: the tape, its watched leaves (`primals`) and the values it
    recorded (gradspec/adapter.py). `odd_custom_grads`: a custom backward of the program returns
    a gradient of the wrong shape."""

    def __init__(self, tape, primals, values, gradient, persistent, odd_custom_grads):
        self.tape, self.primals, self.values = tape, tuple(primals), tuple(values)
        self._gradient = gradient
        self.persistent, self.odd_custom_grads = persistent, odd_custom_grads
        self.failed = False  # a gradient call raised

    def gradient(self, targets, sources, weights, materialize):
        if self.failed and not self.persistent:
            raise UnsupportedProgram(
                "a gradient call after a failed one on a tape that is not persistent: TF "
                "answers it from a half-released tape (InternalError, None, wrong values, or "
                "a crash: findings/tensorflow/failed-gradient-leaves-tape-invalid.py)")
        if any(w is None for w in weights) and not all(w is None for w in weights):
            raise UnsupportedProgram(
                "implicit and explicit gradient weights in one call: a None entry in "
                "tape.gradient's output_gradients aborts the process "
                "(findings/tensorflow/none-output-gradient.py)")
        if any(not any(s is p for p in self.primals) for s in sources) and (
                self.odd_custom_grads or any(
                    w is not None and tuple(w.shape) != tuple(t.shape)
                    for t, w in zip(targets, weights))):
            raise UnsupportedProgram(
                "an intermediate source, with gradients of the wrong shape about: where their "
                "sum at such a source fails, tape.gradient crashes the process (SIGSEGV) "
                "(findings/tensorflow/aggregation-at-source-segfault.py)")
        try:
            return self._gradient(self.tape, targets, sources, weights, materialize)
        except Exception:
            self.failed = True
            raise


class TensorFlowAdapter(Adapter):
    name = "tensorflow"
    # Through the recorded forward (`record`, gradspec/adapter.py's functional contract): one
    # tape over the program answers the plan's Grad actions: retain_graph (a persistent tape
    # where an action retains the graph; a tape that is not raises on its second gradient
    # call), grad_wrt_nonleaf (`tape.gradient(target, intermediate)`), and
    # materialize_unused_grads (UnconnectedGradients.ZERO; NONE otherwise, torch's None).
    # Missing, and why: stateful_grad, zero_grad (no .grad: gradients are returned, and a
    # Backward is its plan's only action); retain_grad (nothing keeps a non-leaf's gradient
    # unasked); tensor_hooks, module_hooks, hook_removal,
    # post_accumulate_hooks (no hooks in TF); materialize_grads (a custom_gradient's grad_fn
    # gets zeros for an unused output, never None); needs_input_grad (grad_fn is not told
    # which inputs are differentiated); non_differentiable (no way to mark an output so);
    # grad_modes, inference_mode, requires_grad_ (TF has tapes, not modes or flags); inplace,
    # shares_storage (eager tensors are immutable values).
    capabilities = frozenset({
        "float64", "float32", "nonscalar_backward", "multi_root", "functional_grad", "detach",
        "no_grad", "layers", "custom_function", "error_kinds", "create_graph",
        "functional_api", "multi_output", "retain_graph", "grad_wrt_nonleaf",
        "materialize_unused_grads",
    })
    ops = frozenset(TF_TEMPLATES)

    def __init__(self):
        # TF's C++ logging (oneDNN notices, ...) would flood each worker's output.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import contextlib

        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        import tensorflow as tf
        import keras
        if keras.backend.backend() != "tensorflow":
            raise RuntimeError(f"Keras runs on {keras.backend.backend()!r} here "
                               f"(KERAS_BACKEND): its layers must run on TensorFlow")
        try:  # few threads: the suite runs in parallel workers on few cores
            tf.config.threading.set_intra_op_parallelism_threads(1)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # TF already initialized in this process: keep its settings
            pass
        self.tf = tf
        namespace = {"tf": tf, "keras": keras, "contextlib": contextlib, "np": np}
        exec(NAMESPACE + LAYERS + LAYER_HELPERS + HELPERS, namespace)  # noqa: S102 - ours
        self._keras_layers = {}  # keras_source -> the built layer
        self._helpers = namespace
        self._ops = TemplateOps(TF_TEMPLATES, namespace)
        self._no_grad_depth = 0
        self._odd_custom_grads = False

    def describe(self):
        device = "GPU" if self.tf.config.list_physical_devices("GPU") else "CPU"
        return f"tensorflow {self.tf.__version__} (eager, {device})"

    # ----- tensors -----------------------------------------------------------------------
    def tensor(self, values, dtype, requires_grad):
        return self.tf.constant(np.asarray(values, dtype=dtype))

    def to_numpy(self, t):
        return np.asarray(self._helpers["dense"](t))

    def op(self, name, *args, **params):
        if self._no_grad_depth:
            with self._helpers["no_grad"]():
                return self._ops(name, *args, **params)
        return self._ops(name, *args, **params)

    def no_grad(self):
        """Ops under it run with every recording tape stopped (`op`); a depth, as a tape
        that is not recording cannot be stopped again."""
        adapter = self

        class NoGrad:
            def __enter__(self):
                adapter._no_grad_depth += 1

            def __exit__(self, *exc):
                adapter._no_grad_depth -= 1
        return NoGrad()

    def detach(self, t):
        return self.tf.stop_gradient(t)

    # ----- layers and custom functions ---------------------------------------------------
    # How Keras's layers take their weights from the program's torch-layout leaves.
    layer_layouts = KERAS_LAYOUTS

    def make_layer(self, layer, param_values, dtype):
        """The program's parameters are leaves in torch's layout, used as given (inside a
        vjp they are the tape's watched sources); the layer is Keras's own, built once per
        kind, shape and dtype (each call passes its weights)."""
        params = {name: v if isinstance(v, self.tf.Tensor) else self.tensor(v, dtype, True)
                  for name, v in param_values.items()}
        src = keras_source(layer, dtype)
        if src not in self._keras_layers:
            keras_layer = eval(src, self._helpers)  # noqa: S307 - our own source
            expected = [name for name, _ in self.layer_layouts[layer.kind].params
                        if layer.bias or name != "bias"]
            found = [v.name for v in keras_layer.trainable_variables]
            if found != expected:  # stateless_call takes the weights in this order
                raise RuntimeError(f"{src}: trainable_variables {found}, the layout "
                                   f"gives {expected}")
            self._keras_layers[src] = keras_layer
        leaves = {p: params.get(f"{layer.name}.{p}") for p in LAYER_PARAMS[layer.kind]}
        return (self._keras_layers[src], leaves), params

    def call_layer(self, module, layer, args):
        """The weights converted to the layer's layout with TF ops (recorded), then the
        Keras layer run on them (stateless_call)."""
        keras_layer, leaves = module
        weights = [t for _, t in convert(self.layer_layouts[layer.kind], leaves,
                                         layer.out_features, LAYOUT_OPS, self._helpers)]
        out = self._helpers[f"call_{layer.kind}"](keras_layer, weights, *args)
        return tuple(out) if layer.kind == "lstm_cell" else (out,)

    def custom_function(self, spec, run_forward, run_backward):
        """tf.custom_gradient: the forward returns the outputs and a grad_fn closing over the
        saved tensors; grad_fn gets one upstream gradient per output and returns one per
        input (None: no gradient). It cannot know which inputs are differentiated."""
        from gradspec.functions import saved_tensors
        if spec.grad_shape_error:  # `record` keeps such sums away from a source (a crash)
            self._odd_custom_grads = True

        @self.tf.custom_gradient
        def fn(*inputs):
            outputs = run_forward(inputs)
            saved = saved_tensors(spec, inputs, outputs)

            def grad_fn(*grads):
                return run_backward(grads, saved, (True,) * len(inputs))
            return outputs, grad_fn

        def call(*inputs):
            return tuple(fn(*inputs))
        return call

    # ----- autograd verbs ----------------------------------------------------------------
    def vjp(self, f, primals, cotangents):
        if any(c is None for c in cotangents) and not all(c is None for c in cotangents):
            raise UnsupportedProgram(
                "implicit and explicit gradient weights in one call: a None entry in "
                "tape.gradient's output_gradients aborts the process "
                "(findings/tensorflow/none-output-gradient.py)")
        return self._helpers["vjp"](f, list(primals), cotangents)

    def record(self, f, primals, persistent):
        """One tape over the forward (persistent where the plan retains the graph); each
        gradient call is `tape.gradient` (the `gradient` helper the scripts print too)."""
        self._odd_custom_grads = False  # set by custom_function while f runs
        tape, values = self._helpers["record"](f, list(primals), persistent)
        return TapeRecording(tape, primals, values, self._helpers["gradient"], persistent,
                             self._odd_custom_grads)

    def functional(self, kind, f, inputs, weight):
        h = self._helpers
        if kind == "vjp":
            return h["functional_vjp"](f, list(inputs), weight)
        return h[kind](f, list(inputs))

    def error_kind(self, exc):
        text = str(exc)
        for cls, needle, kind in TF_ERRORS:
            if isinstance(exc, cls) and needle in text:
                return kind
        return None

    def render_script(self, program):
        return render_script(program, self._ops)


# ----- the standalone TF script of a program (what a failure report prints) -----------------
SCRIPT_HEADER = '''import contextlib
import os

import numpy as np
import tensorflow as tf

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import keras  # noqa: E402


def show(label, x):
    """Print a recorded quantity: a tensor, None, or (nested) tuples of them."""
    print(label, "=", plain(x))


def plain(x):
    if isinstance(x, (tuple, list)):
        return [plain(v) for v in x]
    return None if x is None else np.asarray(tf.convert_to_tensor(x)).tolist()

'''


class TensorFlowSpelling(Spelling):
    engine = "tensorflow"
    header = SCRIPT_HEADER
    helpers = NAMESPACE + LAYERS + LAYER_HELPERS + HELPERS

    def layer_prelude(self, layer, dtype):
        """Keras's layer, built once: its weights come from the leaves at each call."""
        return [f"{py(layer.name)}_module = {keras_source(layer, dtype)}"]

    def layer(self, step, layer):
        """The Keras layer run on the torch-layout leaves converted to its weights."""
        outs = ", ".join(step.outs) + ("," if layer.kind == "lstm_cell" else "")
        args = ", ".join("None" if a is None else py(a) for a in step.args)
        return (f"{outs} = call_{layer.kind}({py(layer.name)}_module, "
                f"{layout_source(layer, py)}, {args})")

    def array(self, values, dtype):
        return f"tf.constant({literal(values)}, dtype=tf.{dtype})"

    def detach(self, src):
        return f"tf.stop_gradient({src})"

    def no_grad(self, out, code):
        return f"with no_grad():\n    {out} = {code}"

    def primals(self, names):
        return f"[{', '.join(names)}]"

    def function(self, spec, ops):
        """A tf.custom_gradient function computing `spec` as the adapter runs it."""
        k = len(spec.forward)
        ins = [f"x{i}" for i in range(spec.n_inputs)]
        lines = ["@tf.custom_gradient", f"def {spec.name}({', '.join(ins)}):"]
        for j, expr in enumerate(spec.forward):
            params = {"c": expr[2]} if expr[0] == "scale" else {}
            lines.append(f"    y{j} = {ops.source(expr[0], [ins[i] for i in expr[1]], params)}")
        saved = [ins[i] if kind == "input" else f"y{i}" for kind, i in spec.saved]
        lines += [f"    {''.join(f's{i}, ' for i in range(len(saved)))}= "
                  f"({''.join(x + ', ' for x in saved)})" if saved else "", "",
                  f"    def grad_fn({', '.join(f'g{j}' for j in range(k))}):"]
        lines += backward_rules(spec, ops, "        ",
                                lambda a, b: ops.source("add", [a, b], {}))
        lines.append(f"    return ({''.join(f'y{j}, ' for j in range(k))}), grad_fn")
        return "\n".join(lines) + "\n"

    recorded = True

    def record(self, f, names, persistent):
        return [f"tape, values = record(lambda {', '.join(names)}: {f}, "
                f"{self.primals(names)}, persistent={persistent})"]

    def gradient(self, targets, sources, cotangents, materialize):
        return f"gradient(tape, {targets}, {sources}, [{', '.join(cotangents)}], " \
               f"materialize={materialize})"

    def functional(self, action, f, names, dtype):
        ins = ", ".join(names)
        if action.kind == "vjp":
            w = "None" if action.weight is None else self.array(action.weight, dtype)
            return [f"show('returned', functional_vjp({f}, [{ins}], {w}))"]
        return [f"show('returned', {action.kind}({f}, [{ins}]))"]

    def error(self, name):
        return f"print('error:', type({name}).__name__, {first_line_source(name)})"


def render_script(program, ops):
    return render(program, ops, TensorFlowSpelling())
