"""MyGrad's spelling of the stateful repro script (adapters/stateful_script.py).

MyGrad backwards one root (`t.backward(grad)`), and writes `.grad` on every tensor of the
graph, so retain_grad needs no call; its layers are the adapter's own `_Layer` (torch's
formulas over MyGrad ops), printed with the helpers the templates use.
"""
import inspect

from .mygrad_adapter import ACTIVATIONS, LAYERS, _Layer, _axis, _logsumexp, _norm, _scan
from .script_parts import py
from .stateful_script import NotExpressed, Spelling, render as render_stateful
from .templates import literal

HEADER = f'''import numpy as np
import mygrad as mg
from mygrad.nnet.activations import {", ".join(sorted(ACTIVATIONS))}
from mygrad.nnet.layers import {", ".join(sorted(LAYERS))}
from mygrad.nnet.losses import softmax_crossentropy


def show(label, g):
    print(label, "=", None if g is None else np.asarray(g).tolist())

'''


class MyGradSpelling(Spelling):
    engine = "mygrad"
    header = HEADER
    helpers = "\n\n".join(inspect.getsource(f)
                          for f in (_axis, _logsumexp, _scan, _norm, _Layer))
    modes = {"no_grad": "mg.no_autodiff"}

    def tensor(self, values, dtype, requires_grad=False):
        return f"mg.tensor({literal(values)}, dtype=np.{dtype}, constant={not requires_grad})"

    def layer(self, layer, dtype):
        out = [f"{py(p.name)} = {self.tensor(p.array('float64').tolist(), dtype, True)}"
               for p in layer.params]
        params = ", ".join(f"{p.name.rsplit('.', 1)[1]!r}: {py(p.name)}" for p in layer.params)
        return out + [f"{layer.name} = _Layer(mg, {layer.kind!r}, {layer.out_features}, "
                      f"{{{params}}})"]

    def call_layer(self, step, layer):
        args = ", ".join("None" if a is None else py(a) for a in step.args)
        return f"{', '.join(step.outs)}, = {layer.name}({args})"

    def detach(self, src):
        return f"mg.tensor({src}, constant=True)"  # MyGrad's way to cut the graph (a copy)

    def retain_grad(self, target):
        return f"pass  # {target}.grad: MyGrad's backward writes it on every tensor"

    def backward(self, roots, weights, retain_graph, create_graph):
        if len(roots) != 1 or retain_graph is not None or create_graph:
            raise NotExpressed("mygrad backwards one root, without retain_graph")
        return f"{roots[0]}.backward({'' if weights[0] == 'None' else weights[0]})"


SPELLING = MyGradSpelling()


def render(program, ops):
    return render_stateful(program, ops, None, SPELLING)
