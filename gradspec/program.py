"""Programs: plain, frozen data that Hypothesis builds and shrinks and any adapter can run.

A program is leaves (and layers whose parameters are leaves), SSA steps that produce named
values, and a backward *plan* of actions. It holds no backend objects, so the same program runs
on the reference and on the candidate, and prints as readable Python (`to_source`).
"""
import math
from dataclasses import dataclass, field, is_dataclass, replace
from typing import Optional

import numpy as np

from .program_source import program_source


def _freeze(params):
    return tuple(sorted(params.items()))


@dataclass(frozen=True)
class Leaf:
    """An input tensor. `values` are flat floats (already representable in the program dtype)."""
    name: str
    shape: tuple
    values: tuple
    requires_grad: bool = True

    def array(self, dtype):
        return np.array(self.values, dtype=dtype).reshape(self.shape)


@dataclass(frozen=True)
class Layer:
    """A parametric module (`linear`, `rnn_cell`, `lstm_cell`) whose parameters are leaves."""
    name: str
    kind: str
    in_features: int
    out_features: int
    bias: bool
    params: tuple  # Leaf objects named f"{name}.{param}"


GRAD_MODES = ("no_grad", "enable_grad", "set_grad_enabled(False)", "set_grad_enabled(True)",
              "inference_mode")


@dataclass(frozen=True)
class Op:
    """`out = op(*args, **params)`; under `no_grad` when `no_grad` is set, and inside the grad
    modes `modes` (GRAD_MODES, outermost first, e.g. ("no_grad", "enable_grad")) if any."""
    out: str
    op: str
    args: tuple
    params: tuple = ()  # sorted (key, value) pairs, hashable
    no_grad: bool = False
    modes: tuple = ()

    @property
    def contexts(self):
        """Every grad mode the op runs in, outermost first (`no_grad` is the first)."""
        return ("no_grad",) * self.no_grad + self.modes

    @property
    def kw(self):
        return dict(self.params)


@dataclass(frozen=True)
class MultiOp:
    """`outs = op(*args, **params)` for an op with several outputs (vocabulary.MULTI_OUTPUT):
    `max_dim`, `min_dim`, `sort`, `topk` give (values, indices); `split`, `chunk`, `unbind`
    give the pieces."""
    outs: tuple
    op: str
    args: tuple
    params: tuple = ()

    @property
    def kw(self):
        return dict(self.params)


@dataclass(frozen=True)
class InPlace:
    """`target.<op>(*args, **params)` in place (vocabulary.INPLACE), or `target[index] = v` for
    `setitem`: the name `target` then names the modified tensor. A write into a view reaches
    its base; a tensor saved for backward before the write makes that backward raise; a leaf
    that requires grad (or a view of one) raises at once."""
    target: str
    op: str
    args: tuple = ()
    params: tuple = ()

    @property
    def kw(self):
        return dict(self.params)


@dataclass(frozen=True)
class Call:
    """`outs = layer(*args)`; for lstm_cell args are (x, h, c), h and c possibly None."""
    outs: tuple
    layer: str
    args: tuple


@dataclass(frozen=True)
class Term:
    """One term of a custom backward: `grad_outputs[output] * factor`.

    factor: ('one',), ('const', c), ('saved', i) or ('cos_saved', i).
    """
    output: int
    factor: tuple


@dataclass(frozen=True)
class GradRule:
    """What a custom backward returns for one input: a sum of terms, or None if no terms.

    `check_needs`: return None unless `ctx.needs_input_grad[i]`.
    """
    terms: tuple
    check_needs: bool = False


@dataclass(frozen=True)
class FunctionSpec:
    """A custom autograd Function given as data.

    forward: one expression per output, (op, input indices[, const]) with op in
    FUNCTION_FORWARD_OPS (possibly non-differentiable, e.g. sign, round).
    saved: ('input', i) / ('output', j) entries passed to save_for_backward.
    backward: one GradRule per tensor input (a straight-through or scaled rule, or None).
    `extra_grads`/`grad_shape_error` make the backward return a wrong count/shape (errors suite).
    """
    name: str
    n_inputs: int
    forward: tuple
    saved: tuple
    backward: tuple
    materialize_grads: bool = True
    non_differentiable: tuple = ()
    extra_grads: int = 0
    grad_shape_error: bool = False


