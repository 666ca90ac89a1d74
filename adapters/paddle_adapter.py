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
from .layer_layout import convert
from .paddle_spelling import (HELPERS, INPLACE_TEMPLATES, LAYER_HELPERS, LAYOUT_OPS,
                              PADDLE_LAYOUTS, PADDLE_TEMPLATES, module_source, restricted)
from .templates import TemplateOps

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
        reason = restricted(name, args, params)
        if reason:
            raise UnsupportedProgram(reason)
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
