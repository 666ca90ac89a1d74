"""Paddle's differences in single ops and views: what an op accepts, what it computes, and
which of its outputs require grad; a full slice that is its source. Part of
deviations/paddle.py."""
import itertools
import re

import numpy as np

from harness.deviations import (Deviation, differences_that_vanish, leaves, message_says,
                                 raised_instead, reference_shapes)
from gradspec.program import Backward, Grad, MultiOp, Op, Program, RetainGrad, TensorHook
from gradspec.vocabulary import INDEXED
from gradspec.vocabulary.params import literal

from ._common import A, _alias_of, _at, _downstream, _reference_env, _spelled, _upstream


def _full_slice_is_the_leaf(program, m):
    """The .grad of a full slice of a leaf (it is the leaf's), or of a value one of whose
    full slices (or source) retains its gradient (one autograd identity: both retain it);
    paddle.grad w.r.t. a full slice (w.r.t. its source), and the hooks on a full slice or its
    source (hooks on one tensor)."""
    alias = _alias_of(program)
    if alias and m.kind in ("error", "returned", "retained") and _at(
            program, m, lambda i, e, a: isinstance(program.plan[i], Grad)
            and _wrt_full_slice(program.plan[i], alias)):
        inputs = [alias.get(x, x) for x in program.plan[m.action].inputs]
        if m.kind == "returned":
            return True
        if m.kind == "retained":  # the errors differ: a backward ran on one side only
            return _at(program, m, lambda i, e, a: e != a)
        if len(set(inputs)) < len(inputs):  # an input and a full slice of it: duplicates
            return raised_instead(m, m.expected, "RuntimeError") and message_says(
                m, "contain duplicate tensor")
        return raised_instead(m, "unused_input", None)  # the source's gradient, reached
    if m.kind == "hook":
        target = re.search(r"tensor hook on '([^']+)'", m.where)
        hooked = {s.target for s in program.steps if isinstance(s, TensorHook)}
        group = target and {n for n in hooked if alias.get(n, n) == alias.get(
            target.group(1), target.group(1))}
        return bool(group) and len(group) > 1
    if m.kind == "retained" and m.expected is None:  # its source's gradient
        return m.name in alias or m.name in alias.values()
    if not (m.kind == "nonleaf_grad" and m.expected is None):
        return False
    source = alias.get(m.name, m.name)
    if m.name in alias and source in {leaf.name for leaf in program.all_leaves()}:
        return True
    retained = {s.target for s in program.steps if isinstance(s, RetainGrad)}
    return any(alias.get(r, r) == source for r in retained)


def _wrt_full_slice(action, alias):
    """Is one of a paddle.grad's inputs a full slice (one autograd identity with its source)?"""
    return any(x in alias for x in action.inputs)


def _index_requires_grad(program, m):
    """The int64 indices of sort/topk (argsort, topk) have stop_gradient=False."""
    indices = {s.outs[1] for s in program.steps if isinstance(s, MultiOp) and s.op in INDEXED}
    return m.kind == "requires_grad" and m.expected is False and m.actual is True and \
        m.name in indices


def _chunk_uneven(program, m):
    return m.kind == "error" and m.action < 0 and m.expected is None and \
        m.actual == "unexpected ValueError" and any(
            isinstance(s, MultiOp) and s.op == "chunk" for s in program.steps) and (
            "evenly divisible" in m.message or "'chunks' must be" in m.message)


def _logsumexp_rank_limit(program, m):
    """paddle.logsumexp of a tensor of more than 4 dimensions raises ValueError in the forward."""
    return m.kind == "error" and m.action < 0 and m.expected is None and \
        m.actual == "unexpected ValueError" and any(
            isinstance(s, Op) and s.op == "logsumexp" for s in program.steps) and \
        "dimensions of logsumexp should be less or equal than 4" in m.message


def _cross_entropy_clipped(program, m):
    """The forward value of a cross_entropy whose input has logits more than 64 apart (along
    the classes): Paddle's softmax clips each logit's distance below the maximum at 64."""
    if m.kind != "forward" or not m.numeric:
        return False
    step = next((s for s in program.steps if isinstance(s, Op) and s.op == "cross_entropy"
                 and s.out == m.name), None)
    if step is None:
        return False
    x = np.asarray(_reference_env(program)[step.args[0]], dtype=float)
    return x.size > 0 and float(np.max(np.ptp(np.atleast_1d(x), axis=-1))) > 64