# The capability each grad mode needs (gradspec/adapter.py).
MODE_CAPABILITY = {"no_grad": "no_grad", "enable_grad": "grad_modes",
                   "set_grad_enabled(False)": "grad_modes", "set_grad_enabled(True)": "grad_modes",
                   "inference_mode": "inference_mode"}


FUNCTION_FORWARD_OPS = ("sign", "round", "sin", "exp", "tanh", "mul", "add", "scale")


@dataclass(frozen=True)
class CallFunction:
    outs: tuple
    function: str
    args: tuple


@dataclass(frozen=True)
class GradStep:
    """`outs = autograd.grad(outputs, inputs, weights, create_graph=True)`: gradients that are
    values later steps use (a grad of a grad, a Hessian-vector product, a gradient penalty
    added to a loss). A weight of None is implicit (a scalar output)."""
    outs: tuple
    outputs: tuple
    inputs: tuple
    weights: tuple


@dataclass(frozen=True)
class Detach:
    out: str
    src: str


@dataclass(frozen=True)
class RetainGrad:
    target: str


@dataclass(frozen=True)
class RequiresGrad:
    """`target.requires_grad_(flag)` on a leaf: later ops record (or no longer record) it, and
    a leaf switched off keeps its `.grad` even through ops recorded before."""
    target: str
    flag: bool = True


@dataclass(frozen=True)
class TensorHook:
    """A hook recording the gradient of `target`; it returns `grad * scale` if scale is set.
    With `once`, it removes itself through its handle when first called (from inside the
    hook, while the engine runs its hooks: `hook_self_removal`)."""
    target: str
    scale: Optional[float] = None
    once: bool = False


@dataclass(frozen=True)
class PostAccumulateHook:
    """`register_post_accumulate_grad_hook` on leaf `target`, the optimizer-in-backward
    pattern: the hook records `.grad`, then (with `lr`) steps the leaf in place under no_grad,
    `p -= lr * p.grad`, and (with `clear`) sets `p.grad = None`."""
    target: str
    lr: Optional[float] = None
    clear: bool = False


@dataclass(frozen=True)
class ModuleHook:
    """A full backward hook on a layer; returns grad_input scaled by `scale` if set."""
    layer: str
    scale: Optional[float] = None


# ----- the backward plan ----------------------------------------------------------------------
@dataclass(frozen=True)
class Backward:
    """`backward(roots, weights, retain_graph)`; a weight of None means implicit (scalar root)."""
    roots: tuple
    weights: tuple
    retain_graph: Optional[bool] = None
    create_graph: bool = False


@dataclass(frozen=True)
class Grad:
    """`autograd.grad(outputs, inputs, weights, retain_graph, allow_unused)`: .grad untouched.
    `materialize_grads`: zeros, not None, for an input the outputs do not use. `batched`: each
    weight has a leading batch dimension, one vjp a row at once (`is_grads_batched=True`,
    torch.func.vmap of the vjp: per-sample gradients), each gradient then with that dimension
    first; it must equal the loop of one vjp a row."""
    outputs: tuple
    inputs: tuple
    weights: tuple
    retain_graph: Optional[bool] = None
    allow_unused: bool = False
    create_graph: bool = False
    materialize_grads: bool = False
    batched: bool = False


FUNCTIONAL_KINDS = ("vjp", "jacobian", "hessian")


@dataclass(frozen=True)
class Functional:
    """`torch.autograd.functional.<kind>(f, inputs[, weight])`, f the program's forward (hooks
    left out) as a function of the leaves `inputs`, returning value `output`: `vjp` gives
    (f's value, the vjp per input), `jacobian` one per input (output shape + input shape),
    `hessian` (of a 0-d output) one per pair of inputs. Nothing is accumulated."""
    kind: str
    output: str
    inputs: tuple
    weight: object = None

    def function_of(self, program):
        """The program whose forward is f: its hooks left out (they would fire inside)."""
        hooks = (TensorHook, ModuleHook, PostAccumulateHook)
        return replace(program, steps=tuple(s for s in program.steps
                                            if not isinstance(s, hooks)), plan=())


@dataclass(frozen=True)
class BackwardThroughGrad:
    """`backward(roots=[leaf.grad ...], weights)` over those `leaves` whose `.grad` requires grad
    (after a `Backward(create_graph=True)`): differentiates through `.grad`, accumulating the
    second-order term into `.grad` itself."""
    leaves: tuple
    weights: tuple
    retain_graph: Optional[bool] = None


