"""Known differences between torch 2.13 and the reference (documented torch semantics)."""
import functools
import importlib
import math
import re
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from harness.deviations import (Deviation, action_roots, differences_that_vanish, engine_action,
                                 is_zero, message_says, raised_instead, reference_env,
                                 reference_forward, reference_raised, upstream)
from gradspec.program import (Backward, BackwardThroughGrad, Grad, GradStep, InPlace, Leaf, Op,
                              Program, ZeroGrad)


@functools.lru_cache(maxsize=256)
def _torch_grad_aliases(program):
    """After each plan action, the pairs of leaves whose .grad torch (on the CPU) left sharing
    memory; () for a program without a recorded stack/cat, the only ops whose backward hands
    several leaves views of one gradient (unbind, narrow) that AccumulateGrad keeps."""
    # (One under no_grad counts too: an enable_grad inside it records the op.)
    if not any(isinstance(s, Op) and s.op in ("stack", "cat") for s in program.steps):
        return ()
    from adapters.torch_adapter import TorchAdapter
    from gradspec.interpreter import run
    try:
        return tuple(a.grad_aliases for a in run(program, TorchAdapter(), strict=False).actions)
    except Exception:  # noqa: BLE001 - torch could not run it: no aliasing seen
        return ()


def _aliased_grads(program, m):
    """Two leaves' .grad sharing memory after an action (torch shows it on this program), and
    a .grad that shared memory after an earlier action, since the last zero_grad, being wrong
    later (or a post-accumulate hook reading it): an in-place update of the other (the next
    accumulation) changed it too."""
    aliases = _torch_grad_aliases(program)
    if m.kind == "grad_aliasing":
        pair = tuple(m.name.split(","))
        return m.actual is True and 0 <= m.action < len(aliases) and pair in aliases[m.action]
    if m.kind == "hook":  # a post-accumulate hook reads the same wrong .grad
        hooked = re.search(r"post_accumulate hook on '([^']+)'", m.where)
        if hooked is None or not 0 < m.action <= len(aliases):
            return False
        m = replace(m, name=hooked.group(1))
    elif m.kind != "grad" or not 0 < m.action <= len(aliases):
        return False
    since = max((i for i in range(m.action) if isinstance(program.plan[i], ZeroGrad)),
                default=0)
    return any(m.name in pair for i in range(since, m.action) for pair in aliases[i])


def _make_grads_index_bug(program, m):
    """A multi-root backward (or grad()) whose weight for a root after the first has the wrong
    shape."""
    action = program.plan[m.action] if m.action >= 0 else None
    roots = action.roots if isinstance(action, Backward) else (
        action.outputs if isinstance(action, Grad) else ())
    # Under torch.compile, Dynamo meets it while tracing and wraps it: TorchRuntimeError.
    return (m.kind == "error" and m.expected == "grad_shape_mismatch"
            and m.actual in ("unexpected RuntimeError", "unexpected TorchRuntimeError")
            and len(roots) > 1)


def _stale_view_is_leaf(program, m):
    """torch raised leaf_inplace writing into a view whose base an earlier in-place op (on
    another value, or on a slice of it) made require grad, where the reference raised nothing
    or another error at that write or later (its overlap check comes after torch's autograd
    check: `v.add_(base)` with v a view of base)."""
    if not (m.where == "forward" and m.actual == "leaf_inplace"):
        return False
    env, failed = reference_forward(program)
    if (failed is None) != (m.expected is None):
        return False
    steps = program.steps if failed is None else program.steps[:failed + 1]
    writes = [s for s in steps if isinstance(s, InPlace)]

    def root(n):
        return env[n] if env[n]._base is None else env[n]._base

    def through_another(w, t):  # a write into t's base not through t itself (x[i] = v: a sub-view)
        return (w.target != t or w.op == "setitem") and root(w.target) is root(t)
    return any(env[s.target]._base is not None
               and any(through_another(w, s.target) for w in writes[:i])
               for i, s in enumerate(writes) if s.target in env)


