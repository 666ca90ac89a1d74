"""PaddlePaddle (dygraph, CPU) through its public API: a torch-shaped engine.

How each verb is spelled in Paddle 3.3 (read from paddle/autograd/backward_mode.py,
paddle/base/dygraph/base.py, paddle/autograd/py_layer.py, tensor_patch_methods.py):
- requires_grad is `not stop_gradient`; `retain_grads()`, `register_hook` (a handle with
  `remove()`), `detach()`, `requires_grad_()`, `clear_gradient(set_to_zero)`;
- backward of several roots: `paddle.autograd.backward(tensors, grad_tensors, retain_graph)`;
  `paddle.grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused)`;
- custom Functions: `paddle.autograd.PyLayer` (save_for_backward / saved_tensor(),
  set_materialize_grads, mark_non_differentiable);
- layers: Paddle's own `nn.Linear`, `nn.SimpleRNNCell` (tanh) and `nn.LSTMCell`, run on
  parameters converted from the program's torch-layout leaves by Paddle ops at each call
  (`layer_layouts`, adapters/layer_layout.py): Linear keeps its weight as [in, out], so it
  gets the leaf's transpose; the RNN cells keep torch's layout (weight_ih [gates*H, in],
  weight_hh, bias_ih and bias_hh, the LSTM's gates i, f, g, o), so they get the leaves
  themselves. Paddle has no stateless call: the converted tensors are bound into the layer's
  `_parameters` for the call (`call_with`). Its Layers have forward pre/post hooks only, no
  backward hook: no module hooks.

The ops are code templates (adapters/templates.py) over `paddle`, `F` (paddle.nn.functional)
and the helpers in HELPERS, so `render_script` prints exactly the code that ran.
"""
import contextlib
import warnings

import numpy as np

from gradspec.adapter import Adapter, UnsupportedProgram
from .functional_layers import LAYER_PARAMS
from .layer_layout import Ops, Param, convert, layout, source
from .templates import Statement, TemplateOps, literal, target_literal

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
    **{name: f"F.{name}({{0}})" for name in ("silu", "softsign", "mish")},
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
    # paddle.clip takes one-element tensor bounds only
    "clamp_tensor": "paddle.minimum(paddle.maximum({0}, {1}), {2})",
    "cumsum": "paddle.cumsum({0}, axis={dim})",
    "floor_divide": "paddle.floor_divide({0}, {1})",
    # reductions
    "min": "paddle.min({0}, axis={dim}, keepdim={keepdim})",
    "amax": "paddle.amax({0}, axis={dim}, keepdim={keepdim})",
    "amin": "paddle.amin({0}, axis={dim}, keepdim={keepdim})",
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
}
# Left out: fmod (Paddle has no C-style truncated modulo: paddle.mod / floor_mod are
# remainder's floored one). Left out until their differences are stated in
# deviations/paddle/ (each measured on Paddle 3.3.1, CPU, float64):
# - selu, hardsigmoid: float `attrs` (32 bits): selu's scale/alpha and hardsigmoid's slope
#   (default 0.1666667, and 1/6 passed is rounded too) are float32's, off by ~3e-8 relative;
# - avg_pool2d: its gradient's 1 / window size is float32's (0.1666666716 for 6);
# - lerp: the tensor weight gets no gradient (None) though it requires grad;
# - prod: the gradient is NaN where the input holds a zero (out / x);
# - norm: paddle.linalg.vector_norm of a 0-d tensor with axis=0 is 0 (and no gradient);
# - var/std: a 0-d input's gradient is None (torch: zero);
# - argmax: keepdim=True on a 0-d input gives shape [1] (torch: 0-d);
# - cumprod: a 0-d input raises (cumsum takes it);
# - layer_norm: normalized_shape spanning every dim raises (begin_norm_axis must be > 0);
# - batch_norm: with a weight and no bias, the weight gets no gradient (None).
# Their templates, for when they return:
#   "lerp": _lerp, "prod": _prod, "var": _spread("var"), "std": _spread("std"),
#   "norm": _norm, "cumprod": "paddle.cumprod({0}, dim={dim})",
#   "argmax": "paddle.argmax({0}, axis={dim}, keepdim={keepdim}).astype({0}.dtype)",
#   "selu": "F.selu({0})", "hardsigmoid": "F.hardsigmoid({0})",
#   "avg_pool2d": _avg_pool2d, "layer_norm": _layer_norm, "batch_norm": _batch_norm,


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
PADDLE_ERRORS = (
    (SystemError, "TensorWrappers of", "graph_freed"),
    # Paddle says this of an input the outputs do not use, and of one that stops gradient
    # (deviations/paddle.py: paddle-input-no-grad-is-unused).
    (ValueError, "input does not appear in the backward graph", "unused_input"),
    (RuntimeError, "Cannot register hook on a tensor that stop gradient", "hook_on_no_grad"),
    (ValueError, "The number of outputs of `PyLayer.backward` should be", "custom_grad_count"),
    (RuntimeError, "has been modified by an inplace operation", "inplace_modified"),
    (ValueError, "that doesn't stop gradient can't use inplace strategy", "leaf_inplace"),
    (ValueError, "in the Inplace operation", "inplace_shape"),
)


