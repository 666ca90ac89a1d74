"""The adapter interface: everything the suite needs from an autograd engine, and nothing more.

A backend implements the methods below for its own tensors; the interpreter
(`gradspec/interpreter.py`) runs a program through them. What a backend cannot express it
leaves out of `capabilities`, and the suites that need it are skipped with the reason.
"""
import contextlib

from .capabilities import BY_NAME, CAPABILITIES, OF_OPS
from .errors import UnsupportedProgram  # noqa: F401  (re-exported for adapters)
from .vocabulary import names

# Capabilities an adapter may declare: CAPABILITIES (name -> meaning), one record each in
# gradspec/capabilities.py. A suite or strategy that needs one checks for it.

# Engines without `stateful_grad` are *functional* (JAX, HIPS autograd, TensorFlow): the
# interpreter (gradspec/interpreter.py, `_run_functional`) asks them for
# `vjp(f, primals, cotangents)` of the program as a pure function instead of calling
# backward/read_grad. The contract, action by action:
# - Backward(roots, weights): `primals` are the leaves (and layer parameters) that require
#   grad, in program order; `f(*primals)` rebuilds the whole forward from them and returns the
#   roots; the result is compared with what torch leaves in each leaf's `.grad`. A Backward
#   is its plan's only action: accumulation across actions needs `.grad` state (a plan with
#   a Backward and another action needs `stateful_grad`);
# - Grad(outputs, inputs, weights): the same with `primals` the action's inputs, which are
#   leaves only; its `allow_unused` and `materialize_grads` are not passed: a pure function's
#   gradient is an array, zeros where unused (the shared deviations in harness/deviations.py,
#   `functional_deviations`, state that difference);
# - each action is its own vjp of a fresh forward, so the plan has one action (config.py draws
#   no more): nothing recorded outlives a call;
# - a cotangent is None for an implicit gradient (torch's `backward()` of a scalar): the
#   engine's own implicit form, so that it raises its own error on a non-scalar root;
# - retain_graph, create_graph on Backward, hooks and `.grad` never reach a functional engine;
#   a gradient used as a value (GradStep, capability `create_graph`) is a vjp the adapter
#   nests inside `f` (its `grad` verb is not used), w.r.t. leaves only;
# - Functional actions (capability `functional_api`) call `functional(kind, f, inputs, weight)`.
# An engine with a tape (TensorFlow) may implement one more verb, `record(f, primals,
# persistent)`: the *recorded forward*. Where an adapter implements it, the interpreter runs
# the whole plan over ONE recorded forward instead of a vjp per action: `f(*primals)` returns
# every value of the program (leaves, intermediate values), computed once while recording;
# each Backward/Grad action asks the Recording for `gradient(targets, sources, weights,
# materialize)` with targets and sources among those recorded values. This is what the
# capabilities below mean on a functional engine, declared only by one that has `record`:
# - `retain_graph` (and with it plans of several Grad actions): `persistent` is True where an
#   action of the plan passes retain_graph=True, and a recording that is not persistent
#   answers one gradient call: the second raises the engine's error, normalized to
#   graph_freed (torch frees a graph after a call without retain_graph);
# - `grad_wrt_nonleaf`: a Grad's sources may be intermediate values (they were recorded);
# - `materialize_unused_grads`: `materialize` is a Grad's materialize_grads: zeros for a
#   source the targets do not reach; otherwise None there, as torch's allow_unused gives
#   (an engine whose gradients are always arrays may declare it without `record`: its zeros
#   are then right where they are asked for, and `functional_deviations` explain the rest).
# A Backward on a recording is still its plan's only action; Functional actions are answered
# by `functional` as above. GradSteps stay w.r.t. leaves (the prefix is rebuilt per call).
# Layers are shared with the other functional engines in adapters/functional_layers.py: its
# formulas are written over a namespace `xp` the adapter binds to its array module (jnp,
# autograd.numpy, tf.experimental.numpy...) plus `sigmoid`.

# Normalized error kinds: what `Adapter.error_kind` maps an engine's exceptions to.
ERROR_KINDS = {
    "nonscalar_implicit_grad": "implicit gradient for a non-scalar output",
    "grad_shape_mismatch": "a gradient weight whose shape differs from its root's",
    "graph_freed": "backward through a graph whose saved tensors were freed",
    "no_grad_fn": "backward of a tensor that does not require grad",
    "custom_grad_count": "a custom backward returning the wrong number of gradients",
    "custom_grad_shape": "a custom backward returning a gradient of the wrong shape",
    "unused_input": "grad() w.r.t. an input not used by the outputs, without allow_unused",
    "input_no_grad": "grad() w.r.t. an input that does not require grad",
    "hook_on_no_grad": "a hook registered on a tensor that does not require grad",
    "inplace_modified": "a saved tensor modified in place before backward",
    "leaf_inplace": "an in-place op on a leaf that requires grad (or on a view of one)",
    "inplace_overlap": "an in-place write into a tensor whose elements share memory (expand)",
    "inplace_shape": "an in-place op whose result would not have its target's shape",
    "module_hook": "a module hook returning the wrong number of gradients",
    "inference_tensor": "a recorded op saving a tensor made in inference mode",
}

