"""Neural-network ops: convolutions, pooling, normalization.

Sizes stay tiny (batch <= 2, channels <= 4, spatial sizes <= 6) so that finite differences
stay fast. Strides, padding, dilation and groups above 1 are drawn often: that is where an
engine's index arithmetic goes wrong. Max-pool windows are drawn tie-free (which element of
a tie gets the gradient is a convention: tests/reference/test_nn_conventions.py), and the
norms' groups with a spread that keeps 1/std bounded.
"""
import math

import numpy as np

from reference import ops as O
from reference.ops.nn import window_values

from .record import KINK, OpSpec

MAX_BATCH, MAX_CHANNELS, MAX_SPATIAL = 2, 4, 6
# Each normalized group's standard deviation stays above this: 1/std (the gradient's scale)
# below 10, and the variance (>= 1e-2) far above eps, so both engines divide by the same.
SPREAD = 0.1
EPS = 1e-5  # torch's default eps (reference/ops/nn.py says why float32 is still fine)


# ----- convolutions --------------------------------------------------------------------------
def _shape_ok(nd, unbatched):
    """(N, C, *spatial), or also (C, *spatial) where `unbatched`, within the size caps."""
    def ok(shape):
        if len(shape) != nd + 2 and not (unbatched and len(shape) == nd + 1):
            return False
        return ((len(shape) == nd + 1 or shape[0] <= MAX_BATCH) and shape[-nd - 1] <= MAX_CHANNELS
                and all(s <= MAX_SPATIAL for s in shape[-nd:]))
    return ok


def _fit(nd, unbatched):
    def fit(b, min_rank):
        batched = not unbatched or min_rank >= nd + 2 or b.chance(0.7)
        return b.new_leaf(((b.integer(1, MAX_BATCH),) if batched else ())
                          + (b.integer(1, MAX_CHANNELS),)
                          + tuple(b.integer(2, 5) for _ in range(nd)))
    return fit