class PaddleAdapter(Adapter):
    name = "paddle"
    # Missing, and why (Paddle 3.3's public API):
    # - inference_mode: Paddle has no inference mode (no_grad / set_grad_enabled only);
    # - needs_input_grad: PyLayerContext has no needs_input_grad;
    # - post_accumulate_hooks: only the private Tensor._register_backward_hook;
    # - materialize_unused_grads: paddle.grad has no materialize_grads;
    # - module_hooks: Paddle's Layers have forward pre/post hooks only, no backward hook;
    # - functional_api: paddle.autograd.jacobian/hessian take computed tensors, not a
    #   function; the function forms are in paddle.incubate.autograd (experimental);
    # - hook_self_removal: removing a hook from inside the hook segfaults the process
    #   (findings/paddle/hook-removes-itself-segfault.py); removal through the handle
    #   between backward calls works (hook_removal is declared);
    # - grad_wrt_nonleaf is declared: paddle.grad takes any tensor of the graph.
    # - backward_create_graph: paddle.autograd.backward and Tensor.backward have no
    #   create_graph parameter (TypeError); paddle.grad(create_graph=True) works (create_graph).
    capabilities = frozenset({
        "float64", "float32", "stateful_grad", "zero_grad", "nonscalar_backward", "multi_root",
        "retain_graph", "functional_grad", "retain_grad", "detach", "no_grad", "tensor_hooks",
        "layers", "custom_function", "error_kinds", "create_graph", "grad_wrt_nonleaf",
        "materialize_grads", "non_differentiable", "multi_output", "grad_modes",
        "requires_grad_", "shares_storage", "hook_removal",
    })
    # - inplace: not declared. Paddle's in-place/view model differs from torch's in too many
    #   ways to state narrowly: reshape/unsqueeze results are not always views of their
    #   source (an in-place op on one leaves the source unchanged), an in-place op on a view
    #   does not rebase its base's history (the base's gradient misses it), and detach()
    #   shares storage but not the version counter (no inplace_modified error).
    ops = frozenset(PADDLE_TEMPLATES) | frozenset(INPLACE_TEMPLATES)

    def __init__(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "No ccache found", from its C++ extension utils
            import paddle
            import paddle.nn.functional as F
        self.paddle = paddle
        paddle.set_device("cpu")
        namespace = {"paddle": paddle, "F": F, "contextlib": contextlib}
        exec(LAYER_HELPERS + HELPERS, namespace)  # noqa: S102 - our own helper source
        self._namespace = namespace
        self.templates = TemplateOps(PADDLE_TEMPLATES, namespace)
        self.inplace_ops = TemplateOps(INPLACE_TEMPLATES, namespace)
        self._modules = {}  # module source -> the module (one per kind, shape and dtype)
        # PyLayer crash guards (_guarded): the last context made, nodes run by the current backward,
        # and nodes freed by an earlier one (by address).
        self._last_ctx, self._ran, self._freed, self._reject = None, [], {}, None
        self._none_nodes = {}  # PyLayer nodes whose backward returned None for a grad input

    def describe(self):
        return f"paddle {self.paddle.__version__} on cpu"

    # ----- tensors -----------------------------------------------------------------------
    def tensor(self, values, dtype, requires_grad):
        return self.paddle.to_tensor(np.asarray(values, dtype=dtype), dtype=dtype,
                                     stop_gradient=not requires_grad)

    def to_numpy(self, t):
        return t.numpy()

    def requires_grad(self, t):
        return not t.stop_gradient

    def op(self, name, *args, **params):
        return _mark_later_outputs(self.templates(name, *args, **params))

    def inplace(self, name, target, *args, **params):
        return self.inplace_ops(name, target, *args, **params)

    def no_grad(self):
        return self.paddle.no_grad()

    def grad_mode(self, mode):
        paddle = self.paddle
        return {"no_grad": paddle.no_grad, "enable_grad": paddle.enable_grad,
                "set_grad_enabled(False)": lambda: paddle.set_grad_enabled(False),
                "set_grad_enabled(True)": lambda: paddle.set_grad_enabled(True)}[mode]()

    def set_requires_grad(self, t, flag):
        t.requires_grad_(flag)

    def shares_storage(self, a, b):
        """Do `a` and `b` overlap in memory? (The bytes each one's elements occupy, from its
        data pointer and strides: two pieces of one buffer on disjoint elements do not.)"""
        return not _bytes(a).isdisjoint(_bytes(b))

    def detach(self, t):
        return t.detach()

    def retain_grad(self, t):
        t.retain_grads()

    def register_hook(self, t, fn):
        return t.register_hook(fn)

    def remove_hook(self, handle):
        handle.remove()

    # ----- layers and custom functions ---------------------------------------------------
    # How Paddle's modules take their parameters from the program's torch-layout leaves.
    layer_layouts = PADDLE_LAYOUTS

    def make_layer(self, layer, param_values, dtype):
        """The program's parameters are leaves in torch's layout; the module is Paddle's own
        (shared by the layers of one kind, shape and dtype: each call binds its parameters)."""
        params = {name: self.tensor(v, dtype, True) for name, v in param_values.items()}
        src = module_source(layer, dtype)
        if src not in self._modules:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._modules[src] = eval(src, self._namespace)  # noqa: S307 - our source
        leaves = {p: params.get(f"{layer.name}.{p}") for p in LAYER_PARAMS[layer.kind]}
        return (self._modules[src], leaves), params

    def call_layer(self, module, layer, args):
        """The parameters converted to the module's layout with Paddle ops (recorded), then
        the module called on them."""
        module, leaves = module
        params = dict(convert(self.layer_layouts[layer.kind], leaves, layer.out_features,
                              LAYOUT_OPS, self._namespace))
        out = self._namespace[f"call_{layer.kind}"](module, params, *args)
        return tuple(out) if layer.kind == "lstm_cell" else (out,)

    def custom_function(self, spec, run_forward, run_backward):
        from gradspec.functions import saved_tensors
        n, adapter = spec.n_inputs, self

        def forward(ctx, *inputs):
            adapter._last_ctx = ctx
            # a non-leaf input that requires grad: Paddle crashes on a None gradient for it
            ctx.gradspec_nonleaf = [not x.stop_gradient and not x.is_leaf for x in inputs]
            ctx.gradspec_stops = [x.stop_gradient for x in inputs]
            ctx.gradspec_shapes = [list(x.shape) for x in inputs]
            outputs = run_forward(inputs)
            ctx.save_for_backward(*saved_tensors(spec, inputs, outputs))
            if not spec.materialize_grads:
                ctx.set_materialize_grads(False)
            if spec.non_differentiable:
                ctx.mark_non_differentiable(*(outputs[j] for j in spec.non_differentiable))
            return outputs

        def backward(ctx, *grads):
            adapter._ran.append(ctx.gradspec_node)
            saved = tuple(ctx.saved_tensor()) if spec.saved else ()
            # no needs_input_grad in Paddle (the capability is not declared: never read)
            result = run_backward(grads, saved, (True,) * n)
            # PyLayer's contract: None for an input that stops gradient (Paddle raises
            # otherwise); torch drops that gradient unread, so this is only its spelling.
            result = tuple(None if i < n and ctx.gradspec_stops[i] else g
                           for i, g in enumerate(result))
            if any(g is None and not stops for g, stops in zip(result, ctx.gradspec_stops)):
                # a later backward through this node segfaults (same finding): remembered
                adapter._none_nodes[ctx.gradspec_node.node_ptr()] = ctx.gradspec_node
            if any(g is None and nonleaf for g, nonleaf in zip(result, ctx.gradspec_nonleaf)):
                # Paddle turns an exception raised here into OSError: the flag says why.
                adapter._reject = ("a PyLayer backward returning None for a non-leaf input "
                                   "segfaults Paddle (findings/paddle/"
                                   "pylayer-none-grad-segfault.py)")
                raise RuntimeError(adapter._reject)
            if any(g is not None and nonleaf and list(g.shape) != shape for g, nonleaf, shape
                   in zip(result, ctx.gradspec_nonleaf, ctx.gradspec_shapes)):
                # unchecked, the wrong shape reaches the input's grad node: heap corruption
                adapter._reject = ("a PyLayer gradient shaped unlike its non-leaf input "
                                   "corrupts Paddle's memory (findings/paddle/"
                                   "pylayer-grad-shape-unchecked.py)")
                raise RuntimeError(adapter._reject)
            return result

        cls = type(spec.name, (self.paddle.autograd.PyLayer,),
                   {"forward": staticmethod(forward), "backward": staticmethod(backward)})

        def apply(*inputs):
            out = cls.apply(*inputs)
            out = tuple(out) if isinstance(out, (tuple, list)) else (out,)
            node = next((o.grad_fn for o in out if o.grad_fn is not None), None)
            if node is not None:  # no node when no input requires grad
                self._last_ctx.gradspec_node = node
            return _mark_later_outputs(out)
        return apply

    # ----- autograd verbs ----------------------------------------------------------------
    def backward(self, roots, weights, retain_graph, create_graph):
        # retain_graph must be a bool in Paddle (torch's None means create_graph, which
        # Paddle's backward does not have: backward_create_graph is not declared).
        if create_graph:
            raise UnsupportedProgram("paddle.autograd.backward has no create_graph")
        _check_weight_shapes(roots, weights)
        if _reaches_dead_view_double_grad(roots):
            raise UnsupportedProgram(
                "a backward through the gradient of an unsqueeze, squeeze or transpose taken "
                "with create_graph=True, when nothing past it needs a gradient, segfaults "
                "Paddle (findings/paddle/view-double-grad-segfault.py)")
        self._guarded(roots, bool(retain_graph), lambda: self.paddle.autograd.backward(
            roots, list(weights), retain_graph=bool(retain_graph)))

    def grad(self, outputs, inputs, weights, retain_graph, create_graph, allow_unused):
        retains = create_graph if retain_graph is None else retain_graph
        _check_weight_shapes(outputs, weights)
        if any(getattr(o, "gradspec_later_output", False) and any(o is x for x in inputs)
               for o in outputs):
            raise UnsupportedProgram(
                "paddle.grad w.r.t. a later output of a multi-output op that is also one of "
                "its outputs segfaults Paddle "
                "(findings/paddle/grad-wrt-later-output-of-multi-output-op.py)")
        return tuple(self._guarded(outputs, retains, lambda: self.paddle.grad(
            outputs, inputs, list(weights), retain_graph=retain_graph,
            create_graph=create_graph, allow_unused=allow_unused)))

    def _guarded(self, roots, retains, call):
        """Run a backward, keeping away the PyLayer patterns that crash Paddle instead of
        raising: a backward reaching a PyLayer node an earlier backward ran (freed or not)
        (findings/paddle/pylayer-backward-twice-segfault.py), and a None gradient from a
        PyLayer backward for a non-leaf input (see custom_function)."""
        if self._freed and self._reaches(roots, self._freed):
            raise UnsupportedProgram(
                "a second backward through a PyLayer node segfaults Paddle (even after "
                "retain_graph=True) "
                "(findings/paddle/pylayer-backward-twice-segfault.py)")
        if self._none_nodes and self._reaches(roots, self._none_nodes):
            raise UnsupportedProgram(
                "a second backward through a PyLayer whose backward returned None for an input "
                "segfaults Paddle (findings/paddle/pylayer-none-grad-segfault.py)")
        self._ran, self._reject = [], None
        try:
            return call()
        except Exception:
            if self._reject:
                raise UnsupportedProgram(self._reject) from None
            raise
        finally:
            # Even with retain_graph=True a second backward through a PyLayer node segfaults.
            # Keeping the node objects keeps their addresses from being reused.
            self._freed.update((n.node_ptr(), n) for n in self._ran)

    @staticmethod
    def _reaches(roots, nodes):
        seen, todo = set(), [r.grad_fn for r in roots if r.grad_fn is not None]
        while todo:
            node = todo.pop()
            ptr = node.node_ptr()
            if ptr in nodes:
                return True
            if ptr not in seen:
                seen.add(ptr)
                todo.extend(f for f in node.next_functions if f is not None)
        return False

    def read_grad(self, t):
        return t.grad

    def zero_grad(self, tensors, set_to_none):
        """`clear_gradient(set_to_zero)`, what Paddle's optimizers' clear_grad calls."""
        for p in tensors:
            if p.grad is not None:
                # positional, as Optimizer.clear_grad passes it: the keyword is ignored
                # (clear_gradient(set_to_zero=False) zeroes the gradient)
                p.clear_gradient(not set_to_none)

    def error_kind(self, exc):
        text = str(exc)
        for cls, needle, kind in PADDLE_ERRORS:
            if isinstance(exc, cls) and needle in text:
                return kind
        return None

    def render_script(self, program):
        from .paddle_script import render
        return render(program, self.templates, self.inplace_ops)


# The double-grad nodes whose backward segfaults Paddle when no node past them needs a
# gradient (findings/paddle/view-double-grad-segfault.py): what paddle.grad(create_graph=True)
# records for the gradient of paddle.unsqueeze, paddle.squeeze and paddle.transpose
# (paddle.swapaxes too). Reshape's, expand's and a slice's run.
VIEW_DOUBLE_GRAD_NODES = frozenset({"UnsqueezeDoubleGradNode", "SqueezeDoubleGradNode",
                                    "TransposeDoubleGradNode"})


def _reaches_dead_view_double_grad(roots):
    """Does a backward from `roots` reach one of VIEW_DOUBLE_GRAD_NODES from which no path
    leads to an accumulation node (a leaf's)? Its gradient goes nowhere (the weight of the
    create_graph grad stops gradient, and so does everything between): Paddle crashes there
    (or in the next node: a slice's)."""
    alive = {}

    def live(node):  # does a path from `node` reach a leaf's accumulation node?
        ptr = node.node_ptr()
        if ptr not in alive:
            alive[ptr] = False  # the graph is acyclic: only a guard
            alive[ptr] = node.name() == "GradNodeAccumulation" or any(
                live(f) for f in node.next_functions if f is not None)
        return alive[ptr]

    seen, todo = set(), [r.grad_fn for r in roots if r.grad_fn is not None]
    while todo:
        node = todo.pop()
        ptr = node.node_ptr()
        if ptr in seen:
            continue
        if node.name() in VIEW_DOUBLE_GRAD_NODES and not live(node):
            return True
        seen.add(ptr)
        todo.extend(f for f in node.next_functions if f is not None)
    return False


def _mark_later_outputs(out):
    """Mark the outputs after the first of a multi-output op (split, unbind, a PyLayer's):
    paddle.grad w.r.t. one of them that is also an output segfaults (`grad`)."""
    if isinstance(out, (tuple, list)):
        for t in out[1:]:
            if hasattr(t, "stop_gradient"):
                t.gradspec_later_output = True
    return out


def _check_weight_shapes(roots, weights):
    """Paddle does not check a grad tensor's shape against its root's: the wrong shape flows
    on, and through some nodes (sum) corrupts the heap (abort, hang). Such a program is
    rejected before Paddle runs it (findings/paddle/grad-weight-shape-unchecked.py)."""
    for r, w in zip(roots, weights):
        if w is not None and list(w.shape) != list(r.shape):
            raise UnsupportedProgram(
                "a gradient weight shaped unlike its root corrupts Paddle's memory "
                "(findings/paddle/grad-weight-shape-unchecked.py)")


def _bytes(t):
    """The byte addresses `t`'s elements occupy (the suite's tensors have a few dozen)."""
    if t.size == 0:
        return set()
    starts = {t.data_ptr()}
    size = t.element_size()
    for n, stride in zip(t.shape, t.get_strides()):
        starts = {s + i * stride * size for s in starts for i in range(n)}
    return {s + k for s in starts for k in range(size)}