def _cross_entropy_again(program, m):
    """A backward through a cross_entropy that an earlier backward went through: what it adds
    to the gradients of the values cross_entropy is computed from is wrong."""
    outs = {s.out for s in program.steps if isinstance(s, Op) and s.op == "cross_entropy"}
    if not outs or not m.numeric or not 0 < m.action < len(program.plan):
        return False
    before = _upstream(program, outs) - outs
    earlier = any(isinstance(a, Backward) and set(a.roots) & _downstream(program, outs)
                  for a in program.plan[:m.action])
    if not earlier:
        return False
    if m.kind in ("grad", "retained"):
        return m.name in before
    if m.kind == "hook":
        target = re.search(r"tensor hook on '([^']+)'", m.where)
        return bool(target) and target.group(1) in before
    return False


def _prod_spelled(args, params):
    return f"prod_by_products({args[0]}, {params['dim']}, {params.get('keepdim', False)})"


def _batch_norm_spelled(args, params):
    w, b = (list(args[1:]) + ["None", "None"])[:2]
    return f"batch_norm_both({args[0]}, {w}, {b}, {params['eps']!r})"


def _lerp_spelled(args, params):
    """lerp as start + weight * (end - start), paddle.lerp's own formula, where the weight is
    a tensor; a float weight keeps the adapter's spelling."""
    if "weight" in params:
        return f"paddle.lerp({args[0]}, {args[1]}, {params['weight']!r})"
    return f"{args[0]} + {args[2]} * ({args[1]} - {args[0]})"


def _hardtanh_spelled(args, params):
    """hardtanh as a maximum and a minimum with its bounds as tensors of the input's dtype."""
    x = args[0]
    return (f"paddle.minimum(paddle.maximum({x}, paddle.full([], {params['min_val']!r}, "
            f"{x}.dtype)), paddle.full([], {params['max_val']!r}, {x}.dtype))")


def _norm_spelled(args, params):
    """vector_norm with no axis where the input is 0-d (its one element's norm)."""
    o = params["ord"]
    p = "float('inf')" if o == "inf" else repr(float(o))
    return (f"paddle.linalg.vector_norm({args[0]}, p={p}, axis={params['dim']!r} if "
            f"{args[0]}.ndim else None, keepdim={params['keepdim']})")


def _avg_pool2d_spelled(args, params):
    return (f"avg_pool2d_exact({args[0]}, {literal(params['kernel_size'])}, "
            f"{literal(params['stride'])}, {literal(params['padding'])}, "
            f"{params['count_include_pad']})")


def _layer_norm_spelled(args, params):
    w, b = (list(args[1:]) + ["None", "None"])[:2]
    return (f"layer_norm_scale({args[0]}, {list(params['normalized_shape'])}, {w}, {b}, "
            f"{params['eps']!r})")


# torch's (and the SELU paper's) constants, in float64
_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _selu_spelled(args, params):
    return (f"{_SELU_SCALE!r} * paddle.where({args[0]} > 0, {args[0]}, "
            f"{_SELU_ALPHA!r} * paddle.expm1({args[0]}))")


def _hardsigmoid_spelled(args, params):
    """torch's hardsigmoid, relu6(x + 3) / 6 (a float64 tensor divided by a Python float is
    exact)."""
    return f"paddle.clip({args[0]} + 3.0, 0.0, 6.0) / 6.0"


# Each op difference below that a counterfactual states: the op, and its spelling with that one
# behaviour changed to torch's (over _common's COUNTERFACTUAL_HELPERS).
FIXES = {
    "prod": _prod_spelled,
    "batch_norm": _batch_norm_spelled,
    "lerp": _lerp_spelled,
    "hardtanh": _hardtanh_spelled,
    "selu": _selu_spelled,
    "hardsigmoid": _hardsigmoid_spelled,
    "norm": _norm_spelled,
    "avg_pool2d": _avg_pool2d_spelled,
    "layer_norm": _layer_norm_spelled,
}


def _uses(program, op):
    """The program's Op steps of `op` outside no_grad."""
    return [s for s in program.steps if isinstance(s, Op) and s.op == op and not s.no_grad]


def _goes_with_fix(op, program, m):
    """Does `m` go once `op` is spelled as FIXES says? Asked of Paddle, and of Paddle with the
    program's other ops of FIXES already spelled so (each subset of them): a difference two of
    them cause together (a float32 bound feeding lerp's missing weight gradient) is each
    one's, a difference one of them causes alone is that one's only."""
    from adapters.paddle_adapter import PaddleAdapter
    ops = program.requirements()[0]
    others = sorted(f for f in FIXES if f != op and f in ops)

    def adapter(names):
        if not names:
            return PaddleAdapter
        return _spelled("Paddle_" + "_".join(names), **{n: FIXES[n] for n in names})
    return any(m.where in differences_that_vanish(
        program, adapter(done), adapter(tuple(sorted(done + (op,)))))
        for k in range(len(others) + 1) for done in itertools.combinations(others, k))