REQUIRED_METHODS = ("tensor", "to_numpy", "op", "error_kind")
STATEFUL_METHODS = ("requires_grad", "backward", "read_grad")


class Recording:
    """A functional engine's recorded forward (`Adapter.record`): `values` are f's results,
    recorded; `gradient` may be asked once, or as often as the plan asks if persistent."""

    values = ()

    def gradient(self, targets, sources, weights, materialize):
        """The gradients of `targets` (weighted by `weights`, None an implicit gradient)
        w.r.t. each of `sources` (tensors among `values`): None for a source the targets do
        not reach, zeros there if `materialize`. A second call on a recording that is not
        persistent raises the engine's error."""
        raise NotImplementedError


class Adapter:
    """Base class. Subclasses set `name`, `capabilities`, and implement the methods they claim.

    Tensors are opaque to the suite: it only passes them back to the adapter, except through
    `to_numpy`. `ops` is the set of op names (see gradspec/vocabulary.py) the backend supports.
    """

    name = "unnamed"
    capabilities = frozenset()
    ops = frozenset()
    # The deviation files the backend is judged with by default (paths from the repository's
    # root, or absolute). None: deviations/<name>.py, or if there is none the nearest parent
    # adapter's (a subclass of torch's adapter keeps torch's); () states none.
    deviation_files = None

    def describe(self):
        """One line for the report header: engine, version, device."""
        return self.name

    # ----- tensors -----------------------------------------------------------------------
    def tensor(self, values, dtype, requires_grad):
        """A leaf from a NumPy array `values` in `dtype` ('float64' or 'float32')."""
        raise NotImplementedError

    def to_numpy(self, t):
        raise NotImplementedError

    def requires_grad(self, t):
        raise NotImplementedError

    def op(self, name, *args, **params):
        """Apply op `name` from the vocabulary; `params` are plain Python values."""
        raise NotImplementedError

    def inplace(self, name, target, *args, **params):
        """Apply in-place op `name` (vocabulary.INPLACE) to `target` and return it: the same
        tensor, modified, as the engine's own in-place op leaves it (capability `inplace`)."""
        raise NotImplementedError

    def no_grad(self):
        return contextlib.nullcontext()

    def grad_mode(self, mode):
        """The context manager of grad mode `mode` (program.GRAD_MODES): `no_grad` is
        `self.no_grad()`; the others need the capabilities program.MODE_CAPABILITY names."""
        if mode == "no_grad":
            return self.no_grad()
        raise NotImplementedError(f"{self.name} has no grad mode {mode!r}")

    def set_requires_grad(self, t, flag):
        """`t.requires_grad_(flag)` on a leaf."""
        raise NotImplementedError

    def shares_storage(self, a, b):
        """Do tensors `a` and `b` share memory?"""
        raise NotImplementedError

    def detach(self, t):
        raise NotImplementedError

    def retain_grad(self, t):
        raise NotImplementedError

    def register_hook(self, t, fn):
        """Call `fn(grad) -> grad | None` with the gradient w.r.t. `t` during backward;
        return a handle for `remove_hook`."""
        raise NotImplementedError

    def remove_hook(self, handle):
        raise NotImplementedError

    def register_post_accumulate_hook(self, t, fn):
        """Call `fn(t)` after each accumulation into leaf `t`'s `.grad`."""
        raise NotImplementedError

    def sgd_step(self, t, lr):
        """`t -= lr * t.grad` in place, under no_grad (an optimizer's step)."""
        raise NotImplementedError

    # ----- layers and custom functions ---------------------------------------------------
    # Where the engine's own Linear/RNNCell/LSTMCell lay out their parameters otherwise than
    # torch's: layer kind -> adapters.layer_layout.Layout, each module parameter as an
    # expression over the program's torch-layout leaves, converted with the engine's ops at
    # each call (tests/meta/test_layer_layouts.py checks them). None: torch's layout.
    layer_layouts = None

    def make_layer(self, layer, param_values, dtype):
        """Build the module for `layer` with these parameter arrays.

        Returns (module, {param leaf name: the module's parameter tensor}).
        """
        raise NotImplementedError

    def call_layer(self, module, layer, args):
        """Apply the module; returns a tuple of output tensors."""
        raise NotImplementedError

    def register_module_hook(self, module, fn):
        """Full backward hook: `fn(grad_input, grad_output) -> grad_input | None`."""
        raise NotImplementedError

    def custom_function(self, spec, run_forward, run_backward):
        """Return a callable `f(*tensors) -> tuple of outputs` wrapping the engine's custom
        Function mechanism; `run_forward`/`run_backward` compute the spec's values with
        `self.op` (see gradspec/functions.py)."""
        raise NotImplementedError

    # ----- autograd verbs ----------------------------------------------------------------
    def backward(self, roots, weights, retain_graph, create_graph):
        """Accumulate into `.grad`; `weights[i]` is a tensor or None (implicit)."""
        raise NotImplementedError

    def grad(self, outputs, inputs, weights, retain_graph, create_graph, allow_unused):
        """Return a tuple of gradients (None where unused and allowed). Keywords passed only
        when set: `materialize_grads=True` (materialize_unused_grads), `is_grads_batched=True`
        (batched_grad: each weight's first dimension is a batch, one vjp a row)."""
        raise NotImplementedError

    def read_grad(self, t):
        """`t.grad`, or None."""
        raise NotImplementedError

    def functional(self, kind, f, inputs, weight):
        """torch.autograd.functional's `kind` (program.FUNCTIONAL_KINDS) of `f` at `inputs`:
        vjp -> (f(*inputs), one vjp of `weight` per input); jacobian -> one per input;
        hessian -> a tuple of tuples, H[i][j]."""
        raise NotImplementedError

    def vjp(self, f, primals, cotangents):
        """Functional engines: the gradients of sum_i <cotangents[i], f(*primals)[i]> w.r.t.
        each primal; a None cotangent means an implicit gradient (a scalar output)."""
        raise NotImplementedError

    def vjp_batched(self, f, primals, cotangents):
        """Functional engines with `batched_grad`: `vjp` for each row of the cotangents (their
        first dimension) at once, the engine's vmap of its vjp; each gradient has that
        dimension first."""
        raise NotImplementedError

    def record(self, f, primals, persistent):
        """Functional engines with a tape (optional): run `f(*primals)` once, recording, and
        return a `Recording` of its results (every value of the program) that answers several
        gradient calls; `persistent`: it must answer more than one (see the functional
        contract above CAPABILITIES). An adapter that does not override it is asked a vjp per
        action."""
        raise NotImplementedError

    def zero_grad(self, tensors, set_to_none):
        raise NotImplementedError

    def error_kind(self, exc):
        """The normalized kind (a key of ERROR_KINDS) of `exc`, or None if it is not one."""
        return None

    # ----- compiling ---------------------------------------------------------------------
    def region(self, fn, steps):
        """The program's forward `steps` as one function, `fn(*tensors) -> tuple of tensors`
        (the leaves and layer parameters in, every value out), to run as this engine's
        compiler runs user code: torch.compile's, jax.jit's, TinyJit's compiled form (the
        steps are given to prepare what tracing them needs). An adapter that does not
        override it runs the steps one by one, uncompiled."""
        return fn

    # ----- reporting ---------------------------------------------------------------------
    def render_script(self, program):
        """A standalone script in the engine's own API reproducing `program`, or None."""
        return None


