"""The reference Tensor: a NumPy array plus the autograd state torch keeps beside it.

Low in the layers (tests/reference/test_import_layers.py): this module knows no op, no graph
node and no engine. The operators and the methods that compute (`+`, `.sum()`,
`.clone()`, `.backward()`, ...) forward to `ops` or the engine and are bound onto `Tensor` by
reference/_methods.py once those exist; all differentiation lives in `ops` (forward and vjp
side by side).
"""
import numpy as np

from . import errors
from .grad_mode import is_grad_enabled, is_inference_mode_enabled, no_grad
from .hooks import RemovableHandle

float32 = np.dtype("float32")
float64 = np.dtype("float64")
_default_dtype = float64


class Tensor:
    __slots__ = ("data", "requires_grad", "grad_fn", "output_nr", "_grad", "_retains_grad",
                 "_hooks", "_post_acc_hooks", "_acc", "_version", "_base", "_view_chain",
                 "_views", "_inference", "__weakref__")

    def __init__(self, data, requires_grad=False, _version=None):
        self.data = data
        self.requires_grad = requires_grad
        self.grad_fn = None
        self.output_nr = 0
        self._grad = None
        self._retains_grad = False
        self._hooks = None  # leaf hooks, run by the leaf's AccumulateGrad
        self._post_acc_hooks = None
        self._acc = None  # the leaf's AccumulateGrad node (graph.grad_accumulator)
        # One-element list shared by a tensor and its views/detached aliases: torch's version
        # counter, bumped by in-place ops and compared by saved tensors at backward time.
        self._version = _version if _version is not None else [0]
        # A view (reference/ops/shape.py `_view`): its root base, and the view ops that replay
        # it from there; a base keeps weak references to its views.
        self._base = None
        self._view_chain = ()
        self._views = None
        self._inference = is_inference_mode_enabled()  # made in inference mode

    # ----- metadata -----------------------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    def dim(self):
        return self.data.ndim

    def size(self, dim=None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self):
        return self.data.size

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def retains_grad(self):
        return self._retains_grad

    def is_inference(self):
        return self._inference

    def numpy(self):
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        return self.data

    def item(self):
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __repr__(self):
        extra = f", grad_fn=<{self.grad_fn.name}>" if self.grad_fn else (
            ", requires_grad=True" if self.requires_grad else "")
        return f"tensor({np.array2string(self.data, separator=', ')}{extra})"

    def __len__(self):
        return len(self.data)

    # ----- .grad --------------------------------------------------------------------------
    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None and value.shape != self.shape:
            raise RuntimeError("assigned grad has data of a different size")
        self._grad = value

    def _accumulate_grad(self, g):
        """torch's AccumulateGrad: set, or add to, `.grad`; recorded only under create_graph."""
        if self._grad is None:
            if is_grad_enabled():  # create_graph: a recorded copy, so .grad has a history
                self._grad = g.clone()
            else:
                self._grad = Tensor(np.array(g.data, dtype=self.dtype, copy=True))
        elif is_grad_enabled():
            self._grad = self._grad + g
        else:
            self._grad.data += g.data  # in place, like torch: aliases of .grad see it
            self._grad._version[0] += 1
        for hook in list(self._post_acc_hooks or ()):
            hook(self)

    def retain_grad(self):
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.is_leaf or self._retains_grad:
            return
        self._retains_grad = True
        node = self.grad_fn
        if node.retains_grad is None:
            node.retains_grad = {}
        node.retains_grad[self.output_nr] = self

    def _retain_hook(self, g):
        if g is None:
            return
        if self._grad is None:
            if is_grad_enabled():
                self._grad = g.clone()
            else:
                self._grad = Tensor(np.array(g.data, copy=True))
        elif is_grad_enabled():
            self._grad = self._grad + g
        else:
            self._grad = Tensor(self._grad.data + g.data)

    # ----- hooks --------------------------------------------------------------------------
    def register_hook(self, hook):
        """A hook gets the gradient w.r.t. this tensor and may return a replacement."""
        if not self.requires_grad:
            raise errors.HookOnNoGradError(
                "cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            return self.grad_fn.add_tensor_pre_hook(self.output_nr, hook)
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return RemovableHandle(self._hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        if not self.is_leaf:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if self._post_acc_hooks is None:
            self._post_acc_hooks = []
        self._post_acc_hooks.append(hook)
        return RemovableHandle(self._post_acc_hooks, hook)

    # ----- graph surgery ------------------------------------------------------------------
    def detach(self):
        """A new leaf sharing this tensor's data and version counter (an inference tensor's
        detached alias is one too)."""
        out = Tensor(self.data, requires_grad=False, _version=self._version)
        out._inference = out._inference or self._inference
        return out

    def detach_(self):
        self.grad_fn = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad=True):
        if not self.is_leaf:
            if not requires_grad:
                raise errors.NonLeafRequiresGradError(
                    "you can only change requires_grad flags of leaf variables. If you want to use "
                    "a computed variable in a subgraph that doesn't require differentiation use "
                    "var_no_grad = var.detach().")
            return self
        self.requires_grad = bool(requires_grad)
        return self


def tensor(data, dtype=None, requires_grad=False):
    """Like `torch.tensor`: copies `data`; float64 unless told otherwise (the oracle's default)."""
    if isinstance(data, Tensor):
        data = data.data
    dt = np.dtype(dtype) if dtype is not None else (
        _default_dtype if not isinstance(data, np.ndarray) or data.dtype.kind != "f" else data.dtype)
    return Tensor(np.array(data, dtype=dt, copy=True), requires_grad=requires_grad)


def as_tensor_data(data, dtype):
    return Tensor(np.asarray(data, dtype=dtype))


def zeros(shape, dtype=None, requires_grad=False):
    return Tensor(np.zeros(shape, dtype=dtype or _default_dtype), requires_grad=requires_grad)


def ones(shape, dtype=None, requires_grad=False):
    return Tensor(np.ones(shape, dtype=dtype or _default_dtype), requires_grad=requires_grad)


def zeros_like(t):
    return Tensor(np.zeros(t.shape, dtype=t.dtype))


def ones_like(t):
    return Tensor(np.ones(t.shape, dtype=t.dtype))


__all__ = ["Tensor", "tensor", "zeros", "ones", "zeros_like", "ones_like", "float32", "float64",
           "no_grad"]
