"""The reference engine as an adapter: the oracle runs through the same interface as any
candidate, so nothing in the suite is special-cased for it.

Float32 programs run in float64 here on the same (float32-representable) inputs: the oracle
is then the exact answer the candidate's float32 arithmetic approximates.
"""
import numpy as np

import reference as R
from gradspec.vocabulary import ALL_OPS, INPLACE, MULTI_OUTPUT, to_index
from reference import ops as O

from .torch_like import TorchLikeAdapter


def _linear(*args):
    return O.linear(*args)


REFERENCE_OPS = {
    **{name: getattr(O, name) for name in (
        "neg", "exp", "log", "tanh", "sigmoid", "relu", "sin", "cos", "sqrt", "abs",
        "reciprocal", "sign", "round", "add", "sub", "mul", "div", "maximum", "minimum",
        "matmul", "mse_loss")},
    "pow": lambda x, exponent: O.pow(x, exponent),
    "scale": lambda x, c: O.scale(x, c),
    "linear": _linear,
    "sum": O.sum, "mean": O.mean, "max": O.max, "logsumexp": O.logsumexp,
    "softmax": O.softmax, "log_softmax": O.log_softmax,
    "reshape": O.reshape, "transpose": O.transpose, "permute": O.permute, "expand": O.expand,
    "unsqueeze": O.unsqueeze, "squeeze": O.squeeze,
    "getitem": lambda x, index: O.getitem(x, to_index(index)),
    "index": lambda x, indices, dim: O.index(x, indices, dim),
    "cat": lambda *xs, dim: O.cat(xs, dim),
    "stack": lambda *xs, dim: O.stack(xs, dim),
    "where": lambda a, b, condition: O.where(np.array(condition, dtype=bool), a, b),
    "cross_entropy": lambda x, target: O.cross_entropy(x, np.array(target)),
    **{name: getattr(O, name) for name in MULTI_OUTPUT},
}
assert set(REFERENCE_OPS) == ALL_OPS | set(MULTI_OUTPUT), \
    set(ALL_OPS) ^ set(REFERENCE_OPS) ^ set(MULTI_OUTPUT)

LAYERS = {"linear": "Linear", "rnn_cell": "RNNCell", "lstm_cell": "LSTMCell"}


class ReferenceAdapter(TorchLikeAdapter):
    api = R
    name = "reference"
    capabilities = frozenset({
        "float64", "float32", "stateful_grad", "zero_grad", "nonscalar_backward", "multi_root",
        "retain_graph", "functional_grad", "retain_grad", "detach", "no_grad", "tensor_hooks",
        "module_hooks", "layers", "custom_function", "error_kinds", "create_graph",
        "grad_wrt_nonleaf", "needs_input_grad", "materialize_grads", "non_differentiable",
        "multi_output", "grad_modes", "inference_mode", "requires_grad_", "shares_storage",
        "post_accumulate_hooks", "hook_removal", "hook_self_removal",
        "materialize_unused_grads", "functional_api", "inplace", "backward_create_graph",
        "batched_grad",
    })
    ops = frozenset(REFERENCE_OPS) | frozenset(INPLACE)

    def describe(self):
        return "gradspec reference (NumPy, float64)"

    def tensor(self, values, dtype, requires_grad):
        return R.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)

    def to_numpy(self, t):
        return t.data

    def shares_storage(self, a, b):
        return np.shares_memory(a.data, b.data)

    def op(self, name, *args, **params):
        return REFERENCE_OPS[name](*args, **params)

    def inplace(self, name, target, *args, **params):
        if name == "setitem":
            target[to_index(params["index"])] = args[0] if args else params["value"]
        elif name == "clamp_":
            target.clamp_(min=params["min"], max=params["max"])
        elif name == "masked_fill_":
            target.masked_fill_(np.array(params["mask"], dtype=bool), params["value"])
        else:  # add_, mul_ (a tensor operand), relu_
            getattr(target, name)(*args)
        return target

    def make_layer(self, layer, param_values, dtype):
        module = getattr(R.nn, LAYERS[layer.kind])(layer.in_features, layer.out_features,
                                                   bias=layer.bias)
        params = {}
        for full, values in param_values.items():
            p = getattr(module, full.rsplit(".", 1)[1])
            p.data[...] = values
            params[full] = p
        return module, params

    def error_kind(self, exc):
        return getattr(exc, "kind", None) if isinstance(exc, R.errors.AutogradError) else None