def _batched_zeros_unbatched(program, m):
    """A batched grad() with materialize_grads: an unused input's zeros lack the batch
    dimension (the reference's are zeros of shape (batch,) + the input's)."""
    action = program.plan[m.action] if 0 <= m.action < len(program.plan) else None
    if not (m.kind == "returned" and isinstance(action, Grad) and action.batched
            and action.materialize_grads) or m.expected is None or m.actual is None:
        return False
    expected, actual = np.asarray(m.expected), np.asarray(m.actual)
    return expected.shape[1:] == actual.shape and not expected.any() and not actual.any()


@functools.lru_cache(maxsize=1)
def _clamp_bounds_broadcast_first():
    """torch with clamp's operands broadcast together before the clamp: the same values and
    gradients (expand's backward sums them back), and no mask of the backward to grow."""
    from adapters.torch_adapter import TorchAdapter

    class ClampBroadcastFirst(TorchAdapter):
        def __init__(self):
            super().__init__()
            ops, torch = self.op, self.torch

            def op(name, *args, **params):
                if name == "clamp_tensor":
                    x, lo, hi = torch.broadcast_tensors(*args)
                    return torch.clamp(x, min=lo, max=hi)
                return ops(name, *args, **params)
            self.op = op
    return ClampBroadcastFirst


def _clamp_bounds_broadcast(program, m):
    """A difference that goes once clamp's operands are broadcast together first."""
    from adapters.torch_adapter import TorchAdapter
    return any(isinstance(s, Op) and s.op == "clamp_tensor" for s in program.steps) and \
        m.where in differences_that_vanish(program, TorchAdapter, _clamp_bounds_broadcast_first())


def _is_recorded(step):
    """Does torch record this op: grad mode on in its innermost switch (an enable_grad inside
    a no_grad turns it back on), and not inside inference_mode (whose tensors never are)?"""
    if "inference_mode" in step.contexts:
        return False
    on = True
    for mode in step.contexts:
        if mode in ("enable_grad", "set_grad_enabled(True)"):
            on = True
        elif mode in ("no_grad", "set_grad_enabled(False)"):
            on = False
    return on


def _has_hardsigmoid(program):
    return any(isinstance(s, Op) and s.op == "hardsigmoid" and _is_recorded(s)
               for s in program.steps)


@functools.lru_cache(maxsize=1)
def _hardsigmoid_exact():
    """torch with hardsigmoid spelled clamp(x + 3, 0, 6) / 6: the same values (the CPU kernel
    computes min(max(x + 3, 0), 6) / 6), and a gradient of exactly 1/6 in float64 (DivBackward
    divides by 6.0). Strategies keep off the kinks, where clamp's mask would differ; its
    gradient is also differentiable, so the counterfactual has no double-backward error."""
    from adapters.torch_adapter import TorchAdapter

    class HardsigmoidExact(TorchAdapter):
        def __init__(self):
            super().__init__()
            ops, torch = self.op, self.torch

            def op(name, *args, **params):
                if name == "hardsigmoid":
                    return torch.clamp(args[0] + 3.0, 0.0, 6.0) / 6.0
                return ops(name, *args, **params)
            self.op = op
    return HardsigmoidExact


# float32's rounding of 1/6 is off by 2.98e-8 relative; a value through a few hardsigmoids
# carries a few times that. 1e-6 of the array's largest magnitude (the scale compare.py's
# absolute term uses) leaves headroom for that, and excludes a missing or wrong gradient.
_SIXTH_REL = 1e-6


def _magnitudes(program):
    """The largest magnitude of each finite value of the program's forward (reference)."""
    out = []
    for v in reference_env(program).values():
        try:
            x = np.abs(np.asarray(getattr(v, "data", None), dtype=np.float64)).ravel()
        except (TypeError, ValueError):  # not an array (a module, a tuple of them)
            continue
        x = x[np.isfinite(x)]
        if x.size:
            out.append(float(np.max(x)))
    return out


