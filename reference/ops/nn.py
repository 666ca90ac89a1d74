"""Neural-network ops: convolutions, pooling and normalization, each vjp in the reference's
own ops.

Each op is one node that saves what torch's node saves (ConvolutionBackward0 its input and
weight, the pools their input, the norms their input and affine params), so an in-place
write, a freed graph or an inference tensor raises where torch's does. Its gradient is, as
in torch, one fused op of the incoming gradient and the saved tensors (convolution_backward,
max_pool2d_with_indices_backward...), so under create_graph it requires grad wherever any of
them does; that op's own vjp (torch's double backward) is written with the forward ops again
(a convolution's with convolutions, avg_pool2d's with avg_pool2d), so every order is
differentiable. Convolution and pooling read their input through windows: `windows` gives
each output position's window as flat positions in the padded input (im2col).
"""
import functools
import math

import numpy as np

from ..grad_mode import is_recording
from ._core import const, index_tensor, new, record
from .elementwise import add, add_scalar, mul, pow, sub
from .multi import gather
from .reduction import mean as _mean, sum as _sum
from .shape import expand, reshape, sum_to

__all__ = ["conv1d", "conv2d", "max_pool2d", "avg_pool2d", "layer_norm", "batch_norm"]


def _tuple(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def _zeros_like(t, dtype):
    return const(np.zeros(t.shape), dtype)


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
        pos = np.arange(out[i])[:, None] * stride[i] + np.arange(kernel[i])[None, :] * dilation[i]
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


def _fold_data(cols, shape, idx, padding):
    """NumPy: the adjoint of reading windows: (..., L, K) values added back into `shape`."""
    nd = len(padding)
    lead, spatial = shape[:-nd], shape[-nd:]
    padded = tuple(s + 2 * p for s, p in zip(spatial, padding))
    out = np.zeros(lead + (math.prod(padded),), dtype=cols.dtype)
    np.add.at(np.moveaxis(out, -1, 0), idx, np.moveaxis(cols, (-2, -1), (0, 1)))
    out = out.reshape(lead + padded)
    return out[(Ellipsis,) + tuple(slice(p, p + s) for p, s in zip(padding, spatial))]


# ----- convolution: three bilinear maps of one geometry -------------------------------------
# fwd(x, w) is the convolution; dx(g, w) and dw(x, g) are its adjoints in x and in w (the
# gradients). Each is bilinear, and the adjoints of each are two of the three again, so one
# node type covers every order of differentiation, as torch's at::_convolution does.
class _Geometry:
    def __init__(self, x_shape, w_shape, stride, padding, dilation, groups):
        nd = len(x_shape) - 2
        self.padding, self.groups, self.x_shape, self.w_shape = padding, groups, x_shape, w_shape
        out, self.idx = windows(x_shape[2:], w_shape[2:], stride, padding, dilation)
        self.y_shape = (x_shape[0], w_shape[0]) + out
        self.bias_shape = (1, w_shape[0]) + (1,) * nd
        self.reduce = (0,) + tuple(range(2, nd + 2))  # the bias gradient sums over these

    def cols(self, x):
        """x's windows grouped: (N, G, L, C/G * K)."""
        n, c, g = x.shape[0], x.shape[1], self.groups
        xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in self.padding])
        cols = np.take(xp.reshape(n, c, -1), self.idx, axis=2)  # (N, C, L, K)
        l, k = self.idx.shape
        return cols.reshape(n, g, c // g, l, k).transpose(0, 1, 3, 2, 4).reshape(n, g, l, -1)

    def outs(self, y):
        """An output-shaped array grouped: (N, G, L, C_out/G)."""
        n, g = y.shape[0], self.groups
        return y.reshape(n, g, -1, self.idx.shape[0]).transpose(0, 1, 3, 2)

    def weights(self, w):
        return w.reshape(self.groups, w.shape[0] // self.groups, -1)  # (G, C_out/G, C/G * K)


def _fwd(x, w, geo):
    y = np.matmul(geo.cols(x), np.swapaxes(geo.weights(w), -1, -2))  # (N, G, L, C_out/G)
    return y.transpose(0, 1, 3, 2).reshape(geo.y_shape)


def _dx(g, w, geo):
    n, c = geo.x_shape[:2]
    l, k = geo.idx.shape
    cols = np.matmul(geo.outs(g), geo.weights(w))  # (N, G, L, C/G * K)
    cols = cols.reshape(n, geo.groups, l, c // geo.groups, k).transpose(0, 1, 3, 2, 4)
    return _fold_data(cols.reshape(n, c, l, k), geo.x_shape, geo.idx, geo.padding)


def _dw(x, g, geo):
    return np.matmul(np.swapaxes(geo.outs(g), -1, -2), geo.cols(x)).sum(0).reshape(geo.w_shape)


_KERNELS = {"fwd": _fwd, "dx": _dx, "dw": _dw}
# For mode m, P(u, v): its adjoint in u, as (mode, first, second) of (g, v); in v, of (u, g).
_ADJ_U = {"fwd": lambda g, v: ("dx", g, v), "dx": lambda g, v: ("fwd", g, v),
          "dw": lambda g, v: ("dx", v, g)}
_ADJ_V = {"fwd": lambda u, g: ("dw", u, g), "dx": lambda u, g: ("dw", g, u),
          "dw": lambda u, g: ("fwd", u, g)}


def _run(mode, a, b, geo, like):
    """`mode` on tensors a and b as a fresh tensor (contiguous, as torch's result is)."""
    fn = _KERNELS[mode]
    return new(np.ascontiguousarray(fn(a.data, b.data, geo)), like,
               terms=lambda: fn(np.abs(a.data), np.abs(b.data), geo))


def _bilinear(mode, u, v, geo, bias=None):
    """One at::_convolution node (ConvolutionBackward0): saves both operands."""
    out = _run(mode, u, v, geo, u)
    if bias is not None:
        out = new(out.data + bias.data.reshape(geo.bias_shape), u,
                  terms=lambda: np.abs(out.data) + np.abs(bias.data.reshape(geo.bias_shape)))
    inputs = (u, v) if bias is None else (u, v, bias)
    record("ConvolutionBackward0", (out,), inputs,
           lambda g, need, su, sv: _bilinear_backward(mode, g, su, sv, geo, need), save=(u, v))
    return out


def _bilinear_backward(mode, g, u, v, geo, need):
    """convolution_backward: the gradients of P(u, v) (and of the bias, if `need` has a
    third entry) as one node of (g, u, v), saving all three (ConvolutionBackwardBackward0)."""
    outs = {}
    if need[0]:
        outs["u"] = _run(*_ADJ_U[mode](g, v), geo, g)
    if need[1]:
        outs["v"] = _run(*_ADJ_V[mode](u, g), geo, g)
    if len(need) > 2 and need[2]:
        outs["b"] = new(g.data.sum(axis=geo.reduce), g,
                        terms=lambda: np.abs(g.data).sum(axis=geo.reduce))
    tags = tuple(outs)

    def vjp(ggs, need2, sg, su, sv):
        gg = dict(zip(tags, ggs if isinstance(ggs, tuple) else (ggs,)))
        ggu, ggv, ggb = gg.get("u"), gg.get("v"), gg.get("b")
        g_g = g_u = g_v = None
        if need2[0]:
            parts = ([_bilinear(mode, ggu, sv, geo)] if ggu is not None else []) + (
                [_bilinear(mode, su, ggv, geo)] if ggv is not None else []) + (
                [expand(reshape(ggb, geo.bias_shape), geo.y_shape)] if ggb is not None else [])
            g_g = functools.reduce(add, parts) if parts else None
        if need2[1] and ggv is not None:
            g_u = _bilinear(*_ADJ_U[mode](sg, ggv), geo)
        if need2[2] and ggu is not None:
            g_v = _bilinear(*_ADJ_V[mode](ggu, sg), geo)
        return g_g, g_u, g_v
    node = record("ConvolutionBackwardBackward0", tuple(outs.values()), (g, u, v), vjp,
                  save=(g, u, v))
    if node is not None:
        node.materialize = False  # torch's double backward skips the undefined ones
    return tuple(outs.get(t) for t in ("u", "v", "b")[:len(need)])


def _conv(x, weight, bias, stride, padding, dilation, groups, nd):
    """torch's convolution of a batched (N, C, *spatial) `x`. (torch also takes an unbatched
    one, unsqueezed in and squeezed out: its output is then a view, with the rules of views
    made under no_grad or of inference tensors; the vocabulary draws batched inputs only.)"""
    geo = _Geometry(x.shape, weight.shape, *(_tuple(v, nd) for v in (stride, padding, dilation)),
                    groups)
    return _bilinear("fwd", x, weight, geo, bias)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """`torch.nn.functional.conv1d`: x (N, C_in, L), weight (C_out, C_in/groups, k)."""
    return _conv(x, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """`torch.nn.functional.conv2d`: x (N, C_in, H, W), weight (C_out, C_in/groups, kh, kw)."""
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
    flat = (pos // wp - padding[0]) * w + pos % wp - padding[1]  # torch's indices
    out = new(np.ascontiguousarray(np.take_along_axis(x.data.reshape(lead + (h * w,)), flat, -1)
                                   .reshape(lead + out_size)), x)
    record("MaxPool2DWithIndicesBackward0", (out,), (x,),
           lambda g, need, sx, si: (_max_pool_backward(g, sx, si.data),),
           save=(x, index_tensor(flat)))
    return out


def _max_pool_backward(g, x, flat):
    """max_pool2d_with_indices_backward, one node of (g, x): g summed into the input at the
    indices. Its vjp is torch's: the incoming gradient gathered at the indices, and zeros
    for x (zeros_like(self))."""
    lead = flat.shape[:-1]
    data = np.zeros(lead + (x.shape[-2] * x.shape[-1],), dtype=g.dtype)
    np.add.at(data, tuple(np.indices(flat.shape, sparse=True)[:-1]) + (flat,),
              g.data.reshape(flat.shape))
    out = new(data.reshape(x.shape), g)

    def vjp(gg, need, si):
        gathered = gather(reshape(gg, si.shape[:-1] + (-1,)), si.data, len(lead))
        return (reshape(gathered, g.shape) if need[0] else None,
                _zeros_like(x, gg.dtype) if need[1] else None)
    record("MaxPool2DWithIndicesBackwardBackward0", (out,), (g, x), vjp,
           save=(index_tensor(flat),))
    return out


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    """`torch.nn.functional.avg_pool2d` on (N, C, H, W) or (C, H, W): each window's sum over
    the kernel's area, or over its elements inside the input (`count_include_pad=False`)."""
    kernel, stride, padding = _pool_geometry(kernel_size, stride, padding)
    out_size, idx = windows(x.shape[-2:], kernel, stride, padding, (1, 1))
    if count_include_pad:  # (ceil_mode=False: every window lies inside the padded input)
        divisor = np.full(idx.shape[0], float(idx.shape[1]))
    else:
        divisor = window_values(np.ones(x.shape[-2:]), kernel, stride, padding).sum(-1)
    shape = x.shape[:-2] + out_size
    out = new((window_values(x.data, kernel, stride, padding).sum(-1) / divisor).reshape(shape),
              x, terms=lambda: (window_values(np.abs(x.data), kernel, stride, padding).sum(-1)
                                / divisor).reshape(shape))
    params = (kernel_size, stride, padding, count_include_pad)
    record("AvgPool2DBackward0", (out,), (x,),
           lambda g, need, sx: (_avg_pool_backward(g, sx, idx, divisor, params),), save=(x,))
    return out


def _avg_pool_backward(g, x, idx, divisor, params):
    """avg_pool2d_backward, one node of (g, x): each window's share of g spread over it. Its
    vjp is torch's: avg_pool2d of the incoming gradient, and zeros for x."""
    padding = params[2]

    def spread(a):
        cols = np.broadcast_to((a.reshape(a.shape[:-2] + (-1, 1)) / divisor[:, None]),
                               a.shape[:-2] + idx.shape)
        return _fold_data(np.ascontiguousarray(cols), x.shape, idx, padding)
    out = new(np.ascontiguousarray(spread(g.data)), g, terms=lambda: spread(np.abs(g.data)))

    def vjp(gg, need):
        return (avg_pool2d(gg, *params) if need[0] else None,
                _zeros_like(x, gg.dtype) if need[1] else None)
    record("AvgPool2DBackwardBackward0", (out,), (g, x), vjp)
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
    return np.ascontiguousarray(y if b is None else y + b)  # torch's is, whatever x's layout


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
        return _as_torch_returns(tuple(grads), (g, sx, sw, sb))
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
        return _as_torch_returns(tuple(grads), (g, sx, sw))
    # torch's NativeBatchNormBackward0 saves the weight but not the bias.
    record("NativeBatchNormBackward0", (out,), inputs, vjp, save=(x, weight))
    return out


def _as_torch_returns(grads, inputs):
    """`grads` as torch's fused backward (native_layer_norm_backward,
    native_batch_norm_backward) returns them under create_graph: each requires grad where any
    of its `inputs` (the incoming gradient and the saved tensors) does, even one whose value
    does not depend on them. Such a gradient is tied to them by a node that sends them no
    gradient (torch's double backward leaves it undefined there)."""
    links = tuple(t for t in inputs if t is not None and t.requires_grad)
    if not links or not is_recording():
        return grads
    return tuple(g if g is None or g.requires_grad else _tie(g, links) for g in grads)


def _tie(g, links):
    out = new(np.array(g.data, copy=True))
    record("TiedBackward", (out,), (g,) + links, lambda gg, n: (gg,) + (None,) * len(links))
    return out
