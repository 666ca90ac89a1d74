"""Elementwise ops: forward and vjp side by side, each vjp written with differentiable ops."""
import math

import numpy as np

from ._core import const, new, record
from .shape import sum_to

__all__ = ["neg", "exp", "log", "tanh", "sigmoid", "relu", "sin", "cos", "sqrt", "abs",
           "reciprocal", "sign", "round", "clone", "pow", "scale", "add_scalar", "rsub_scalar",
           "rdiv_scalar", "add", "sub", "mul", "div", "maximum", "minimum", "where",
           "log1p", "expm1", "erf", "gelu", "silu", "softplus", "leaky_relu", "elu", "hardtanh",
           "tan", "asin", "atan", "sinh", "cosh", "rsqrt", "square", "softsign", "logsigmoid",
           "selu", "celu", "hardsigmoid", "mish"]


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


# ----- more unary ops and activations (issue 21) ----------------------------------------------
# Smooth ones save what torch's formula saves; their vjps are compositions of the ops above.
log1p = _unary("Log1PBackward0", np.log1p,
               lambda g, n, x: (div(g, add_scalar(x, 1.0)),), "input")
expm1 = _unary("Expm1Backward0", np.expm1,
               lambda g, n, r: (mul(g, add_scalar(r, 1.0)),), "output")
tan = _unary("TanBackward0", np.tan,
             lambda g, n, r: (mul(g, add_scalar(mul(r, r), 1.0)),), "output")
asin = _unary("AsinBackward0", np.arcsin,
              lambda g, n, x: (mul(g, rsqrt(rsub_scalar(mul(x, x), 1.0))),), "input")
atan = _unary("AtanBackward0", np.arctan,
              lambda g, n, x: (div(g, add_scalar(mul(x, x), 1.0)),), "input")
sinh = _unary("SinhBackward0", np.sinh, lambda g, n, x: (mul(g, cosh(x)),), "input")
cosh = _unary("CoshBackward0", np.cosh, lambda g, n, x: (mul(g, sinh(x)),), "input")
rsqrt = _unary("RsqrtBackward0", lambda a: 1.0 / np.sqrt(a),
               lambda g, n, r: (scale(mul(g, mul(r, mul(r, r))), -0.5),), "output")


def square(x):
    """torch.square is pow(x, 2), down to its node (PowBackward0) and its double backward
    (through pow(x, 1), whose gradient requires grad): the same op here."""
    return pow(x, 2.0)


_erf = np.vectorize(math.erf, otypes=[np.float64])  # NumPy has no erf; math.erf is exact to ulps


def _erf_prime(x):
    """d erf / dx = 2/sqrt(pi) exp(-x^2), in reference ops."""
    return scale(exp(neg(mul(x, x))), 2.0 / math.sqrt(math.pi))


erf = _unary("ErfBackward0", _erf, lambda g, n, x: (mul(g, _erf_prime(x)),), "input")


def _softplus_data(a):
    """log(1 + exp(a)) without overflow."""
    return np.logaddexp(0.0, a)


def _silu_prime(x):
    """sigmoid(x) (1 + x (1 - sigmoid(x)))."""
    s = sigmoid(x)
    return mul(s, add_scalar(mul(x, rsub_scalar(s, 1.0)), 1.0))


silu = _unary("SiluBackward0", lambda a: a / (1.0 + np.exp(-a)),
              lambda g, n, x: (mul(g, _silu_prime(x)),), "input")


softsign = _unary("SoftsignBackward", lambda a: a / (1.0 + np.abs(a)),
                  lambda g, n, x: (div(g, square(add_scalar(abs(x), 1.0))),), "input")
# logsigmoid(x) = -softplus(-x); its derivative is sigmoid(-x).
logsigmoid = _unary("LogSigmoidBackward0", lambda a: -_softplus_data(-a),
                    lambda g, n, x: (mul(g, sigmoid(neg(x))),), "input")


def _mish_data(a):
    return a * np.tanh(_softplus_data(a))


def _mish_prime(x):
    """tanh(sp) + x (1 - tanh(sp)^2) sigmoid(x), sp = softplus(x)."""
    t = tanh(softplus(x))
    return add(t, mul(mul(x, rsub_scalar(mul(t, t), 1.0)), sigmoid(x)))


mish = _unary("MishBackward0", _mish_data, lambda g, n, x: (mul(g, _mish_prime(x)),), "input")


def gelu(x, approximate="none"):
    """x Phi(x) (torch's default, exact), or its tanh approximation (approximate='tanh')."""
    a = x.data
    if approximate == "tanh":
        data = 0.5 * a * (1.0 + np.tanh(_GELU_K * (a + _GELU_C * a ** 3)))
    else:
        data = 0.5 * a * (1.0 + _erf(a / math.sqrt(2.0)))
    out = new(data, x)
    prime = _gelu_tanh_prime if approximate == "tanh" else _gelu_prime
    record("GeluBackward0", (out,), (x,), lambda g, n, x: (mul(g, prime(x)),), save=(x,))
    return out


_GELU_K, _GELU_C = math.sqrt(2.0 / math.pi), 0.044715


