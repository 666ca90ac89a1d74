"""The recorded graph: backward nodes, saved tensors and the gradient accumulators of leaves.

Why this shape: it mirrors torch's autograd graph (a node per recorded op, `next_edges` to the
nodes of its inputs, `AccumulateGrad` for leaves) so that the places where torch's *behaviour*
comes from its graph (freed saved tensors, version checks, hooks keyed by output number,
execution order) can be reproduced rather than approximated.
"""
import itertools
import math

from .errors import GraphFreedError, InferenceTensorError, InplaceModifiedError
from .grad_mode import is_recording
from .hooks import RemovableHandle
from .tensor import zeros

_sequence = itertools.count()

GRAPH_FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through "
    "the graph a second time or if you need to access saved tensors after calling backward."
)


class SavedTensor:
    """A tensor saved for backward, with the version it had when saved (torch's SavedVariable)."""

    __slots__ = ("tensor", "version", "node_name")

    def __init__(self, tensor, node_name):
        self.tensor = tensor
        self.version = tensor._version[0]
        self.node_name = node_name

    def unpack(self):
        t = self.tensor
        if t is None:
            raise GraphFreedError(GRAPH_FREED_MESSAGE)
        if t._version[0] != self.version:
            raise InplaceModifiedError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [{t.data.dtype}{list(t.shape)}], which is output 0 of "
                f"{self.node_name}, is at version {t._version[0]}; expected version "
                f"{self.version} instead."
            )
        return t


class Node:
    """One recorded operation: edges to its inputs' nodes, what it saved, and its vjp.

    `vjp(grads, needs_input_grad, *saved)` returns one gradient (or None) per input; `grads` is
    the single incoming gradient for a one-output node, else a tuple with one entry per output.
    """

    __slots__ = ("name", "next_edges", "saved", "vjp", "seq", "out_meta", "tensor_pre_hooks",
                 "retains_grad", "pre_hooks", "post_hooks", "materialize", "__weakref__")

    def __init__(self, name, next_edges, vjp, saved, out_meta, seq=None):
        self.name = name
        self.next_edges = next_edges
        self.vjp = vjp
        self.saved = saved
        self.out_meta = out_meta  # (shape, dtype) of each output, to materialize zero grads
        self.seq = next(_sequence) if seq is None else seq
        self.tensor_pre_hooks = None  # {output_nr: [hook(grad) -> grad | None]}
        self.retains_grad = None  # {output_nr: tensor}
        # Most nodes never get a hook: a shared empty tuple until the first one registers.
        self.pre_hooks = ()  # hook(grad_outputs) -> grad_outputs | None
        self.post_hooks = ()  # hook(grad_inputs, grad_outputs) -> grad_inputs | None
        self.materialize = True  # undefined output grads arrive as zeros (built-in ops)

    def __repr__(self):
        return f"<{self.name}>"

    @property
    def num_outputs(self):
        return len(self.out_meta)

    def needs_input_grad(self):
        return tuple(e is not None for e in self.next_edges)

    def apply(self, grads):
        saved = tuple(s.unpack() if s is not None else None for s in self.saved)
        if all(g is None for g in grads):
            return (None,) * len(self.next_edges)
        if self.materialize:
            grads = [zeros(shape, dtype) if g is None else g
                     for g, (shape, dtype) in zip(grads, self.out_meta)]
        arg = grads[0] if len(grads) == 1 else tuple(grads)
        return tuple(self.vjp(arg, self.needs_input_grad(), *saved))

    def release(self):
        """Free the saved tensors (backward without retain_graph); later use raises."""
        for s in self.saved:
            if s is not None:
                s.tensor = None

    def register_prehook(self, hook):
        if not isinstance(self.pre_hooks, list):
            self.pre_hooks = []
        self.pre_hooks.append(hook)
        return RemovableHandle(self.pre_hooks, hook)

    def register_hook(self, hook):
        if not isinstance(self.post_hooks, list):
            self.post_hooks = []
        self.post_hooks.append(hook)
        return RemovableHandle(self.post_hooks, hook)

    def add_tensor_pre_hook(self, output_nr, hook):
        if self.tensor_pre_hooks is None:
            self.tensor_pre_hooks = {}
        hooks = self.tensor_pre_hooks.setdefault(output_nr, [])
        hooks.append(hook)
        return RemovableHandle(hooks, hook)


class AccumulateGrad(Node):
    """The node of a leaf: runs the leaf's hooks, then accumulates into `leaf.grad`.

    Its sequence number is infinite, as in torch, so a ready accumulator runs before any
    other ready node.
    """

    __slots__ = ("variable",)

    def __init__(self, variable):
        super().__init__("AccumulateGrad", (), None, (), ((variable.shape, variable.dtype),),
                         seq=math.inf)
        self.variable = variable

    def apply(self, grads):
        (g,) = grads
        # A leaf whose requires_grad was switched off after it was used keeps its .grad.
        if g is not None and self.variable.requires_grad:
            self.variable._accumulate_grad(g)
        return ()


def gradient_edge(t):
    """Where a gradient for tensor `t` goes: `(node, input_nr)`, or None if it needs none."""
    if t.grad_fn is not None:
        return (t.grad_fn, t.output_nr)
    if t.requires_grad:
        return (grad_accumulator(t), 0)
    return None


def grad_accumulator(leaf):
    """The leaf's AccumulateGrad node, made on first use and kept (one per leaf, as torch)."""
    if leaf._acc is None:
        leaf._acc = AccumulateGrad(leaf)
    return leaf._acc


def check_saveable(tensors):
    """torch refuses to save an inference tensor for backward (outside inference mode, the
    only place where anything is recorded)."""
    if any(t is not None and t._inference for t in tensors):
        raise InferenceTensorError(
            "Inference tensors cannot be saved for backward. Please do not use Tensors created "
            "in inference mode in computation tracked by autograd.")


def record(name, outputs, inputs, vjp, save=()):
    """Attach a backward node to `outputs` if recording is on and any input requires grad.

    `save` lists the tensors the vjp needs (None for one not needed given which inputs require
    grad, as torch saves conditionally); they arrive as the vjp's trailing arguments.
    """
    # Run for every op: plain loops and list displays (generator expressions cost more here).
    for t in inputs:
        if t.requires_grad:
            break
    else:
        return
    if not is_recording():
        return
    if save:
        check_saveable(save)
    node = Node(name, tuple([gradient_edge(t) for t in inputs]), vjp,
                tuple([SavedTensor(s, name) if s is not None else None for s in save]),
                tuple([(o.data.shape, o.data.dtype) for o in outputs]))
    for i, out in enumerate(outputs):
        out.grad_fn = node
        out.output_nr = i
        out.requires_grad = True
    return node