def _prod_nan_at_zero(program, m):
    """A program with a prod (outside no_grad) whose input holds a zero: the differences that
    go once prod is spelled as the product of its factors (_common._prod_by_products)."""
    env = _reference_env(program)
    return any(s.args[0] in env and np.any(np.asarray(env[s.args[0]]) == 0)
               for s in _uses(program, "prod")) and _goes_with_fix("prod", program, m)


def _batch_norm_affine_alone(program, m):
    """A program with a batch_norm (outside no_grad) given a weight: the differences that go
    once its weight and bias are both given and both require grad (_common's
    _batch_norm_both_differentiable)."""
    return any(len(s.args) > 1 for s in _uses(program, "batch_norm")) and \
        _goes_with_fix("batch_norm", program, m)


def _lerp_weight_no_grad(program, m):
    """A program with a lerp (outside no_grad) whose weight is a tensor: the differences that
    go once lerp is spelled as its formula (the weight then gets its gradient)."""
    return any(len(s.args) > 2 for s in _uses(program, "lerp")) and \
        _goes_with_fix("lerp", program, m)


def _norm_of_0d_on_an_axis(program, m):
    """A program with a norm (outside no_grad) of a 0-d value over dim 0: the differences that
    go once it is taken with no axis."""
    shapes = reference_shapes(program)
    return any(shapes.get(s.args[0]) == () and dict(s.params)["dim"] is not None
               for s in _uses(program, "norm")) and _goes_with_fix("norm", program, m)


def _layer_norm_constant_scale(program, m):
    """A program with a layer_norm (outside no_grad) given a weight: the differences that go
    once its weight requires grad (_common's _layer_norm_differentiable_scale)."""
    return any(len(s.args) > 1 for s in _uses(program, "layer_norm")) and \
        _goes_with_fix("layer_norm", program, m)


def _float32_attribute(op):
    """A float64 program using `op`: the differences that go once its constants are float64
    (FIXES)."""
    def applies(program, m):
        return program.dtype == "float64" and op in program.requirements()[0] and \
            _goes_with_fix(op, program, m)
    applies.__name__ = applies.__qualname__ = f"_{op}_float32_attribute"
    return applies


def _float32_program(op, params=()):
    return Program(dtype="float64", leaves=leaves(("a", (2,), (-1.38, 0.7), True)),
                   steps=(Op("t1", op, ("a",), params),),
                   plan=(Backward(("t1",), ((1.0, 1.0),)),))