def _conv_args(nd):
    def draw(b, x):
        shape = b.value(x).shape
        if len(shape) == nd + 1:
            # An unbatched value: the conv takes a fresh batch of such values instead (values
            # have rank 3 at most, so conv2d is otherwise only ever a focus op's).
            shape = (b.integer(1, MAX_BATCH),) + shape
            x = b.operand_of_shape(shape)
        c, spatial = shape[-nd - 1], shape[-nd:]
        divisors = [d for d in range(2, c + 1) if c % d == 0]
        groups = b.pick(divisors) if divisors and b.chance(0.6) else 1
        c_out = groups * b.integer(1, MAX_CHANNELS // groups)
        # torch takes an int for every spatial dim, or a tuple with one each.
        each = nd > 1 and b.chance(0.4)
        n = nd if each else 1
        stride = tuple(b.integer(1, 2) for _ in range(n))
        dilation = tuple(b.integer(1, 2) for _ in range(n))
        padding = tuple(b.integer(0, 2) for _ in range(n))
        # Each kernel size fits its padded dim, dilated (an empty output is an error).
        kernel = tuple(b.integer(1, min(3, (size + 2 * padding[i % n] - 1) // dilation[i % n] + 1))
                       for i, size in enumerate(spatial))
        weight = b.operand_of_shape((c_out, c // groups) + kernel, scale=0.5)
        bias = (b.operand_of_shape((c_out,)),) if b.chance(0.6) else ()
        form = (lambda t: t) if each else (lambda t: t[0])
        return (x, weight) + bias, {"stride": form(stride), "padding": form(padding),
                                    "dilation": form(dilation), "groups": groups}
    return draw


def _conv(nd, rank):
    return OpSpec(f"conv{nd}d", "other", getattr(O, f"conv{nd}d"),
                  f"torch.nn.functional.conv{nd}d({{args}}, stride={{stride}}, "
                  "padding={padding}, dilation={dilation}, groups={groups})",
                  rank=rank, min_rank=nd + 1, shape_ok=_shape_ok(nd, True), fit=_fit(nd, False),
                  rich_rank=nd + 2, saves_operand=True, draw=_conv_args(nd),
                  doc="batched input only (an unbatched value gets a fresh batch): torch's "
                      "unbatched path returns a view (of a tensor made inside), with the view "
                      "rules for no_grad and inference tensors; an optional bias")


# ----- pooling -------------------------------------------------------------------------------
def _pool_params(b, shape):
    """kernel_size, stride (None: the kernel, torch's default) and padding (at most half the
    kernel, as torch requires), an int or an (h, w) tuple each."""
    h, w = shape[-2:]
    least = 1 if b.chance(0.15) else 2  # a 1x1 window is mostly the identity: drawn rarely
    if b.chance(0.4):
        kernel = (b.integer(min(least, h), min(3, h)), b.integer(min(least, w), min(3, w)))
        padding = tuple(b.integer(0, k // 2) for k in kernel)
        stride = None if b.chance(0.3) else (b.integer(1, 2), b.integer(1, 2))
        return {"kernel_size": kernel, "stride": stride, "padding": padding}
    k = b.integer(min(least, h, w), min(3, h, w))
    return {"kernel_size": k, "stride": None if b.chance(0.3) else b.integer(1, 2),
            "padding": b.integer(0, k // 2)}


def _geometry(params):
    """(kernel, stride, padding) as (h, w) tuples."""
    def pair(v):
        return tuple(v) if isinstance(v, tuple) else (v, v)
    kernel = pair(params["kernel_size"])
    stride = kernel if params["stride"] is None else pair(params["stride"])
    return kernel, stride, pair(params["padding"])


def _max_pool_args(b, x):
    v = b.value(x)
    params = _pool_params(b, v.shape)
    top = np.sort(window_values(v, *_geometry(params), fill=-np.inf), axis=-1)
    if top.shape[-1] > 1 and (top[..., -1] - top[..., -2]).min() <= KINK:
        return None  # a tie in a window: which element gets the gradient is a convention
    return (x,), params


def _avg_pool_args(b, x):
    return (x,), {**_pool_params(b, b.value(x).shape), "count_include_pad": b.chance(0.5)}


def _pool(name, rank, draw, template):
    return OpSpec(name, "other", getattr(O, name), f"torch.nn.functional.{name}({{0}}, "
                  "{kernel_size}, stride={stride}, padding={padding}" + template + ")",
                  rank=rank, min_rank=3, shape_ok=_shape_ok(2, True), fit=_fit(2, True),
                  rich_rank=4, draw=draw, doc="on (N, C, H, W) or (C, H, W)")


# ----- normalization -------------------------------------------------------------------------
def _spread_ok(v, dims):
    return bool(v.std(axis=dims).min() > SPREAD)


def _affine(b, shape):
    """No weight and bias, a weight, or both (each of `shape`)."""
    if not b.chance(0.6):
        return ()
    return (b.operand_of_shape(shape),) + ((b.operand_of_shape(shape),) if b.chance(0.7) else ())


def _layer_norm_args(b, x):
    v = b.value(x)
    ks = [k for k in (1, 2) if k <= v.ndim and math.prod(v.shape[v.ndim - k:]) >= 2]
    if not ks:
        return None  # one element per group: nothing to normalize
    k = b.pick(ks)
    if not _spread_ok(v, tuple(range(v.ndim - k, v.ndim))):
        return None
    shape = v.shape[v.ndim - k:]
    return (x,) + _affine(b, shape), {"normalized_shape": shape, "eps": EPS}


def _layer_norm_fit(b, min_rank):
    shape = b.draw_shape(min_rank=max(1, min_rank))
    return b.new_leaf(shape[:-1] + (max(2, shape[-1]),))


def _layer_norm_torch(args, params):
    w, bias = (list(args[1:]) + ["None", "None"])[:2]
    return (f"torch.nn.functional.layer_norm({args[0]}, {params['normalized_shape']!r}, {w}, "
            f"{bias}, eps={params['eps']!r})")


def _batch_norm_args(b, x):
    v = b.value(x)
    if not _spread_ok(v, (0,) + tuple(range(2, v.ndim))):
        return None
    return (x,) + _affine(b, (v.shape[1],)), {"eps": EPS}


def _batch_norm_torch(args, params):
    w, bias = (list(args[1:]) + ["None", "None"])[:2]
    return (f"torch.nn.functional.batch_norm({args[0]}, None, None, {w}, {bias}, "
            f"training=True, eps={params['eps']!r})")


def _batch_norm_fit(b, min_rank):
    return b.new_leaf((b.integer(2, 3), b.integer(1, 3))
                      + tuple(b.integer(1, 3) for _ in range(b.integer(max(0, min_rank - 2), 2))))


OPS = (
    _conv(1, 70),
    _conv(2, 71),
    _pool("max_pool2d", 72, _max_pool_args, ""),
    _pool("avg_pool2d", 73, _avg_pool_args, ", count_include_pad={count_include_pad}"),
    OpSpec("layer_norm", "other", O.layer_norm, _layer_norm_torch, rank=74, min_rank=1,
           shape_ok=lambda shape: math.prod(shape[-2:]) >= 2, fit=_layer_norm_fit,
           saves_operand=True, draw=_layer_norm_args,
           doc="over the last one or two dims; no affine params, a weight, or both"),
    OpSpec("batch_norm", "other", O.batch_norm, _batch_norm_torch, rank=75, min_rank=2,
           shape_ok=lambda shape: len(shape) <= 4 and shape[0] * math.prod(shape[2:]) >= 2,
           fit=_batch_norm_fit, rich_rank=3, saves_operand=True, draw=_batch_norm_args,
           doc="training mode, no running stats: per channel over batch and spatial dims"),
)
