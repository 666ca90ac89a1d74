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
from .layer_layout import convert
from .script_parts import backward_rules, py
from .templates import TemplateOps, first_line_source, literal
from .tensorflow_spelling import (HELPERS, KERAS_LAYOUTS, LAYER_HELPERS, LAYOUT_OPS, NAMESPACE,
                                  TF_TEMPLATES, keras_source, layout_source)

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