DEVIATIONS = [
    Deviation(
        id="paddle-full-slice-is-the-leaf",
        reason="indexing a tensor with a slice that covers all of it (b[0:2] of a [2, 2] b) "
               "returns a tensor that shares its autograd identity: of a leaf it is a leaf "
               "(is_leaf True) whose .grad is the leaf's; of a non-leaf, retain_grads on either "
               "retains both; paddle.grad w.r.t. it is w.r.t. its source (with the source too: "
               "'inputs contain duplicate tensor'), and hooks on either are hooks on one "
               "tensor; in torch it is a non-leaf view whose .grad stays None",
        program=Program(dtype="float64", leaves=leaves(("b", (2,), (0.5, -1.25), True)),
                        steps=(Op("t1", "getitem", ("b",), (("index", (("slice", 0, 2, None),)),)),
                               Op("t2", "sum", ("t1",), (("dim", (0,)), ("keepdim", False)))),
                        plan=(Backward(("t2",), (None,)),)),
        applies=_full_slice_is_the_leaf,
    ),
    Deviation(
        id="paddle-index-outputs-require-grad",
        reason="the int64 indices of argsort and topk have stop_gradient=False (Paddle does not "
               "tie stop_gradient to the dtype); torch's integer outputs never require grad",
        program=Program(dtype="float64", leaves=leaves(("a", (2,), (0.5, -1.25), True)),
                        steps=(MultiOp(("v1", "i1"), "topk", ("a",),
                                       (("dim", 0), ("k", 1), ("largest", True))),
                               Op("t2", "sum", ("v1",), (("dim", (0,)), ("keepdim", False)))),
                        plan=(Backward(("t2",), (None,)),)),
        applies=_index_requires_grad,
    ),
    Deviation(
        id="paddle-chunk-needs-even-split",
        reason="paddle.chunk requires the dimension's size to be divisible by `chunks` (and "
               "`chunks` to be at most that size), as documented; torch.chunk returns ceil-sized "
               "pieces (possibly fewer than `chunks`)",
        program=Program(dtype="float64", leaves=leaves(("a", (3,), (0.5, -1.25, 0.75), True)),
                        steps=(MultiOp(("c1", "c2"), "chunk", ("a",),
                                       (("chunks", 2), ("dim", 0))),),
                        plan=(Backward(("c1",), ((1.0, 1.0),)),)),
        applies=_chunk_uneven,
    ),
    Deviation(
        id="paddle-logsumexp-at-most-4-dims",
        reason="paddle.logsumexp checks that its input has at most 4 dimensions (ValueError "
               "'dimensions of logsumexp should be less or equal than 4', logsumexp's "
               "InferMeta); torch reduces a tensor of any rank",
        program=Program(dtype="float64",
                        leaves=leaves(("a", (1, 1, 1, 1, 2), (0.5, -1.25), True)),
                        steps=(Op("t1", "logsumexp", ("a",), (("dim", (4,)), ("keepdim", False))),),
                        plan=(Backward(("t1",), ((((((1.0,),),),),),)),)),
        applies=_logsumexp_rank_limit,
    ),
    Deviation(
        id="paddle-cross-entropy-clips-logits-at-64",
        reason="F.cross_entropy's softmax clips each logit's distance below the row's maximum "
               "at 64 (the softmax kernel's ValueClip threshold), so a loss whose logits are "
               "more than 64 apart saturates near 64; torch computes log_softmax exactly",
        program=Program(dtype="float64", leaves=leaves(("a", (2,), (0.5, 80.0), True)),
                        steps=(Op("t1", "cross_entropy", ("a",), (("target", 0),)),),
                        plan=(Backward(("t1",), (None,)),)),
        applies=_cross_entropy_clipped,
    ),
    Deviation(
        id="paddle-cross-entropy-second-backward-wrong",
        reason="BUG: a second backward through F.cross_entropy (the first with "
               "retain_graph=True) adds a wrong gradient to its input (the saved softmax was "
               "changed by the first one); torch adds the same gradient again",
        program=Program(dtype="float64", leaves=leaves(("a", (1, 2), (0.5, -0.75), True)),
                        steps=(Op("t1", "cross_entropy", ("a",), (("target", (0,)),)),),
                        plan=(Backward(("t1",), (None,), retain_graph=True),
                              Backward(("t1",), (None,)))),
        applies=_cross_entropy_again,
        finding="findings/paddle/cross-entropy-second-backward-wrong.py",
    ),
    Deviation(
        id="paddle-prod-grad-nan-at-zero",
        reason="BUG: paddle.prod's gradient is out / x (prod_grad), NaN where the input holds a "
               "zero (prod([0, 2, 3]) -> [nan, 0, 0]); torch and the reference give each "
               "element the product of the others ([6, 0, 0])",
        program=Program(dtype="float64", leaves=leaves(("a", (3,), (0.0, 2.0, 3.0), True)),
                        steps=(Op("t1", "prod", ("a",), (("dim", None),)),),
                        plan=(Backward(("t1",), (None,)),)),
        applies=_prod_nan_at_zero,
        finding="findings/paddle/prod-grad-nan-at-zero.py",
    ),
    Deviation(
        id="paddle-batch-norm-affine-grad-needs-both",
        reason="BUG: F.batch_norm gives its weight (or bias) a gradient only when the weight and "
               "the bias are both given and both require grad: with bias=None (or a bias that "
               "stops gradient) the weight's gradient is None; torch gives sum(g * x_hat)",
        program=Program(dtype="float64",
                        leaves=leaves(("a", (3, 2), (1.0, 2.0, 3.0, 5.0, 0.0, 1.0), True),
                                      ("w", (2,), (1.5, 0.5), True),
                                      ("g", (3, 2), (1.0, 2.0, 3.0, 4.0, 5.0, 6.0), False)),
                        steps=(Op("t1", "batch_norm", ("a", "w"), (("eps", 1e-05),)),
                               Op("t2", "mul", ("t1", "g")),
                               Op("t3", "sum", ("t2",), (("dim", (0, 1)), ("keepdim", False)))),
                        plan=(Backward(("t3",), (None,)),)),
        applies=_batch_norm_affine_alone,
        finding="findings/paddle/batch-norm-weight-grad-needs-bias.py",
    ),
    Deviation(
        id="paddle-lerp-weight-no-grad",
        reason="BUG: paddle.lerp's tensor weight gets no gradient (None; paddle.grad says it "
               "'does not appear in the backward graph'): lerp's backward computes the start's "
               "and end's only; torch gives the weight (end - start) * g",
        program=Program(dtype="float64",
                        leaves=leaves(("a", (2,), (1.0, 2.0), True), ("b", (2,), (3.0, 5.0), True),
                                      ("w", (2,), (0.25, 0.5), True)),
                        steps=(Op("t1", "lerp", ("a", "b", "w")),),
                        plan=(Backward(("t1",), ((1.0, 1.0),)),)),
        applies=_lerp_weight_no_grad,
        finding="findings/paddle/lerp-weight-no-grad.py",
    ),
    Deviation(
        id="paddle-hardtanh-float32-bounds",
        reason="F.hardtanh's min and max are the op's `float` attributes (32 bits, as Paddle's "
               "op definitions declare them): in float64 a clipped value is float32's rounding "
               "of the bound (0.755 -> 0.7549999952316284); torch clips to the float64 bound",
        program=Program(dtype="float64", leaves=leaves(("a", (2,), (-1.25, 1.0), True),
                                                     ("b", (2,), (-0.5, 0.75), False)),
                        steps=(Op("t1", "hardtanh", ("a",), (("max_val", 0.755),
                                                            ("min_val", -0.505))),
                               Op("t2", "sub", ("t1", "b"))),
                        plan=(Backward(("t2",), ((1.0, 1.0),)),)),
        applies=_float32_attribute("hardtanh"),
    ),
    Deviation(
        id="paddle-selu-float32-constants",
        reason="F.selu's scale and alpha are the op's `float` attributes (32 bits): in float64 "
               "its value and gradient are off by ~3e-8 relative from torch's float64 constants",
        program=_float32_program("selu"),
        applies=_float32_attribute("selu"),
    ),
    Deviation(
        id="paddle-hardsigmoid-float32-slope",
        reason="F.hardsigmoid's slope is the op's `float` attribute (32 bits; its default is "
               "0.1666667, not 1/6): in float64 its value and gradient are off by ~3e-8 "
               "relative from torch's relu6(x + 3) / 6",
        program=_float32_program("hardsigmoid"),
        applies=_float32_attribute("hardsigmoid"),
    ),
    Deviation(
        id="paddle-vector-norm-0d-axis",
        reason="BUG: paddle.linalg.vector_norm of a 0-d tensor over axis 0 returns 0 (-inf for "
               "p=inf) and a gradient read from uninitialized memory; torch (and Paddle with "
               "no axis) give |x| and sign(x)",
        program=Program(dtype="float64", leaves=leaves(A),
                        steps=(Op("t1", "norm", ("a",), (("dim", 0), ("keepdim", False),
                                                         ("ord", 2))),),
                        plan=(Backward(("t1",), (None,)),)),
        applies=_norm_of_0d_on_an_axis,
        finding="findings/paddle/vector-norm-0d-axis.py",
    ),
    Deviation(
        id="paddle-avg-pool2d-float32-divisor",
        reason="F.avg_pool2d's backward scales each window's gradient by 1 / its size in float32 "
               "(0.1666666716 for 6, 0.3333333433 for 3) also in float64: the gradient is off "
               "by ~3e-8 relative; torch divides in the input's dtype",
        program=Program(dtype="float64",
                        leaves=leaves(("a", (1, 1, 3), (0.3, 0.7, 1.1), True)),
                        steps=(Op("t1", "avg_pool2d", ("a",), (("count_include_pad", True),
                                                              ("kernel_size", (1, 3)),
                                                              ("padding", 0), ("stride", None))),),
                        plan=(Backward(("t1",), ((((1.0,),),),)),)),
        applies=_float32_attribute("avg_pool2d"),
    ),
    Deviation(
        id="paddle-layer-norm-constant-scale-ignored",
        reason="BUG: F.layer_norm's input gradient leaves out a weight (scale) that stops "
               "gradient, as if it were ones: sum(layer_norm(x, w)) with w constant gets a zero "
               "gradient; with w requiring grad (and in torch) it is right",
        program=Program(dtype="float64",
                        leaves=leaves(("a", (1, 3), (0.5, -0.75, 0.2), True),
                                      ("w", (3,), (-1.25, 1.5, 0.3), False)),
                        steps=(Op("t1", "layer_norm", ("a", "w"), (("eps", 1e-05),
                                                                   ("normalized_shape", (3,)))),
                               Op("t2", "sum", ("t1",), (("dim", (0, 1)), ("keepdim", False)))),
                        plan=(Backward(("t2",), (None,)),)),
        applies=_layer_norm_constant_scale,
        finding="findings/paddle/layer-norm-constant-scale-ignored.py",
    ),
]
