"""Custom Functions with torch's API shape: `forward(ctx, *args)`, `backward(ctx, *grads)`.

What the engine must get right is routing: the incoming gradients (materialized as zeros or
passed as None), `needs_input_grad`, `None` returns, the count and shape checks, and saved
tensors freed after a backward without `retain_graph` (an error only if the backward reads them).
"""
from . import errors
from .grad_mode import is_recording, no_grad
from .graph import GRAPH_FREED_MESSAGE, Node, SavedTensor, check_saveable, gradient_edge
from .tensor import Tensor, zeros


class FunctionCtx:
    def __init__(self):
        self.needs_input_grad = ()
        self.materialize_grads = True
        self._to_save = ()
        self._saved = None
        self._freed = False  # set when the graph is freed: saved_tensors then raises
        self._non_differentiable = []

    def save_for_backward(self, *tensors):
        self._to_save = tensors

    @property
    def saved_tensors(self):
        """Raises once the graph was freed, even if nothing was saved (as torch does)."""
        if self._freed:
            raise errors.GraphFreedError(GRAPH_FREED_MESSAGE)
        if self._saved is None:
            return tuple(self._to_save)
        return tuple(s.unpack() if s is not None else None for s in self._saved)

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable.extend(tensors)

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)


class Function:
    """Subclass and define `forward` and `backward` as staticmethods; call `apply`."""

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("You must implement the forward function for custom Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement the backward function for custom Function.")

    @classmethod
    def apply(cls, *args):
        ctx = FunctionCtx()
        tensor_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        executable = is_recording() and any(ctx.needs_input_grad)
        with no_grad():
            result = cls.forward(ctx, *args)
        is_tuple = isinstance(result, tuple)
        raw = result if is_tuple else (result,)
        outputs = tuple(_fresh(o, args) for o in raw)
        name = f"{cls.__name__}Backward"
        ctx._saved = tuple(SavedTensor(t, name) if t is not None else None for t in ctx._to_save)
        if executable:
            check_saveable(ctx._to_save)
            node = _FunctionNode(name, cls, ctx, len(args), tensor_pos,
                                 tuple(gradient_edge(args[i]) for i in tensor_pos),
                                 tuple((o.shape, o.dtype) for o in outputs))
            non_diff = {id(t) for t in ctx._non_differentiable}
            for i, (out, original) in enumerate(zip(outputs, raw)):
                if id(original) in non_diff:
                    out.requires_grad = False
                else:
                    out.grad_fn, out.output_nr, out.requires_grad = node, i, True
        return outputs if is_tuple else outputs[0]


def _fresh(out, args):
    """An output that *is* an input is returned as a new alias (torch returns a view)."""
    if not isinstance(out, Tensor):
        raise TypeError("custom Function outputs must be tensors in the reference engine")
    if any(out is a for a in args):
        return Tensor(out.data, _version=out._version)
    return out


class _FunctionNode(Node):
    __slots__ = ("cls", "ctx", "n_args", "tensor_pos")

    def __init__(self, name, cls, ctx, n_args, tensor_pos, next_edges, out_meta):
        super().__init__(name, next_edges, None, ctx._saved, out_meta)
        self.cls, self.ctx, self.n_args, self.tensor_pos = cls, ctx, n_args, tensor_pos

    def release(self):
        super().release()
        self.ctx._freed = True

    def apply(self, grads):
        if self.ctx.materialize_grads:
            grads = [zeros(shape, dtype) if g is None else g
                     for g, (shape, dtype) in zip(grads, self.out_meta)]
        result = self.cls.backward(self.ctx, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        if len(result) != self.n_args:
            extra_none = len(result) > self.n_args and all(r is None for r in result[self.n_args:])
            if not extra_none:
                raise errors.CustomGradCountError(
                    f"function {self.name} returned an incorrect number of gradients "
                    f"(expected {self.n_args}, got {len(result)})")
            result = result[:self.n_args]
        for i, g in enumerate(result):
            if i not in self.tensor_pos and g is not None:
                raise errors.CustomGradCountError(
                    f"function {self.name} returned a gradient different than None at position "
                    f"{i + 1}, but the corresponding forward input was not a Variable")
        return tuple(result[i] for i in self.tensor_pos)


def once_differentiable(fn):
    """Run a backward with recording off (torch's decorator; double backward then fails)."""
    def wrapper(ctx, *args):
        with no_grad():
            return fn(ctx, *args)
    return wrapper