def _gelu_prime(x):
    """Phi(x) + x phi(x), with Phi = (1 + erf(x/sqrt 2))/2 and phi = exp(-x^2/2)/sqrt(2 pi)."""
    cdf = scale(add_scalar(erf(scale(x, 1.0 / math.sqrt(2.0))), 1.0), 0.5)
    pdf = scale(exp(scale(mul(x, x), -0.5)), 1.0 / math.sqrt(2.0 * math.pi))
    return add(cdf, mul(x, pdf))


def _gelu_tanh_prime(x):
    """(1 + t)/2 + x (1 - t^2) k (1 + 3c x^2) / 2, t = tanh(k (x + c x^3))."""
    x2 = mul(x, x)
    t = tanh(scale(add(x, scale(mul(x2, x), _GELU_C)), _GELU_K))
    inner = scale(add_scalar(scale(x2, 3.0 * _GELU_C), 1.0), _GELU_K)
    return add(scale(add_scalar(t, 1.0), 0.5),
               scale(mul(mul(x, rsub_scalar(mul(t, t), 1.0)), inner), 0.5))


# ----- piecewise: a mask recorded from sign() ----------------------------------------------
# As relu does: each mask is built from sign() of the input, so a gradient through these ops
# requires grad under create_graph=True, as torch's *_backward nodes (recorded with the input)
# do, while its own derivative is sign's: a constant zero that requires no grad, like torch's
# zeros_like(grad). At a kink each mask takes torch's side (tests/reference/
# test_unary_conventions.py); the strategies keep away from it.
def _positive(d):
    """1 where d > 0, 0 where d <= 0: (s + s^2) / 2 for s = sign(d)."""
    s = sign(d)
    return scale(add(s, mul(s, s)), 0.5)


def _above(x, at):
    """1 where x > at, 0 where x <= at."""
    return _positive(add_scalar(x, -float(at)))


def _below(x, at):
    """1 where x < at, 0 where x >= at."""
    return _positive(rsub_scalar(x, float(at)))


def softplus(x, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (torch's switch)."""
    beta, threshold = float(beta), float(threshold)
    bx = x.data * beta
    out = new(np.where(bx > threshold, x.data, _softplus_data(bx) / beta), x)

    def vjp(g, n, x):
        lin = _above(scale(x, beta), threshold)  # 1 on the linear side, as torch tests it
        bxs = mul(scale(x, beta), rsub_scalar(lin, 1.0))  # 0 on the linear side: no overflow
        return (mul(g, add(lin, mul(rsub_scalar(lin, 1.0), sigmoid(bxs)))),)
    record("SoftplusBackward0", (out,), (x,), vjp, save=(x,))
    return out


def leaky_relu(x, negative_slope=0.01):
    s = float(negative_slope)
    out = new(np.where(x.data > 0, x.data, x.data * s), x)
    record("LeakyReluBackward0", (out,), (x,),
           lambda g, n, x: (mul(g, add_scalar(scale(_above(x, 0.0), 1.0 - s), s)),), save=(x,))
    return out


def _elu_like(name, x, alpha, scale_out, input_scale):
    """scale_out * (x if x > 0 else alpha (exp(input_scale x) - 1)): elu, selu and celu."""
    a = x.data
    neg_part = alpha * np.expm1(input_scale * np.minimum(a, 0.0))
    out = new(scale_out * np.where(a > 0, a, neg_part), x)

    def vjp(g, n, x):
        pos = _above(x, 0.0)
        xn = mul(x, rsub_scalar(pos, 1.0))  # x on the negative side, 0 on the positive side
        d_neg = scale(exp(scale(xn, input_scale)), alpha * input_scale)
        d = add(pos, mul(rsub_scalar(pos, 1.0), d_neg))
        return (mul(g, scale(d, scale_out)),)
    record(name, (out,), (x,), vjp, save=(x,))
    return out


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def elu(x, alpha=1.0):
    return _elu_like("EluBackward0", x, float(alpha), 1.0, 1.0)


def selu(x):
    return _elu_like("EluBackward0", x, _SELU_ALPHA, _SELU_SCALE, 1.0)


def celu(x, alpha=1.0):
    return _elu_like("CeluBackward0", x, float(alpha), 1.0, 1.0 / float(alpha))


def hardtanh(x, min_val=-1.0, max_val=1.0):
    lo, hi = float(min_val), float(max_val)
    out = new(np.clip(x.data, lo, hi), x)
    record("HardtanhBackward0", (out,), (x,),
           lambda g, n, x: (mul(g, mul(_above(x, lo), _below(x, hi))),),
           save=(x,))
    return out


def hardsigmoid(x):
    """relu6(x + 3) / 6: slope 1/6 strictly inside (-3, 3), flat outside and at both kinks
    (torch's hardsigmoid_backward tests x > -3 and x < 3)."""
    out = new(np.clip(x.data + 3.0, 0.0, 6.0) / 6.0, x)  # torch's arithmetic
    record("HardsigmoidBackward0", (out,), (x,),
           lambda g, n, x: (scale(mul(g, mul(_above(x, -3.0), _below(x, 3.0))), 1.0 / 6.0),),
           save=(x,))
    return out
