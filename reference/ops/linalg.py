"""matmul (1-D, 2-D, batched with broadcasting) and linear."""
import numpy as np

from ._core import new, record
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
    """`x @ weight.T + bias` as one node, like torch's addmm: it saves `x` only if the weight
    needs a gradient and the weight only if `x` does (so what a backward frees matches)."""
    out = new(np.matmul(x.data, weight.data.T) + (0 if bias is None else bias.data))
    inputs = (x, weight) if bias is None else (x, weight, bias)

    def vjp(g, n, sx, sw):
        out_f, in_f = weight.shape
        g2 = reshape(g, (-1, out_f))  # every batch dim flattened, as addmm sees them
        gx = reshape(matmul(g2, sw), x.shape) if n[0] else None
        gw = matmul(transpose(g2, 0, 1), reshape(sx, (-1, in_f))) if n[1] else None
        grads = (gx, gw)
        if bias is not None:
            grads += (reshape(sum_to(g2, (1, out_f)), (out_f,)) if n[2] else None,)
        return grads
    record("AddmmBackward0" if bias is not None else "MmBackward0", (out,), inputs, vjp,
           save=(x if weight.requires_grad else None, weight if x.requires_grad else None))
    return out
