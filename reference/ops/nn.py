"""Neural-network ops: convolutions, pooling and normalization, each vjp in the reference's
own ops.

Each op is one node that saves what torch's node saves (ConvolutionBackward0 its input and
weight, the pools their input, the norms their input and affine params), so an in-place
write, a freed graph or an inference tensor raises where torch's does. Convolution and
pooling read their input through windows: `windows` gives each output position's window as
flat positions in the padded input, so a window's elements are one integer-array `index`
(im2col) and a gradient goes back through that index's own vjp (overlaps add). The vjps are
built from index, matmul, reshape, sum and `pad_zeros` (whose vjp is a slice), all
differentiable again: second derivatives come free.
"""
import math

import numpy as np

from ._core import const, index_tensor, new, record
from .elementwise import add_scalar, mul, pow, sub
from .linalg import matmul
from .multi import scatter_zeros
from .reduction import mean as _mean, sum as _sum
from .shape import (expand, getitem, index, index_add_zeros, permute, reshape, squeeze,
                    sum_to, transpose, unsqueeze)

__all__ = ["pad_zeros", "conv1d", "conv2d", "max_pool2d", "avg_pool2d", "layer_norm", "batch_norm"]


def _tuple(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


# ----- windows: where each output position reads -------------------------------------------
def windows(size, kernel, stride, padding, dilation):
    """(out_size, idx): idx[l, k] is the flat position, in the input of spatial `size` padded
    by `padding` on both sides, of kernel offset k (row-major) of output position l
    (row-major). torch's floor rule for the output size (ceil_mode=False)."""
    padded = [s + 2 * p for s, p in zip(size, padding)]
    out = tuple((n - d * (k - 1) - 1) // s + 1
                for n, k, s, d in zip(padded, kernel, stride, dilation))
    nd = len(size)
    flat_strides = [math.prod(padded[i + 1:]) for i in range(nd)]
    idx = np.zeros(out + tuple(kernel), dtype=np.int64)
    for i in range(nd):
        pos = (np.arange(out[i])[:, None] * stride[i] + np.arange(kernel[i])[None, :] * dilation[i])
        shape = [1] * (2 * nd)
        shape[i], shape[nd + i] = out[i], kernel[i]
        idx += pos.reshape(shape) * flat_strides[i]
    return out, idx.reshape(math.prod(out), math.prod(kernel))


def window_values(arr, kernel, stride, padding, dilation=None, fill=0.0):
    """NumPy: `arr` (..., *spatial) read through its windows, (..., L, K), padding = `fill`
    (the draw rules check ties with it)."""
    nd = len(kernel)
    dilation = dilation or (1,) * nd
    _, idx = windows(arr.shape[-nd:], kernel, stride, padding, dilation)
    lead = arr.shape[:-nd]
    padded = np.pad(arr, [(0, 0)] * len(lead) + [(p, p) for p in padding],
                    constant_values=fill)
    return np.take(padded.reshape(lead + (-1,)), idx, axis=-1)


def pad_zeros(x, pads):
    """Zeros around `x`'s trailing dims, `pads` = ((before, after), ...) for each of them in
    order. Its vjp is the slice of the interior, whose own vjp pads again."""
    lead = x.ndim - len(pads)
    inner = (slice(None),) * lead + tuple(slice(lo, lo + s)
                                          for (lo, _), s in zip(pads, x.shape[lead:]))
    out = new(np.pad(x.data, [(0, 0)] * lead + [tuple(p) for p in pads]), x)
    record("ConstantPadNdBackward0", (out,), (x,), lambda g, n: (getitem(g, inner),))
    return out


def _unfold(x, idx, padding):
    """`x` (N, C, *spatial) read through its windows: (N, C, L, K), in reference ops."""
    nd = len(padding)
    xp = pad_zeros(x, tuple((p, p) for p in padding)) if any(padding) else x
    return index(reshape(xp, xp.shape[:-nd] + (-1,)), idx, x.ndim - nd)


def _fold(cols, shape, idx, padding):
    """`_unfold`'s adjoint: each window's (N, C, L, K) values added back into `shape`."""
    nd = len(padding)
    padded = shape[:-nd] + tuple(s + 2 * p for s, p in zip(shape[-nd:], padding))
    out = index_add_zeros(cols, shape[:-nd] + (math.prod(padded[-nd:]),), idx, len(shape) - nd)
    out = reshape(out, padded)
    if not any(padding):
        return out
    return getitem(out, (slice(None),) * (len(shape) - nd)
                   + tuple(slice(p, p + s) for p, s in zip(padding, shape[-nd:])))


# ----- convolution ---------------------------------------------------------------------------
def _conv_data(x, w, b, idx, padding, groups):
    """NumPy convolution of batched `x` by windows: (N, C_out, L)."""
    n, c = x.shape[:2]
    g, co, k = groups, w.shape[0], idx.shape[1]
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    cols = np.take(xp.reshape(n, c, -1), idx, axis=2)  # (N, C, L, K)
    cols = cols.reshape(n, g, c // g, -1, k).transpose(0, 1, 3, 2, 4).reshape(n, g, -1, c // g * k)
    y = np.matmul(cols, np.swapaxes(w.reshape(g, co // g, -1), -1, -2))  # (N, G, L, Co/G)
    y = y.transpose(0, 1, 3, 2).reshape(n, co, -1)
    return y if b is None else y + b[:, None]


def _conv(x, weight, bias, stride, padding, dilation, groups, nd):
    """torch's convolution of batched (N, C, *spatial) or unbatched (C, *spatial) `x`; an
    unbatched input is unsqueezed and the result squeezed, views both, as torch does."""
    if x.ndim == nd + 1:
        return squeeze(_conv(unsqueeze(x, 0), weight, bias, stride, padding, dilation, groups,
                             nd), 0)
    stride, padding, dilation = (_tuple(v, nd) for v in (stride, padding, dilation))
    kernel = weight.shape[2:]
    out_size, idx = windows(x.shape[2:], kernel, stride, padding, dilation)
    n, c, co, g = x.shape[0], x.shape[1], weight.shape[0], groups
    cg, og, k, L = c // g, co // g, idx.shape[1], idx.shape[0]
    b = None if bias is None else bias.data
    out = new(_conv_data(x.data, weight.data, b, idx, padding, g).reshape((n, co) + out_size),
              x, terms=lambda: _conv_data(np.abs(x.data), np.abs(weight.data),
                                          None if b is None else np.abs(b), idx, padding, g
                                          ).reshape((n, co) + out_size))
    inputs = (x, weight) if bias is None else (x, weight, bias)

    def vjp(gr, need, sx, sw):
        g4 = permute(reshape(gr, (n, g, og, L)), (0, 1, 3, 2))  # (N, G, L, Co/G)
        gx = gw = None
        if need[0]:
            gcols = matmul(g4, reshape(sw, (g, og, cg * k)))  # (N, G, L, C/G * K)
            gcols = reshape(permute(reshape(gcols, (n, g, L, cg, k)), (0, 1, 3, 2, 4)),
                            (n, c, L, k))
            gx = _fold(gcols, x.shape, idx, padding)
        if need[1]:
            cols = reshape(permute(reshape(_unfold(sx, idx, padding), (n, g, cg, L, k)),
                                   (0, 1, 3, 2, 4)), (n, g, L, cg * k))
            gw = reshape(_sum(matmul(transpose(g4, -1, -2), cols), dim=0), weight.shape)
        grads = (gx, gw)
        if bias is not None:
            grads += (_sum(gr, dim=(0,) + tuple(range(2, gr.ndim))) if need[2] else None,)
        return grads
    record("ConvolutionBackward0", (out,), inputs, vjp, save=(x, weight))
    return out


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """`torch.nn.functional.conv1d`: x (N, C_in, L) or (C_in, L), weight (C_out, C_in/groups,
    k)."""
    return _conv(x, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """`torch.nn.functional.conv2d`: x (N, C_in, H, W) or (C_in, H, W), weight (C_out,
    C_in/groups, kh, kw)."""
    return _conv(x, weight, bias, stride, padding, dilation, groups, 2)


# ----- pooling ---------------------------------------------------------------------------
def _pool_geometry(kernel_size, stride, padding):
    kernel = _tuple(kernel_size, 2)
    stride = kernel if stride is None or stride == () else _tuple(stride, 2)  # torch's default
    return kernel, stride, _tuple(padding, 2)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """`torch.nn.functional.max_pool2d` on (N, C, H, W) or (C, H, W): each window's max, its
    gradient to the first max in the window (row-major), as torch's kernel picks it (ties:
    tests/reference/test_nn_conventions.py). Padding never wins: it reads as -inf."""
    kernel, stride, padding = _pool_geometry(kernel_size, stride, padding)
    out_size, idx = windows(x.shape[-2:], kernel, stride, padding, (1, 1))
    lead, (h, w) = x.shape[:-2], x.shape[-2:]
    first = np.argmax(window_values(x.data, kernel, stride, padding, fill=-np.inf), axis=-1)
    pos = idx[np.arange(idx.shape[0]), first]  # in the padded input, lead + (L,)
    wp = w + 2 * padding[1]
    flat = (pos // wp - padding[0]) * w + pos % wp - padding[1]
    out = new(np.take_along_axis(x.data.reshape(lead + (h * w,)), flat, -1)
              .reshape(lead + out_size), x)

    def vjp(g, need, sx, si):
        gl = reshape(g, lead + (idx.shape[0],))
        return (reshape(scatter_zeros(gl, lead + (h * w,), si.data, len(lead)), x.shape),)
    record("MaxPool2DWithIndicesBackward0", (out,), (x,), vjp, save=(x, index_tensor(flat)))
    return out


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    """`torch.nn.functional.avg_pool2d` on (N, C, H, W) or (C, H, W): each window's sum over
    the kernel's area, or over its elements inside the input (`count_include_pad=False`)."""
    kernel, stride, padding = _pool_geometry(kernel_size, stride, padding)
    out_size, idx = windows(x.shape[-2:], kernel, stride, padding, (1, 1))
    lead, n_windows, k = x.shape[:-2], idx.shape[0], idx.shape[1]
    if count_include_pad:  # (ceil_mode=False: every window lies inside the padded input)
        divisor = np.full(n_windows, float(k))
    else:
        divisor = window_values(np.ones(x.shape[-2:]), kernel, stride, padding).sum(-1)
    out = new((window_values(x.data, kernel, stride, padding).sum(-1) / divisor)
              .reshape(lead + out_size), x,
              terms=lambda: (window_values(np.abs(x.data), kernel, stride, padding).sum(-1)
                             / divisor).reshape(lead + out_size))

    def vjp(g, need, sx):
        gl = mul(reshape(g, lead + (n_windows, 1)), const((1.0 / divisor)[:, None], g.dtype))
        return (_fold(expand(gl, lead + (n_windows, k)), x.shape, idx, padding),)
    record("AvgPool2DBackward0", (out,), (x,), vjp, save=(x,))
    return out


# ----- normalization ---------------------------------------------------------------------
# eps is torch's default, 1e-5, in both norms. It is part of the function (both engines add it
# to the variance), not a margin: the draw rules keep each group's spread above 0.1 (variance
# above 1e-2), so 1/sqrt(var + eps) stays below 10 and float32 rounds it as well as any value.
def _stats_data(x, dims, eps):
    mu = x.mean(axis=dims, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=dims, keepdims=True)
    return mu, 1.0 / np.sqrt(var + eps)


def _normalized(x, dims, eps):
    """(x - mean) / sqrt(var + eps) over `dims`, and that 1 / sqrt(var + eps), in reference
    ops: the vjps recompute the statistics from the saved input, so their dependence on it
    is recorded (torch saves them as values; only the second derivative would tell)."""
    xc = sub(x, _mean(x, dims, keepdim=True))
    rstd = pow(add_scalar(_mean(mul(xc, xc), dims, keepdim=True), eps), -0.5)
    return mul(xc, rstd), rstd


def _normalized_grad(gy, xhat, rstd, dims):
    """The input gradient of normalization, through the mean and variance too."""
    return mul(rstd, sub(sub(gy, _mean(gy, dims, keepdim=True)),
                         mul(xhat, _mean(mul(gy, xhat), dims, keepdim=True))))


def _norm_data(x, w, b, dims, eps):
    mu, rstd = _stats_data(x, dims, eps)
    y = (x - mu) * rstd
    y = y if w is None else y * w
    return y if b is None else y + b


def _norm_terms(x, w, b, dims, eps):
    """What the output's rounding is relative to: x - mean cancels, so |x| + |mean|."""
    mu, rstd = _stats_data(x, dims, eps)
    return ((np.abs(x) + np.abs(mu)) * rstd * (1 if w is None else np.abs(w))
            + (0 if b is None else np.abs(b)))


def layer_norm(x, weight=None, bias=None, normalized_shape=None, eps=1e-5):
    """`torch.nn.functional.layer_norm(x, normalized_shape, weight, bias, eps)`: each group
    of x's trailing `normalized_shape` dims normalized, then scaled and shifted."""
    dims = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    w = None if weight is None else weight.data
    b = None if bias is None else bias.data

    out = new(_norm_data(x.data, w, b, dims, eps), x,
              terms=lambda: _norm_terms(x.data, w, b, dims, eps))
    inputs = (x,) + tuple(t for t in (weight, bias) if t is not None)

    def vjp(g, need, sx, sw, sb):
        xhat, rstd = _normalized(sx, dims, eps)
        grads = [_normalized_grad(g if sw is None else mul(g, sw), xhat, rstd, dims)
                 if need[0] else None]
        if weight is not None:
            grads.append(sum_to(mul(g, xhat), weight.shape) if need[1] else None)
        if bias is not None:
            grads.append(sum_to(g, bias.shape) if need[-1] else None)
        return tuple(grads)
    record("NativeLayerNormBackward0", (out,), inputs, vjp, save=(x, weight, bias))
    return out


def batch_norm(x, weight=None, bias=None, eps=1e-5):
    """`torch.nn.functional.batch_norm(x, None, None, weight, bias, training=True, eps=eps)`:
    x (N, C, ...) normalized per channel over the batch and spatial dims (biased variance),
    then scaled and shifted per channel."""
    dims = (0,) + tuple(range(2, x.ndim))
    cshape = (x.shape[1],) + (1,) * (x.ndim - 2)
    w = None if weight is None else weight.data.reshape(cshape)
    b = None if bias is None else bias.data.reshape(cshape)

    out = new(_norm_data(x.data, w, b, dims, eps), x,
              terms=lambda: _norm_terms(x.data, w, b, dims, eps))
    inputs = (x,) + tuple(t for t in (weight, bias) if t is not None)

    def vjp(g, need, sx, sw):
        xhat, rstd = _normalized(sx, dims, eps)
        gy = g if sw is None else mul(g, reshape(sw, cshape))
        grads = [_normalized_grad(gy, xhat, rstd, dims) if need[0] else None]
        if weight is not None:
            grads.append(_sum(mul(g, xhat), dims) if need[1] else None)
        if bias is not None:
            grads.append(_sum(g, dims) if need[-1] else None)
        return tuple(grads)
    # torch's NativeBatchNormBackward0 saves the weight but not the bias.
    record("NativeBatchNormBackward0", (out,), inputs, vjp, save=(x, weight))
    return out
