"""matmul (1-D, 2-D, batched with broadcasting) and linear."""
import numpy as np

from ._core import new, record
from .elementwise import add
from .shape import reshape, sum_to, transpose


def _as_matrix(t, is_left):
    """Promote a 1-D operand the way matmul does: (n,) -> (1, n) on the left, (n, 1) right."""
    if t.ndim != 1:
        return t
    return reshape(t, (1, t.shape[0]) if is_left else (t.shape[0], 1))


def matmul(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError("both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    out = new(np.matmul(a.data, b.data))

    def vjp(g, n, sa, sb):
        # Promote to matrices, multiply by the other's transpose, then sum the batch
        # broadcasting back and drop the promoted axes.
        g2 = reshape(g, _promoted_out_shape(a, b))
        ga = gb = None
        if n[0]:
            ga = matmul(g2, transpose(_as_matrix(sb, False), -1, -2))
            ga = reshape(sum_to(ga, _as_shape(a, True)), a.shape)
        if n[1]:
            gb = matmul(transpose(_as_matrix(sa, True), -1, -2), g2)
            gb = reshape(sum_to(gb, _as_shape(b, False)), b.shape)
        return ga, gb
    record("MmBackward0" if a.ndim == b.ndim == 2 else "MatmulBackward", (out,), (a, b), vjp,
           save=(a if b.requires_grad else None, b if a.requires_grad else None))
    return out


def _as_shape(t, is_left):
    if t.ndim != 1:
        return t.shape
    return (1, t.shape[0]) if is_left else (t.shape[0], 1)


def _promoted_out_shape(a, b):
    sa, sb = _as_shape(a, True), _as_shape(b, False)
    batch = np.broadcast_shapes(sa[:-2], sb[:-2])
    return tuple(batch) + (sa[-2], sb[-1])


def linear(x, weight, bias=None):
    """`x @ weight.T + bias`, composed as torch composes it (so it saves what matmul saves)."""
    y = matmul(x, transpose(weight, 0, 1)) if weight.ndim == 2 else matmul(x, weight)
    return y if bias is None else add(y, bias)