@dataclass(frozen=True)
class RemoveHooks:
    """The tensor hooks registered on `target` removed through their handles, between two
    backward calls: a later backward through a retained graph no longer calls them."""
    target: str


@dataclass(frozen=True)
class ZeroGrad:
    set_to_none: bool = True


@dataclass(frozen=True)
class Program:
    dtype: str
    leaves: tuple
    steps: tuple
    plan: tuple
    layers: tuple = ()
    functions: tuple = ()
    meta: tuple = field(default=(), compare=False)  # free notes (e.g. the drawing strategy)

    def all_leaves(self):
        """Leaves in creation order: plain leaves, then layer parameters."""
        return self.leaves + tuple(p for layer in self.layers for p in layer.params)

    def layer(self, name):
        return next(layer for layer in self.layers if layer.name == name)

    def function(self, name):
        return next(f for f in self.functions if f.name == name)

    def requirements(self):
        """(op names, capabilities) a backend needs to run this program."""
        ops = {s.op for s in self.steps if isinstance(s, (Op, MultiOp, InPlace))}
        caps = {self.dtype}
        kinds = {Call: "layers", CallFunction: "custom_function", Detach: "detach",
                 RetainGrad: "retain_grad", TensorHook: "tensor_hooks", ModuleHook: "module_hooks",
                 MultiOp: "multi_output", InPlace: "inplace"}
        caps.update(cap for step in self.steps for cls, cap in kinds.items()
                    if isinstance(step, cls))
        modes = {m for s in self.steps if isinstance(s, Op) for m in s.contexts}
        caps.update(MODE_CAPABILITY[m] for m in modes)
        caps.update("requires_grad_" for s in self.steps if isinstance(s, RequiresGrad))
        caps.update("post_accumulate_hooks" for s in self.steps
                    if isinstance(s, PostAccumulateHook))
        caps.update("hook_self_removal" for s in self.steps
                    if isinstance(s, TensorHook) and s.once)
        caps.update("hook_removal" for a in self.plan if isinstance(a, RemoveHooks))
        for spec in self.functions:
            ops.update(expr[0] for expr in spec.forward)
        caps.update("functional_grad" for a in self.plan if isinstance(a, Grad))
        caps.update("materialize_unused_grads" for a in self.plan
                    if isinstance(a, Grad) and a.materialize_grads)
        caps.update("batched_grad" for a in self.plan if isinstance(a, Grad) and a.batched)
        caps.update("functional_api" for a in self.plan if isinstance(a, Functional))
        leaves = {leaf.name for leaf in self.all_leaves()}
        for s in self.steps:
            if isinstance(s, GradStep):
                caps.add("create_graph")
                caps.update("grad_wrt_nonleaf" for i in s.inputs if i not in leaves)
        caps.update("backward_create_graph" if isinstance(a, Backward) else "create_graph"
                    for a in self.plan if getattr(a, "create_graph", False))
        if any(isinstance(a, BackwardThroughGrad) for a in self.plan):
            caps.update(("backward_create_graph", "stateful_grad"))
        caps.update("zero_grad" for a in self.plan if isinstance(a, ZeroGrad))
        return ops, caps

    def to_source(self):
        """Valid Python that rebuilds this program (`Program.from_source`)."""
        return program_source(self)

    @staticmethod
    def from_source(text):
        """The program that `text` (what `to_source` printed: a failure report's or a saved
        counterexample's `Program(...)`) rebuilds. It is evaluated with the program classes,
        `slice`, `inf` and `nan` in scope and no builtins: a replay imports nothing by hand,
        and a value printed as inf or nan reads back."""
        names = {name: obj for name, obj in globals().items()
                 if isinstance(obj, type) and is_dataclass(obj)}
        names.update({"__builtins__": {}, "slice": slice, "inf": math.inf, "nan": math.nan})
        try:
            program = eval(text.strip(), names)  # noqa: S307 - program source, no builtins
        except (SyntaxError, NameError, TypeError) as exc:
            raise ValueError(f"not a program's source ({type(exc).__name__}: {exc}):\n"
                             f"{text.strip()[:500]}") from None
        if not isinstance(program, Program):
            raise ValueError(f"the source rebuilds a {type(program).__name__}, not a Program")
        return program

    def __repr__(self):
        return self.to_source()  # what Hypothesis prints for a falsifying example

    __str__ = __repr__