def _hardsigmoid_float32_sixth(program, m):
    """In float64, a value's difference that goes once hardsigmoid is spelled exactly (a
    gradient computed through hardsigmoid's backward, or a value computed from one), of the
    size of float32's rounding of 1/6: never an error, a None or a shape."""
    from adapters.torch_adapter import TorchAdapter
    if program.dtype != "float64" or not m.numeric or not _has_hardsigmoid(program):
        return False
    e = np.asarray(m.expected, dtype=np.float64)
    a = np.asarray(m.actual, dtype=np.float64)
    if e.shape != a.shape or not e.size or not np.all(np.isfinite(a)):
        return False
    # A gradient is a sum whose terms may cancel: across actions (a .grad's `change` far
    # larger than its total), or inside one backward (d(hardsigmoid(a) * a)/da is a/6 +
    # hardsigmoid(a), near 0 at a = -1.5); the rounding is relative to the terms, which the
    # program's values (the forward's, as the reference computes them) bound here.
    scale = max([np.max(np.abs(e))] + ([np.max(np.abs(np.asarray(m.change[0], np.float64)))]
                                       if m.change is not None and m.change[0] is not None
                                       else []) + _magnitudes(program))
    if np.max(np.abs(a - e)) > _SIXTH_REL * scale:
        return False
    return m.where in differences_that_vanish(program, TorchAdapter, _hardsigmoid_exact())


_NO_HARDSIGMOID_DOUBLE = "derivative for aten::hardsigmoid_backward is not implemented"


def _raised_saying(program, m, says, engine="torch"):
    """torch (`engine`, of ENGINES) raised a RuntimeError saying `says` where the reference
    raised nothing, and the gradients, returned values and hook calls that action then lacks."""
    if m.kind == "error":
        return raised_instead(m, None, "RuntimeError") and message_says(m, says)
    if m.kind not in ("grad", "retained", "returned", "hook", "nonleaf_grad",
                      "grad_requires_grad") or not reference_raised(program, m.action, None):
        return False
    result = engine_action(program, _engine_adapter(engine), m.action)
    return result is not None and result.error == "unexpected RuntimeError" and \
        says in (result.message or "")


def _hardsigmoid_no_double_backward(program, m):
    """A differentiation through a gradient that went through hardsigmoid's backward
    (create_graph=True, then backward or grad() of that gradient; or a grad() of a grad()
    inside the forward): torch raised that hardsigmoid_backward has no derivative."""
    return _has_hardsigmoid(program) and _raised_saying(program, m, _NO_HARDSIGMOID_DOUBLE)


_ZEROTENSOR_WRITTEN = "ZeroTensors are immutable"


def _std_backward_zerotensor(program, m):
    """A backward through std whose incoming gradient is an efficient ZeroTensor (sgn's
    backward, abs's double backward): torch raised that ZeroTensors are immutable."""
    return _recorded(program, "std") and _raised_saying(program, m, _ZEROTENSOR_WRITTEN)


def _leaf_grad_zerotensor(program, m):
    """A backward (or zero_grad) into a leaf's .grad that abs's double backward left as an
    efficient ZeroTensor: torch raised that ZeroTensors are immutable, in an action after a
    backward that wrote .grad (a backward's own kernels writing into one are other bugs)."""
    wrote_grad = any(isinstance(a, (Backward, BackwardThroughGrad))
                     for a in program.plan[:max(m.action, 0)])
    return wrote_grad and _recorded(program, "abs") and \
        _raised_saying(program, m, _ZEROTENSOR_WRITTEN)


def _mse_loss_double_backward_zerotensor(program, m, engine):
    """A differentiation through mse_loss's gradient (reduction 'mean', create_graph=True)
    whose incoming gradient is an efficient ZeroTensor (sgn's backward, abs's double
    backward): torch raised that ZeroTensors are immutable."""
    return any(isinstance(s, Op) and s.op == "mse_loss" and _is_recorded(s)
               and dict(s.params).get("reduction", "mean") == "mean" for s in program.steps) \
        and _raised_saying(program, m, _ZEROTENSOR_WRITTEN, engine)


# ----- the nn ops' kernels (eager torch and torch.func's transforms run the same) ----------
ENGINES = {"torch": ("adapters.torch_adapter", "TorchAdapter"),
           "torch-func": ("adapters.torch_func_adapter", "TorchFuncAdapter")}


def _engine_adapter(engine):
    """The adapter class of `engine` (a key of ENGINES), imported when a predicate asks."""
    module, cls = ENGINES[engine]
    return getattr(importlib.import_module(module), cls)