def check_adapter(adapter):
    """Fail early, with the names, when an adapter misses a method its capabilities need (or
    declares a capability of ops, `inplace` or `multi_output`, with none of those ops)."""
    cls = type(adapter)
    needs = set(REQUIRED_METHODS)
    caps = adapter.capabilities
    needs.update(STATEFUL_METHODS if "stateful_grad" in caps else ("vjp",))
    for cap in caps & set(BY_NAME):
        needs.update(BY_NAME[cap].needs("stateful_grad" in caps))
    if "stateful_grad" not in caps and caps & {"retain_graph", "grad_wrt_nonleaf"}:
        needs.add("record")  # a functional engine reaches them through a recorded forward
    def implemented(m):
        if m in vars(adapter):  # set per instance (e.g. an op table built in __init__)
            return True
        return getattr(cls, m, None) is not getattr(Adapter, m, None)
    missing = sorted(m for m in needs if m != "error_kind" and not implemented(m))
    unknown = sorted(set(caps) - set(CAPABILITIES))
    problems = []
    if missing:
        problems.append(f"missing methods: {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown capabilities: {', '.join(unknown)} "
                        f"(known: {', '.join(sorted(CAPABILITIES))})")
    if not adapter.ops:
        problems.append("`ops` is empty: declare the op names the backend supports")
    for cap, group in OF_OPS.items():
        its_ops = names(group)
        # Its suite would draw no step of it, and pass having checked nothing.
        if cap in caps and not set(its_ops) & set(adapter.ops):
            problems.append(f"capability {cap!r} without any of its ops in `ops` (declare "
                            f"some of {', '.join(its_ops)}, or drop the capability)")
    if problems:
        raise TypeError(f"adapter {cls.__module__}.{cls.__name__} ({adapter.name!r}) is "
                        f"incomplete: " + "; ".join(problems))
