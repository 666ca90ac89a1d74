"""Linear, RNNCell and LSTMCell for the functional engines (JAX, HIPS autograd).

Neither engine has modules: it differentiates a cell like any other code, so the cells are
written once here with torch's formulas, over an array namespace `xp` (jax.numpy or
autograd.numpy) and its `sigmoid`. The source is executed into the adapter's op namespace
and printed in repro scripts, so a script runs exactly the code the adapter ran.

What `xp` must offer (NumPy's signatures): expand_dims, matmul, ndim, result_type, shape,
tanh, transpose, zeros; and the namespace a plain `sigmoid(x)`. Inside a vjp these see the
engine's traced values, so they must be the engine's own differentiable functions.
"""

LAYERS = '''
def linear(x, weight, bias=None):
    y = xp.matmul(x, xp.transpose(weight))
    return y if bias is None else y + bias


def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """torch.nn.RNNCell (tanh): h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)."""
    batched = xp.ndim(x) == 2
    x = x if batched else xp.expand_dims(x, 0)
    h = xp.zeros((xp.shape(x)[0], xp.shape(weight_hh)[1]), xp.result_type(x)) \\
        if h is None else (h if batched else xp.expand_dims(h, 0))
    out = xp.tanh(linear(h, weight_hh, bias_hh) + linear(x, weight_ih, bias_ih))
    return out if batched else out[0]


def lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """torch.nn.LSTMCell: gates i, f, g, o; c' = f*c + i*g, h' = o*tanh(c')."""
    batched = xp.ndim(x) == 2
    x = x if batched else xp.expand_dims(x, 0)
    n = xp.shape(weight_hh)[1]
    if h is None:
        h = c = xp.zeros((xp.shape(x)[0], n), xp.result_type(x))
    elif not batched:
        h, c = xp.expand_dims(h, 0), xp.expand_dims(c, 0)
    gates = linear(h, weight_hh, bias_hh) + linear(x, weight_ih, bias_ih)
    i, f, g, o = (gates[:, k * n:(k + 1) * n] for k in range(4))
    i, f, g, o = sigmoid(i), sigmoid(f), xp.tanh(g), sigmoid(o)
    c2 = f * c + i * g
    h2 = o * xp.tanh(c2)
    return (h2, c2) if batched else (h2[0], c2[0])
'''

LAYER_PARAMS = {
    "linear": ("weight", "bias"),
    "rnn_cell": ("weight_ih", "weight_hh", "bias_ih", "bias_hh"),
    "lstm_cell": ("weight_ih", "weight_hh", "bias_ih", "bias_hh"),
}
N_INPUTS = {"linear": 1, "rnn_cell": 2, "lstm_cell": 3}  # x; x, h; x, h, c


def layer_inputs(module, layer, args):
    """The cell function's positional arguments: its inputs, then its parameters (None for
    a missing bias)."""
    params = [module.get(f"{layer.name}.{n}") for n in LAYER_PARAMS[layer.kind]]
    return (*args[:N_INPUTS[layer.kind]], *params)


def layer_outputs(layer, out):
    """The call's outputs as a tuple (an LSTMCell returns (h, c))."""
    return tuple(out) if layer.kind == "lstm_cell" else (out,)
