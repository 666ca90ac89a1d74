"""Elementwise ops: forward and vjp side by side, each vjp written with differentiable ops."""
import numpy as np

from ._core import const, new, record
from .shape import sum_to

__all__ = ["neg", "exp", "log", "tanh", "sigmoid", "relu", "sin", "cos", "sqrt", "abs",
           "reciprocal", "sign", "round", "clone", "pow", "scale", "add_scalar", "rsub_scalar",
           "rdiv_scalar", "add", "sub", "mul", "div", "maximum", "minimum", "where"]


def _unary(name, fn, vjp, save):
    """Build a unary op whose vjp needs `save` in ('input', 'output', None)."""
    def op(x):
        out = new(fn(x.data), x)
        saved = {"input": (x,), "output": (out,), None: ()}[save]
        record(name, (out,), (x,), vjp, save=saved)
        return out
    op.__name__ = name
    return op


neg = _unary("NegBackward0", np.negative, lambda g, n: (neg(g),), None)
exp = _unary("ExpBackward0", np.exp, lambda g, n, r: (mul(g, r),), "output")
log = _unary("LogBackward0", np.log, lambda g, n, x: (div(g, x),), "input")
tanh = _unary("TanhBackward0", np.tanh,
              lambda g, n, r: (mul(g, rsub_scalar(mul(r, r), 1.0)),), "output")
sigmoid = _unary("SigmoidBackward0", lambda a: 1.0 / (1.0 + np.exp(-a)),
                 lambda g, n, r: (mul(g, mul(r, rsub_scalar(r, 1.0))),), "output")
# relu and abs multiply by a recorded sign (zero derivative), as torch's threshold_backward
# and sgn are recorded: a gradient through them requires grad under create_graph=True.
relu = _unary("ReluBackward0", lambda a: np.maximum(a, 0),
              lambda g, n, r: (mul(g, sign(r)),), "output")
sin = _unary("SinBackward0", np.sin, lambda g, n, x: (mul(g, cos(x)),), "input")
cos = _unary("CosBackward0", np.cos, lambda g, n, x: (neg(mul(g, sin(x))),), "input")
sqrt = _unary("SqrtBackward0", np.sqrt,
              lambda g, n, r: (div(g, scale(r, 2.0)),), "output")
abs = _unary("AbsBackward0", np.abs, lambda g, n, x: (mul(g, sign(x)),), "input")
reciprocal = _unary("ReciprocalBackward0", lambda a: 1.0 / a,
                    lambda g, n, r: (neg(mul(g, mul(r, r))),), "output")
# Piecewise-constant: their derivative is zero almost everywhere, and torch says zero: a fresh
# zeros_like(grad), which never requires grad.
sign = _unary("SignBackward0", np.sign, lambda g, n: (const(np.zeros(g.shape), g.dtype),), None)
round = _unary("RoundBackward0", np.round,
               lambda g, n: (const(np.zeros(g.shape), g.dtype),), None)


def clone(x):
    out = new(np.array(x.data, copy=True), x)
    record("CloneBackward0", (out,), (x,), lambda g, n: (g,))
    return out


def pow(x, exponent):
    """`x ** exponent` for a Python scalar exponent (torch's PowBackward0)."""
    p = float(exponent)
    out = new(np.power(x.data, p), x)

    def vjp(g, n, x):
        if p == 0.0:
            return (scale(g, 0.0),)
        return (mul(g, scale(pow(x, p - 1.0), p)),)
    record("PowBackward0", (out,), (x,), vjp, save=(x,))
    return out


def scale(x, c):
    """`x * c` for a Python scalar `c`. torch wraps `c` in a 0-d tensor and saves it
    (MulBackward0), so a second backward without retain_graph fails here too."""
    c = float(c)
    out = new(x.data * c, x)
    record("MulBackward0", (out,), (x,), lambda g, n, s: (scale(g, float(s.data)),),
           save=(const(c, x.dtype),))
    return out


def add_scalar(x, c):
    out = new(x.data + float(c), x)
    record("AddBackward1", (out,), (x,), lambda g, n: (g,))
    return out


def rsub_scalar(x, c):
    """`c - x` for a Python scalar `c`."""
    out = new(float(c) - x.data, x)
    record("RsubBackward1", (out,), (x,), lambda g, n: (neg(g),))
    return out


def rdiv_scalar(x, c):
    """`c / x` for a Python scalar `c`."""
    return scale(reciprocal(x), c)


# ----- binary, with broadcasting: every vjp sums back to its input's shape --------------------
def add(a, b):
    out = new(a.data + b.data)
    record("AddBackward0", (out,), (a, b),
           lambda g, n: (sum_to(g, a.shape) if n[0] else None,
                         sum_to(g, b.shape) if n[1] else None))
    return out


def sub(a, b):
    out = new(a.data - b.data)
    record("SubBackward0", (out,), (a, b),
           lambda g, n: (sum_to(g, a.shape) if n[0] else None,
                         neg(sum_to(g, b.shape)) if n[1] else None))
    return out


def mul(a, b):
    out = new(a.data * b.data)

    def vjp(g, n, sa, sb):  # sa is `a` saved for b's gradient, and vice versa
        return (sum_to(mul(g, sb), a.shape) if n[0] else None,
                sum_to(mul(g, sa), b.shape) if n[1] else None)
    record("MulBackward0", (out,), (a, b), vjp,
           save=(a if b.requires_grad else None, b if a.requires_grad else None))
    return out


def div(a, b):
    out = new(a.data / b.data)

    def vjp(g, n, sa, sb):
        ga = sum_to(div(g, sb), a.shape) if n[0] else None
        gb = sum_to(neg(div(mul(g, sa), mul(sb, sb))), b.shape) if n[1] else None
        return ga, gb
    record("DivBackward0", (out,), (a, b), vjp,
           save=(a if b.requires_grad else None,
                 b if (a.requires_grad or b.requires_grad) else None))
    return out


def _select_binary(name, pick_a):
    """maximum/minimum: the gradient goes to the selected input; ties split it in half."""
    def op(a, b):
        out = new(np.where(pick_a(a.data, b.data), a.data, b.data))

        def vjp(g, n, sa, sb):
            wa = np.where(sa.data == sb.data, 0.5, pick_a(sa.data, sb.data).astype(float))
            ga = sum_to(mul(g, const(wa, g.dtype)), a.shape) if n[0] else None
            gb = sum_to(mul(g, const(1.0 - wa, g.dtype)), b.shape) if n[1] else None
            return ga, gb
        record(name, (out,), (a, b), vjp, save=(a, b))
        return out
    return op


maximum = _select_binary("MaximumBackward0", lambda x, y: x > y)
minimum = _select_binary("MinimumBackward0", lambda x, y: x < y)


def where(condition, a, b):
    """`where(condition, a, b)` with a constant boolean condition (saved, as torch does)."""
    cond = np.asarray(condition.data if hasattr(condition, "data") else condition, dtype=bool)
    out = new(np.where(cond, a.data, b.data))
    cond_t = const(cond, bool)

    def vjp(g, n, c):
        m = const(c.data, g.dtype)
        return (sum_to(mul(g, m), a.shape) if n[0] else None,
                sum_to(mul(g, rsub_scalar(m, 1.0)), b.shape) if n[1] else None)
    record("WhereBackward0", (out,), (a, b), vjp, save=(cond_t,))
    return out