def _norm_dims(name, x, params):
    """The dims a norm's statistics reduce over, and the shape its weight and bias take."""
    if name == "layer_norm":
        k = len(params["normalized_shape"])
        return tuple(range(x.dim() - k, x.dim())), tuple(x.shape[x.dim() - k:])
    return (0,) + tuple(range(2, x.dim())), (x.shape[1],) + (1,) * (x.dim() - 2)


def _norm_spelled(torch, name, x, *affine, eps, **params):
    """A norm as autograd composes it from mean, var and rsqrt: the same values (to rounding),
    every derivative of its own, to any order, with no saved statistics."""
    dims, shape = _norm_dims(name, x, params)
    centered = x - x.mean(dims, keepdim=True)
    y = centered * torch.rsqrt((centered * centered).mean(dims, keepdim=True) + eps)
    if affine:
        y = y * affine[0].reshape(shape)
    return y + affine[1].reshape(shape) if len(affine) > 1 else y


def _gelu_spelled(torch, name, x, approximate="none"):
    """gelu's tanh form with torch.tanh, whose derivative is 1 - tanh^2 (finite at any input,
    to every order): the same values to rounding. The erf form is left as it is."""
    if approximate != "tanh":
        return torch.nn.functional.gelu(x, approximate=approximate)
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


SPELLED = {"layer_norm": _norm_spelled, "batch_norm": _norm_spelled, "gelu": _gelu_spelled}


@functools.lru_cache(maxsize=None)
def _counterfactual(engine, spelled=(), contiguous_grad=False):
    """`engine`'s adapter (ENGINES) with the ops in `spelled` composed of primitives, and,
    with `contiguous_grad`, batch_norm's incoming gradient made contiguous (a hook on its
    output, which torch.func's transforms run too) before NativeBatchNormBackward0 reads it:
    the same values, the graph otherwise unchanged."""

    class Counterfactual(_engine_adapter(engine)):
        def __init__(self):
            super().__init__()
            ops, torch = self.op, self.torch

            def op(name, *args, **params):
                if name in spelled:
                    return SPELLED[name](torch, name, *args, **params)
                out = ops(name, *args, **params)
                if contiguous_grad and name == "batch_norm" and out.requires_grad:
                    out.register_hook(lambda g: g.contiguous())
                return out
            self.op = op
    return Counterfactual


def _recorded(program, name):
    return any(isinstance(s, Op) and s.op == name and _is_recorded(s) for s in program.steps)


def _batch_norm_grad_strides(program, m, engine):
    """A difference that goes once batch_norm's incoming gradient is made contiguous."""
    return _recorded(program, "batch_norm") and m.where in differences_that_vanish(
        program, _counterfactual(engine), _counterfactual(engine, contiguous_grad=True))


NORMS = ("layer_norm", "batch_norm")


def _norm_third_order(name):
    """A difference that goes once the norm `name` is composed of primitives (whose
    derivatives to every order are autograd's own), of what is left once batch_norm's
    incoming gradient is made contiguous (the strides bug, stated apart). Where the program
    also records the other norm, also one that goes once `name` is composed with the other
    already composed: a difference both bugs cause together is each one's."""
    other = next(n for n in NORMS if n != name)

    def applies(program, m, engine):
        if not _recorded(program, name):
            return False
        already = ((), (other,)) if _recorded(program, other) else ((),)
        return any(m.where in differences_that_vanish(
            program, _counterfactual(engine, spelled, True),
            _counterfactual(engine, tuple(sorted(spelled + (name,))), True))
            for spelled in already)
    applies.__name__ = applies.__qualname__ = f"_{name}_third_order"
    return applies


def _gelu_tanh_third_order(program, m, engine):
    """A difference that goes once gelu's tanh form is spelled with torch.tanh."""
    return any(isinstance(s, Op) and s.op == "gelu" and dict(s.params).get("approximate")
               == "tanh" and _is_recorded(s) for s in program.steps) and \
        m.where in differences_that_vanish(program, _counterfactual(engine),
                                           _counterfactual(engine, ("gelu",)))


