"""What the parts of deviations/paddle.py share: Paddle's own trace of a program, the
plan action a mismatch is at, and which values a program computes from which."""
import functools

from harness.deviations import engine_trace, reference_errors, reference_shapes, upstream
from gradspec.program import Detach, Op


# What an action leaves different where it ran on one side only (or failed midway).
STATE = ("grad", "retained", "nonleaf_grad", "returned", "hook", "grad_requires_grad",
         "grad_aliasing")


def _paddle_trace(program):
    """The program's trace on Paddle (engine_trace: in the worker process under --isolate)."""
    from adapters.paddle_adapter import PaddleAdapter
    return engine_trace(program, PaddleAdapter)


def _paddle_errors(program):
    """The error kind (or None) of each plan action on Paddle; () if it cannot tell."""
    trace = _paddle_trace(program)
    return () if trace is None else tuple(a.error for a in trace.actions)


def _at(program, m, test):
    """Is `m` at a plan action i where test(i, reference's error, Paddle's error) holds? A
    predicate explains one action's differences: the error there, and the state that action
    left (later actions are judged by what each one adds, gradspec/compare.py)."""
    i = m.action
    if not 0 <= i < len(program.plan):
        return False
    ref, pd = reference_errors(program), _paddle_errors(program)
    return i < len(ref) and i < len(pd) and test(i, ref[i], pd[i])


def _action_differs(program, m, test, error_matches):
    """At an action where `test` holds: the error mismatch (checked by `error_matches`) and
    what that action left different."""
    if not _at(program, m, test):
        return False
    return error_matches(m) if m.kind == "error" else m.kind in STATE


@functools.lru_cache(maxsize=256)
def _alias_of(program):
    """name -> the value it is a full slice of (a getitem whose result has its source's whole
    shape: Paddle returns a tensor sharing the source's autograd identity), transitively;
    every other value maps to itself."""
    shapes = reference_shapes(program)
    root = {}
    for s in program.steps:
        if isinstance(s, Op) and s.op == "getitem" and shapes.get(s.out) is not None and \
                shapes.get(s.out) == shapes.get(s.args[0]):
            root[s.out] = root.get(s.args[0], s.args[0])
    return root


_upstream = upstream  # the parts' name for harness.deviations.upstream


def _reference_env(program):
    from harness.deviations import reference_env
    return {n: t.data for n, t in reference_env(program).items()}


def _downstream(program, names):
    """The values computed from `names` (the inverse of _upstream)."""
    out = set(names)
    for s in program.steps:
        outs = getattr(s, "outs", None) or ((s.out,) if hasattr(s, "out") else ())
        args = set(getattr(s, "args", ()) or ()) | set(getattr(s, "outputs", ()) or ()) | \
            set(getattr(s, "inputs", ()) or ())
        if isinstance(s, Detach):
            continue
        if args & out:
            out.update(outs)
    return out


A = ("a", (), (0.5,), True)


def _spelled(name, **templates):
    """A counterfactual: Paddle's adapter with some ops spelled otherwise (`templates`, over
    the adapter's helpers and COUNTERFACTUAL_HELPERS), the behaviour deviations state changed
    to torch's; everything else is the adapter's (harness.deviations.differences_that_vanish).
    Built once per name (a class, so that differences_that_vanish caches its runs)."""
    if name not in _COUNTERFACTUALS:
        from adapters.paddle_adapter import PaddleAdapter
        from adapters.paddle_spelling import PADDLE_TEMPLATES
        from adapters.templates import TemplateOps

        def __init__(self):
            PaddleAdapter.__init__(self)
            self._namespace.update(COUNTERFACTUAL_HELPERS)
            self.templates = TemplateOps(dict(PADDLE_TEMPLATES, **templates), self._namespace)
        _COUNTERFACTUALS[name] = type(name, (PaddleAdapter,), {"__init__": __init__})
    return _COUNTERFACTUALS[name]


_COUNTERFACTUALS = {}


def _prod_by_products(x, dim, keepdim):
    """paddle.prod as the product of the slices along `dim` (of every element for None),
    multiplied in turn: multiply's gradient gives each factor the product of the others, zero
    or not. A 0-d input is its one factor (times 1: a new tensor, as prod's result is)."""
    import functools
    import paddle
    if x.ndim == 0:
        return paddle.multiply(x, paddle.ones([], x.dtype))
    moved = paddle.reshape(x, [-1]) if dim is None else paddle.moveaxis(x, dim, 0)
    out = functools.reduce(paddle.multiply, paddle.unbind(moved, 0),
                           paddle.ones(moved.shape[1:], x.dtype))
    return paddle.unsqueeze(out, dim) if dim is not None and keepdim else out


def _batch_norm_both_differentiable(x, weight, bias, eps):
    """The adapter's batch_norm (torch's, training, no running statistics) with a weight and a
    bias that both require grad: one missing or stopping gradient is given as a stand-in of
    the same value (ones, zeros, or a copy) that does, whose gradient goes nowhere."""
    import paddle
    import paddle.nn.functional as F

    def differentiable(t, fill):
        if t is not None and not t.stop_gradient:
            return t
        t = paddle.full([x.shape[1]], fill, x.dtype) if t is None else t.detach().clone()
        t.stop_gradient = False
        return t
    c = x.shape[1]
    return F.batch_norm(x, paddle.zeros([c], x.dtype), paddle.ones([c], x.dtype),
                        differentiable(weight, 1.0), differentiable(bias, 0.0), training=True,
                        epsilon=eps)


def _avg_pool2d_exact(x, kernel_size, stride, padding, count_include_pad):
    """torch's avg_pool2d of (N, C, H, W) or (C, H, W) as window sums (F.unfold, whose
    gradient adds back exactly) divided by float64 counts: the window's size, or its elements
    inside the input (exclusive)."""
    import paddle
    import paddle.nn.functional as F

    def pair(v):
        return list(v) if isinstance(v, (tuple, list)) else [v, v]
    if x.ndim == 3:
        return paddle.squeeze(_avg_pool2d_exact(paddle.unsqueeze(x, 0), kernel_size, stride,
                                                padding, count_include_pad), 0)
    k, p = pair(kernel_size), pair(padding)
    s = k if stride is None else pair(stride)
    n, c, h, w = x.shape
    oh, ow = (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1

    def window_sums(t):
        cols = F.unfold(t, k, strides=s, paddings=p)
        return paddle.sum(paddle.reshape(cols, [n, c, k[0] * k[1], oh * ow]), axis=2)
    count = float(k[0] * k[1]) if count_include_pad else window_sums(paddle.ones_like(x))
    return paddle.reshape(window_sums(x) / count, [n, c, oh, ow])


def _layer_norm_differentiable_scale(x, normalized_shape, weight, bias, eps):
    """The adapter's layer_norm with a weight that requires grad: one that stops gradient is
    given as a copy that does (the same values), whose gradient goes nowhere."""
    import paddle
    import paddle.nn.functional as F
    if weight is not None:
        weight = paddle.flatten(weight)
        if weight.stop_gradient:
            weight = weight.detach().clone()
            weight.stop_gradient = False
    bias = None if bias is None else paddle.flatten(bias)
    return F.layer_norm(x, normalized_shape, weight, bias, epsilon=eps)


COUNTERFACTUAL_HELPERS = {"layer_norm_scale": _layer_norm_differentiable_scale,
                          "avg_pool2d_exact": _avg_pool2d_exact,
                          "prod_by_products": _prod_by_products,
                          "batch_norm_both": _batch_norm_both_differentiable}
