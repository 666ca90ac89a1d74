"""What every op module shares: wrapping arrays, constants, scalars."""
import numpy as np

from .. import rounding
from ..graph import record  # noqa: F401  (re-exported for the op modules)
from ..tensor import Tensor


def new(data, like=None, terms=None):
    """Wrap a NumPy result as a fresh tensor (0-d results stay arrays, dtype kept).

    `terms`: for a reduction, the sum of its terms' sizes, what its rounding is relative to
    (reference/rounding.py; used only while rounding noise is on)."""
    arr = np.asarray(data)
    if like is not None and arr.dtype != like.dtype and arr.dtype.kind == "f":
        arr = arr.astype(like.dtype)
    if rounding.active():
        arr = rounding.perturb(arr, None if terms is None else terms())
    return Tensor(arr)


def const(arr, dtype):
    """A constant tensor (a mask, a scale) that takes part in vjps without requiring grad."""
    return Tensor(np.asarray(arr, dtype=dtype))


def index_tensor(arr):
    """Integer indices saved for backward: a tensor, so that freeing the graph frees them too."""
    return Tensor(np.asarray(arr, dtype=np.int64))


def norm_dims(dim, ndim):
    """`dim` (None, int or tuple) as a sorted tuple of non-negative axes."""
    if dim is None or ndim == 0:  # a 0-d tensor accepts dim 0 or -1 (or a tuple of them)
        return tuple(range(ndim))
    if isinstance(dim, int):
        dim = (dim,)
    return tuple(sorted(d % ndim for d in dim))