@dataclass(frozen=True)
class OnEngine:
    """A predicate (program, mismatch, engine) as `applies`, asked of `engine`'s own runs;
    `on(other)` is the same predicate for an engine with the same kernels (torch.func's
    transforms), whose deviation file states the entry with it."""
    predicate: Callable
    engine: str = "torch"

    def __call__(self, program, m):
        return self.predicate(program, m, self.engine)

    def on(self, engine):
        return replace(self, engine=engine)


def _zero_gradient_detached(program, m):
    """A gradient value that is identically zero (square's third derivative: pow's backward
    at exponent 0) which torch hands back detached: what is made from it does not require
    grad in torch (the reference's stays attached), a backward from it raises no_grad_fn,
    and the leaves' .grad stay None where the reference accumulates zeros."""
    if not any(isinstance(s, Op) and s.op in ("square", "pow") for s in program.steps):
        return False
    env = reference_env(program)
    zero_grads = {o for s in program.steps if isinstance(s, GradStep) for o in s.outs
                  if o in env and is_zero(env[o].data, program.dtype)}
    if not zero_grads:
        return False
    if m.kind == "requires_grad":
        return m.expected is True and m.actual is False and bool(
            upstream(program, {m.name}) & zero_grads)
    if m.where == "forward":  # a later GradStep of a value made from it: no_grad_fn there
        return m.expected is None and m.actual == "no_grad_fn" and any(
            isinstance(s, GradStep) and all(upstream(program, {o}) & zero_grads
                                            for o in s.outputs) for s in program.steps)
    action = program.plan[m.action] if 0 <= m.action < len(program.plan) else None
    if not isinstance(action, (Backward, Grad)) or not all(
            upstream(program, {r}) & zero_grads for r in action_roots(action)):
        return False
    if m.kind == "error":
        return m.expected is None and m.actual == "no_grad_fn"
    return m.kind == "grad" and m.actual is None and is_zero(m.expected, program.dtype)


