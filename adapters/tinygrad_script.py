"""tinygrad's spelling of the stateful repro script (adapters/stateful_script.py).

tinygrad has no requires_grad flag (every float tensor is differentiated, so every leaf's
`.grad` is shown), backwards one root (`t.backward(gradient)`), answers `autograd.grad` for
one output with `t.gradient(*inputs, gradient=)`, and writes `.grad` on intermediate tensors
(retain_grad needs no call). Layers are its `nn.Linear`/`nn.LSTMCell` (an RNNCell built from
its ops), called through the adapter's own `call_cell`.
"""
import inspect

from .script_parts import py
from .stateful_script import NotExpressed, Spelling, render as render_stateful
from .templates import literal
from .tinygrad_adapter import _RNNCell, _batch_norm, _embedding, call_cell

HEADER = '''import numpy as np
from tinygrad import Tensor, nn


def leaf(values, dtype):  # a 0-d Tensor(value) is a CONST that gets no gradient
    a = np.array(values, dtype=dtype)
    return Tensor(a.reshape(1)).reshape(()) if a.ndim == 0 else Tensor(a)


def show(label, t):
    if isinstance(t, (tuple, list)):
        print(label, "=", [None if x is None else x.numpy().tolist() for x in t])
    else:
        print(label, "=", None if t is None else t.numpy().tolist())

'''
MODULES = {"linear": "nn.Linear({i}, {o}, bias={b})", "lstm_cell": "nn.LSTMCell({i}, {o}, "
           "bias={b})", "rnn_cell": "_RNNCell(Tensor, {o})"}


class TinygradSpelling(Spelling):
    engine = "tinygrad"
    header = HEADER
    helpers = "\n\n".join(inspect.getsource(f)
                          for f in (_RNNCell, call_cell, _embedding, _batch_norm))

    def tensor(self, values, dtype, requires_grad=False):
        return f"leaf({literal(values)}, np.{dtype})"  # as the adapter makes it

    def tracked(self, program):
        return [leaf.name for leaf in program.all_leaves()]  # every float tensor

    def layer(self, layer, dtype):
        out = [f"{layer.name} = " + MODULES[layer.kind].format(
            i=layer.in_features, o=layer.out_features, b=layer.bias)]
        for p in layer.params:  # as tinygrad's load_state_dict replaces them
            out += [f"{py(p.name)} = {self.tensor(p.array('float64').tolist(), dtype)}",
                    f"{p.name} = {py(p.name)}"]
        return out

    def call_layer(self, step, layer):
        args = ", ".join("None" if a is None else py(a) for a in step.args)
        return f"{', '.join(step.outs)}, = call_cell({layer.name}, {layer.kind!r}, {args})"

    def retain_grad(self, target):
        return f"pass  # {target}.grad: tinygrad's backward writes it on every tensor"

    def backward(self, roots, weights, retain_graph, create_graph):
        if len(roots) != 1 or retain_graph is not None or create_graph:
            raise NotExpressed("tinygrad backwards one root, without retain_graph")
        return f"{roots[0]}.backward({weights[0]})"

    def grad(self, outputs, inputs, weights, options):
        if len(outputs) != 1 or options.get("retain_graph") is not None or \
                options.get("create_graph"):
            raise NotExpressed("tinygrad's gradient() takes one output")
        return f"tuple({outputs[0]}.gradient({', '.join(inputs)}, gradient={weights[0]}))"

    def zero_grad(self, names, set_to_none):
        value = "None" if set_to_none else "_t.grad.zeros_like()"
        return [f"for _t in [{', '.join(names)}]:",
                f"    _t.grad = None if _t.grad is None else {value}"]


SPELLING = TinygradSpelling()


def render(program, ops):
    return render_stateful(program, ops, None, SPELLING)
