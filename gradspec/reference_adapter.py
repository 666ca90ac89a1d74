"""The reference engine as an adapter: the oracle runs through the same interface as any
candidate, so nothing in the suite is special-cased for it.

Float32 programs run in float64 here on the same (float32-representable) inputs: the oracle
is then the exact answer the candidate's float32 arithmetic approximates.
"""
import numpy as np

import reference as R
from .capabilities import CAPABILITIES
from .vocabulary import INPLACE, SPECS

from .torch_like import TorchLikeAdapter

# The reference's implementation of each op, from the op records (a dict, so that a test can
# put a broken op in its place).
REFERENCE_OPS = {name: spec.reference for name, spec in SPECS.items() if name not in INPLACE}

LAYERS = {"linear": "Linear", "rnn_cell": "RNNCell", "lstm_cell": "LSTMCell"}


class ReferenceAdapter(TorchLikeAdapter):
    api = R
    name = "reference"
    capabilities = frozenset(CAPABILITIES)  # the oracle has every one
    ops = frozenset(SPECS)

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
        SPECS[name].reference(target, *args, **params)
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