DEVIATIONS = [
    Deviation(
        id="torch-grad-aliasing",
        reason="AccumulateGrad keeps an incoming gradient as .grad without copying it; through "
               "stack/cat (of 0-d or unsqueezed leaves) then a sum, two leaves' gradients are "
               "views of one buffer (unbind/narrow of the sum's expanded gradient), so their "
               ".grad share memory and the next in-place accumulation into one adds into both "
               "(clip_grad_norm_ and optimizers see it too)",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2,), (0.5, -0.75)), Leaf("b", (2,), (-1.25, 1.5))),
            steps=(Op("t1", "stack", ("a", "b"), (("dim", 0),)),
                   Op("t2", "sum", ("t1",), (("dim", (0,)), ("keepdim", False))),
                   Op("t3", "scale", ("t2",), (("c", 2.0),)),
                   Op("loss", "sum", ("t3",), (("dim", (0,)), ("keepdim", False)))),
            plan=(Backward(("loss",), (None,), True), Backward(("loss",), (None,))),
        ),
        finding="findings/torch/grad-aliasing.py",
        applies=_aliased_grads,
    ),
    Deviation(
        id="torch-make-grads-index",
        reason="torch.autograd._make_grads builds its shape-mismatch message with "
               "grads.index(grad), which compares tensors with ==, so a wrong-shaped weight for "
               "a root after the first raises an unrelated error (ambiguous bool / size mismatch)",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2,), (0.5, -0.75)),),
            steps=(Op("t1", "exp", ("a",)), Op("t2", "sin", ("a",))),
            plan=(Backward(("t1", "t2"), ((1.0, 2.0), ((1.0, 1.0), (1.0, 1.0)))),),
        ),
        applies=_make_grads_index_bug,
    ),
    Deviation(
        id="torch-stale-view-is-leaf",
        reason="a view taken while its base did not require grad keeps a stale grad_fn after "
               "an in-place op with a grad-requiring operand makes the base require grad; "
               "check_inplace reads that stale field, so an in-place op on the view raises 'a "
               "leaf Variable that requires grad is being used in an in-place operation' "
               "(reading view.grad_fn first refreshes it, and then no error is raised)",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2,), (0.5, -0.75)), Leaf("b", (2,), (0.75, -1.0))),
            steps=(Op("t1", "neg", ("a",), no_grad=True),
                   Op("v2", "unsqueeze", ("t1",), (("dim", 0),)),
                   InPlace("t1", "add_", ("b",)),
                   InPlace("v2", "relu_")),
            plan=(Backward(("t1",), ((1.0, 1.0),)),),
        ),
        applies=_stale_view_is_leaf,
    ),
    Deviation(
        id="torch-batched-grad-materialized-zeros-unbatched",
        reason="autograd.grad(is_grads_batched=True, materialize_grads=True) materializes an "
               "unused input's gradient after its vmap, with zeros_like(input): the batch "
               "dimension is missing (the loop of one grad() a row gives zeros of shape "
               "(batch,) + the input's)",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2,), (0.5, -1.0)), Leaf("b", (3,), (1.0, 2.0, 3.0))),
            steps=(Op("t1", "exp", ("a",)),),
            plan=(Grad(("t1",), ("a", "b"), (((1.0, 0.0), (0.0, 1.0)),), allow_unused=True,
                       materialize_grads=True, batched=True),),
        ),
        finding="findings/torch/batched-grad-materialized-zeros-unbatched.py",
        applies=_batched_zeros_unbatched,
    ),
    Deviation(
        id="torch-clamp-tensor-bounds-broadcast-backward",
        reason="clamp with tensor bounds: ClampBackward0 builds its masks with in-place "
               "logical_and_/logical_or_, which cannot grow their left side, so where the "
               "bounds broadcast the output beyond the input and one bound (x (2,), lo (1,), "
               "hi (2, 1)) the backward raises 'output with shape [2] doesn't match the "
               "broadcast shape [2, 2]'",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2,), (-0.2, 0.3)), Leaf("b", (1,), (-1.5,), False),
                    Leaf("c", (2, 1), (0.5, 0.25), False)),
            steps=(Op("t1", "clamp_tensor", ("a", "b", "c")),),
            plan=(Backward(("t1",), (((1.0, 1.0), (1.0, 1.0)),)),),
        ),
        finding="findings/torch/clamp-tensor-bounds-broadcast-backward.py",
        applies=_clamp_bounds_broadcast,
    ),
    Deviation(
        id="torch-hardsigmoid-float64-grad-float32-sixth",
        reason="hardsigmoid's CPU backward kernel multiplies by 1/6 computed as 1.0f / 6.0f, "
               "in float32 even for float64 tensors: every float64 gradient through "
               "hardsigmoid is off by 3e-8 relative (0.1666666716337204 for 1/6), where "
               "clamp(x + 3, 0, 6) / 6 and hardswish's backward are exact",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2,), (0.5, -2.5)),),
            steps=(Op("t1", "hardsigmoid", ("a",)),),
            plan=(Backward(("t1",), ((1.0, 1.0),)),),
        ),
        finding="findings/torch/hardsigmoid-float64-grad-float32-sixth.py",
        applies=_hardsigmoid_float32_sixth,
        dtypes=("float64",),
    ),
    Deviation(
        id="torch-hardsigmoid-no-double-backward",
        reason="hardsigmoid_backward has no derivative formula (derivatives.yaml): a backward "
               "through a gradient that went through hardsigmoid's backward with "
               "create_graph=True raises 'derivative for aten::hardsigmoid_backward is not "
               "implemented', where its derivative is zero away from the kinks",
        program=Program(  # float32, where 1.0f / 6.0f is exact: this difference alone
            dtype="float32",
            leaves=(Leaf("a", (2,), (0.5, -2.5)),),
            steps=(Op("t1", "hardsigmoid", ("a",)),),
            plan=(Backward(("t1",), ((1.0, 1.0),), create_graph=True),
                  BackwardThroughGrad(("a",), ((1.0, 1.0),))),
        ),
        applies=_hardsigmoid_no_double_backward,
    ),
    Deviation(
        id="torch-batch-norm-grad-channels-last-strides",
        reason="batch_norm's CPU backward (training mode) computes a wrong input gradient "
               "when the incoming gradient has channels-last strides that torch's "
               "suggest_memory_format does not call channels-last (a size-1 last dim with "
               "stride 1, as transpose(1, 2) of a contiguous (N, C, H, 1) gives) and the "
               "input is contiguous; the same gradient made contiguous gives the right one",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2, 2, 2, 1), (-1.25, 1.5, -0.5, 0.75, -1.0, 1.25, -1.5, 0.5)),),
            steps=(Op("t1", "batch_norm", ("a",), (("eps", 1e-05),)),
                   Op("t2", "transpose", ("t1",), (("dim0", 1), ("dim1", 2)))),
            plan=(Backward(("t2",), (((((-1.0,), (1.25,)), ((-1.5,), (0.5,))),
                                      (((-0.75,), (1.0,)), ((-1.25,), (1.5,)))),)),),
        ),
        finding="findings/torch/batch-norm-grad-channels-last-strides.py",
        applies=OnEngine(_batch_norm_grad_strides),
    ),
    Deviation(
        id="torch-layer-norm-third-order",
        reason="layer_norm's double backward (layer_norm_double_backward) takes the forward's "
               "saved mean and inverse std as values without autograd history, so a "
               "derivative through it (third order and up: a grad() of a gradient made with "
               "create_graph=True twice) treats them as constants and is silently wrong "
               "(pytorch/pytorch#175754); first and second derivatives are right",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2, 3), (0.5, -0.75, 1.25, -1.0, 0.25, 1.5)),),
            steps=(Op("t1", "layer_norm", ("a",), (("eps", 1e-05), ("normalized_shape", (3,)))),
                   GradStep(("g2",), ("t1",), ("a",), (((-1.0, 1.25, 0.5), (0.75, -0.5, 1.0)),)),
                   GradStep(("g3",), ("g2",), ("a",), (((1.0, -0.5, 0.25), (-1.25, 0.75, 0.5)),))),
            plan=(Grad(("g3",), ("a",), (((0.5, 1.0, -0.75), (1.25, -1.0, 0.25)),)),),
        ),
        finding="findings/torch/layer-norm-third-order.py",
        applies=OnEngine(_norm_third_order("layer_norm")),
    ),
    Deviation(
        id="torch-batch-norm-third-order",
        reason="batch_norm's double backward in training mode (batchnorm_double_backward) "
               "takes the forward's saved mean and inverse std as values without autograd "
               "history, so a derivative through it (third order and up) treats them as "
               "constants and is silently wrong (pytorch/pytorch#186256, the cause of "
               "layer_norm's); first and second derivatives are right",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (3, 2), (0.5, -0.75, 1.25, -1.0, -0.25, 1.5)),),
            steps=(Op("t1", "batch_norm", ("a",), (("eps", 1e-05),)),
                   GradStep(("g2",), ("t1",), ("a",), (((-1.0, 1.25), (0.5, 0.75), (-0.5, 1.0)),)),
                   GradStep(("g3",), ("g2",), ("a",),
                            (((1.0, -0.5), (0.25, -1.25), (0.75, 0.5)),))),
            plan=(Grad(("g3",), ("a",), (((0.5, 1.0), (-0.75, 1.25), (-1.0, 0.25)),)),),
        ),
        finding="findings/torch/batch-norm-third-order.py",
        applies=OnEngine(_norm_third_order("batch_norm")),
    ),
    Deviation(
        id="torch-gelu-tanh-third-order-nan",
        reason="gelu(approximate='tanh')'s double backward (gelu_double_backward) computes "
               "sech(u) as 1 / cosh(u), u = sqrt(2/pi) (x + 0.044715 x^3); cosh overflows to "
               "inf for |x| past ~26.9 (float64; ~13.1 in float32), and a derivative through "
               "it (third order and up) is -sinh/cosh^2 = inf/inf: NaN where the derivative "
               "is 0 (the first two are right)",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2,), (27.0, 0.5)),),
            steps=(Op("t1", "gelu", ("a",), (("approximate", "tanh"),)),
                   GradStep(("g2",), ("t1",), ("a",), ((1.0, 1.0),)),
                   GradStep(("g3",), ("g2",), ("a",), ((1.0, 1.0),))),
            plan=(Grad(("g3",), ("a",), ((1.0, 1.0),)),),
        ),
        finding="findings/torch/gelu-tanh-third-order-nan.py",
        applies=OnEngine(_gelu_tanh_third_order),
    ),
    Deviation(
        id="torch-std-backward-zerotensor",
        reason="std's backward computes (grad / (result * 2)).masked_fill_(result == 0, 0) in "
               "place; where its incoming gradient is an efficient ZeroTensor (sgn's backward "
               "for a real input, so abs's double backward) that raises 'ZeroTensors are "
               "immutable', where the gradient is zeros",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2,), (0.5, -0.75)),),
            steps=(Op("t1", "std", ("a",), (("correction", 0), ("dim", 0), ("keepdim", False))),
                   Op("t2", "abs", ("t1",)),
                   GradStep(("g3",), ("t2",), ("t1",), (None,))),
            plan=(Backward(("g3",), (None,)),),
        ),
        finding="findings/torch/std-backward-zerotensor.py",
        applies=_std_backward_zerotensor,
    ),
    Deviation(
        id="torch-mse-loss-double-backward-zerotensor",
        reason="mse_loss's double backward (mse_loss_double_backward, reduction 'mean') "
               "computes grad_input = 2 * grad, then grad_input.div_(numel) in place; where "
               "its incoming gradient is an efficient ZeroTensor (sgn's backward for a real "
               "input, so abs's double backward) that raises 'ZeroTensors are immutable', "
               "where the gradient is zeros",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2,), (0.5, -0.75)), Leaf("b", (2,), (0.25, 1.5))),
            steps=(Op("t1", "mse_loss", ("a", "b")),
                   GradStep(("g2",), ("t1",), ("a",), (None,)),
                   Op("t3", "abs", ("g2",)),
                   GradStep(("g4",), ("t3",), ("a",), ((1.0, -0.5),))),
            plan=(Grad(("g4",), ("a",), ((1.0, 1.0),)),),
        ),
        finding="findings/torch/mse-loss-double-backward-zerotensor.py",
        applies=OnEngine(_mse_loss_double_backward_zerotensor),
    ),
    Deviation(
        id="torch-leaf-grad-zerotensor",
        reason="sgn's backward for a real input (so abs's double backward) returns an efficient "
               "ZeroTensor, and AccumulateGrad stores it as is in a leaf's .grad when .grad is "
               "None; the next backward that accumulates into that .grad (and zero_grad with "
               "set_to_none=False, clip_grad_norm_) then raises 'ZeroTensors are immutable', "
               "where it should add to zeros",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (2,), (0.5, -0.75)),),
            steps=(Op("t1", "abs", ("a",)),
                   GradStep(("g2",), ("t1",), ("a",), ((1.0, 1.0),)),
                   Op("t3", "exp", ("a",))),
            plan=(Backward(("g2",), ((1.0, 1.0),)), Backward(("t3",), ((1.0, 1.0),))),
        ),
        finding="findings/torch/leaf-grad-zerotensor.py",
        applies=_leaf_grad_zerotensor,
    ),
    Deviation(
        id="torch-zero-gradient-detached",
        reason="pow's backward returns a fresh zeros tensor, detached from the graph, where "
               "the exponent is 0 (square's third derivative): a gradient value that is "
               "identically zero, which the reference keeps attached, does not require grad in "
               "torch, so a backward from it raises no_grad_fn and .grad stays None where the "
               "reference accumulates zeros (requires_grad of a constant gradient is each "
               "engine's choice)",
        program=Program(
            dtype="float64",
            leaves=(Leaf("a", (), (0.5,)), Leaf("b", (), (-1.25,), requires_grad=False)),
            steps=(Op("t1", "square", ("a",)),
                   GradStep(("g2",), ("t1",), ("a",), (None,)),
                   Op("t3", "mul", ("g2", "b")),
                   GradStep(("g4",), ("t3",), ("a",), (None,)),
                   Op("t6", "exp", ("g4",)),
                   GradStep(("g7",), ("t6",), ("a",), (None,))),
            plan=(Backward(("g7",), (None,)),),
        ),
        applies=_zero_gradient_detached,
    ),
]
