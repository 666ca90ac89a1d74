"""Paddle's spelling of the stateful repro script (adapters/stateful_script.py).

Layers are Paddle's own modules (`paddle.nn.Linear`, `SimpleRNNCell`, `LSTMCell`), each call
on the program's torch-layout leaves converted to the module's layout with Paddle ops, as the
adapter runs them (adapters/layer_layout.py); custom Functions are `PyLayer`s.
"""
from .paddle_spelling import HELPERS, LAYER_HELPERS, layout_source, module_source
from .script_parts import py
from .stateful_script import NotExpressed, Spelling, render as render_stateful
from .templates import literal

HEADER = '''import contextlib

import numpy as np
import paddle
import paddle.nn.functional as F
from paddle.autograd import PyLayer


def show(label, t):
    """Print a recorded quantity: a tensor, None, or (nested) tuples of them."""
    print(label, "=", plain(t))


def plain(t):
    if isinstance(t, (tuple, list)):
        return [plain(x) for x in t]
    return None if t is None else t.numpy().tolist()

'''


class PaddleSpelling(Spelling):
    engine = "paddle"
    header = HEADER
    helpers = LAYER_HELPERS + HELPERS
    modes = {"no_grad": "paddle.no_grad()", "enable_grad": "paddle.enable_grad()",
             "set_grad_enabled(False)": "paddle.set_grad_enabled(False)",
             "set_grad_enabled(True)": "paddle.set_grad_enabled(True)"}
    function_base = "PyLayer"
    saved = "ctx.saved_tensor()"

    def function_notes(self, inputs):
        return [f"ctx.stops = [x.stop_gradient for x in ({', '.join(inputs)},)]"]

    def backward_wrapper(self, spec):
        """PyLayer's contract, as the adapter keeps it: None for an input that stops
        gradient (Paddle raises otherwise; torch drops that gradient unread)."""
        return ["@staticmethod", "def backward(ctx, *grads):",
                f"    result = {spec.name}._rules(ctx, *grads)",
                f"    return tuple(None if i < {spec.n_inputs} and ctx.stops[i] else g",
                "                 for i, g in enumerate(result))"]

    def tensor(self, values, dtype, requires_grad=False):
        return (f"paddle.to_tensor({literal(values)}, dtype='{dtype}', "
                f"stop_gradient={not requires_grad})")

    def layer(self, layer, dtype):
        """The parameters as leaves in torch's layout, and Paddle's module."""
        return [f"{py(p.name)} = {self.tensor(p.array('float64').tolist(), dtype, True)}"
                for p in layer.params] + [f"{py(layer.name)}_module = "
                                          f"{module_source(layer, dtype)}"]

    def call_layer(self, step, layer):
        """The module called on the leaves converted to its layout (at each call)."""
        args = ", ".join("None" if a is None else py(a) for a in step.args)
        outs = ", ".join(step.outs) + ("," if layer.kind == "lstm_cell" else "")
        return (f"{outs} = call_{layer.kind}({py(layer.name)}_module, "
                f"{layout_source(layer, py)}, {args})")

    def retain_grad(self, target):
        return f"{target}.retain_grads()"

    def register_hook(self, target, fn):
        return f"{target}.register_hook({fn})"

    def backward(self, roots, weights, retain_graph, create_graph):
        if create_graph:  # paddle.autograd.backward has no create_graph
            raise NotExpressed("paddle.autograd.backward has no create_graph")
        return (f"paddle.autograd.backward([{', '.join(roots)}], [{', '.join(weights)}], "
                f"retain_graph={bool(retain_graph)!r})")

    def grad(self, outputs, inputs, weights, options):
        kw = "".join(f", {k}={v!r}" for k, v in options.items())
        return f"paddle.grad([{', '.join(outputs)}], [{', '.join(inputs)}], " \
               f"[{', '.join(weights)}]{kw})"

    def requires_grad(self, expr):
        return f"not {expr}.stop_gradient"

    def zero_grad(self, names, set_to_none):
        # clear_gradient(set_to_zero): zeros, or (False) no gradient
        return [f"for _p in [{', '.join(names)}]:",
                f"    if _p.grad is not None: _p.clear_gradient({not set_to_none!r})"]


SPELLING = PaddleSpelling()


def render(program, ops, inplace):
    return render_stateful(program, ops, inplace, SPELLING)
