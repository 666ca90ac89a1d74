"""Known differences between MyGrad 2.5 and the reference (torch's semantics), each one
MyGrad's documented or coded behaviour (mygrad/tensor_base.py: Tensor.backward, Tensor._op)."""
import contextlib
import functools

import numpy as np

from harness.deviations import (Deviation, differences_that_vanish, engine_action, leaves,
                                 message_says, raised_instead, reference_env, reference_shapes)
from gradspec.program import Backward, Call, Op, Program, RetainGrad
from gradspec.vocabulary import VIEWS


def _after_a_backward(program, m):
    return m.action >= 1 and any(isinstance(a, Backward) for a in program.plan[:m.action])


def _graph_cleared(program, m):
    """At a plan action after a backward: an error MyGrad does not raise, or raises as
    InvalidBackprop (graph_freed); a .grad holding only what this action added (no
    accumulation), left as it was (a cleared graph computes nothing), or None (nulled first,
    then nothing computed); any .grad where MyGrad raised InvalidBackprop midway (the
    reference ran). Judged action by action: a later gradient that is none of these
    is not explained."""
    if not _after_a_backward(program, m):
        return False
    if m.kind == "error":
        return m.actual in (None, "graph_freed")
    if m.kind not in ("grad", "retained"):
        return False
    if m.actual is None or _raised_midway(program, m.action):
        return True  # a backward that stopped midway leaves what it had done: unspecified
    if m.change is None:
        return False
    added, changed = m.change
    return _same(m.actual, added) or changed is None or not np.any(changed)


def _raised_midway(program, action):
    from adapters.mygrad_adapter import MyGradAdapter
    result = engine_action(program, MyGradAdapter, action)
    return result is not None and result.error == "graph_freed"


def _same(value, added):
    if added is None:
        return False
    return np.shape(value) == np.shape(added) and np.allclose(value, added, rtol=1e-6,
                                                              atol=1e-9)


def _implicit_nonscalar(program, m):
    """A difference at a backward whose (one) root is non-scalar and has no gradient weight."""
    if m.kind not in ("error", "grad", "retained", "nonleaf_grad") or m.action < 0:
        return False
    action = program.plan[m.action]
    if not isinstance(action, Backward) or action.weights != (None,):
        return False
    shape = reference_shapes(program).get(action.roots[0], ())
    return bool(shape) and (m.kind != "error" or (m.expected == "nonscalar_implicit_grad"
                                                   and m.actual is None))


def _no_grad_values(program):
    """Values computed under no_grad, and the values computed from them (but not detached)."""
    tainted = set()
    for step in program.steps:
        if isinstance(step, Op) and (step.no_grad or tainted & set(step.args)):
            tainted.add(step.out)
        elif isinstance(step, Call) and tainted & set(a for a in step.args if a):
            tainted.update(step.outs)
    return tainted


def _no_autodiff_variables(program, m):
    if m.kind == "requires_grad":
        return m.expected is False and m.actual is True and m.name in _no_grad_values(program)
    if m.kind == "error" and m.expected == "no_grad_fn" and m.actual is None:
        action = program.plan[m.action]
        return isinstance(action, Backward) and action.roots[0] in _no_grad_values(program)
    return False


def _constant_backward(program, m):
    """No error from a backward whose root is constant in MyGrad too (it does not require
    grad in torch, and is not a no_grad value): MyGrad returns before any check."""
    if not (m.kind == "error" and m.expected is not None and m.actual is None):
        return False
    action = program.plan[m.action]
    if not isinstance(action, Backward):
        return False
    root = action.roots[0]
    return getattr(reference_env(program).get(root), "requires_grad", True) is False and \
        root not in _no_grad_values(program)


def _view_grad(program, m):
    """The retained .grad of a value made by a view op (MyGrad reads it off its base's)."""
    views = {s.out for s in program.steps if isinstance(s, Op) and s.op in VIEWS}
    return m.kind == "retained" and m.name in views


def _nonleaf_grad(program, m):
    return m.kind == "nonleaf_grad" and m.expected is None and m.actual is not None


def _pair(v, n):
    return tuple(v) if isinstance(v, tuple) else (v,) * n


def _window_geometry(step, shapes):
    """Per spatial dim of a conv or max-pool step: (input size, kernel, stride, padding,
    dilation); None where a shape is unknown."""
    x = shapes.get(step.args[0])
    if x is None:
        return None
    kw = step.kw
    if step.op == "max_pool2d":
        kernel = _pair(kw["kernel_size"], 2)
        stride = kernel if kw["stride"] is None else _pair(kw["stride"], 2)
        padding, dilation = _pair(kw["padding"], 2), (1, 1)
    else:
        w = shapes.get(step.args[1])
        if w is None:
            return None
        nd = len(w) - 2
        kernel = w[2:]
        stride, padding, dilation = (_pair(kw[k], nd) for k in ("stride", "padding", "dilation"))
    return tuple(zip(x[-len(kernel):], kernel, stride, padding, dilation))


def _rejected(size, k, s, p, d):
    """Why mygrad's conv_nd / max_pool raise for one dim (in the order they check), or None:
    "tile" where the stride does not tile the padded input exactly (conv.py, pooling.py),
    "dilated" where the window k * d, not the dilated kernel's extent (k - 1) * d + 1, is
    larger than the padded input (sliding_window_view)."""
    padded = size + 2 * p
    if (padded - ((k - 1) * d + 1)) % s:
        return "tile"
    return "dilated" if k * d > padded else None


def _first_rejected(program):
    """The reason mygrad's first conv/max-pool step that it rejects raises (None: none does).
    A step checks every dim for "tile" before it windows the input ("dilated")."""
    shapes = reference_shapes(program)
    for step in program.steps:
        if isinstance(step, Op) and step.op in ("conv1d", "conv2d", "max_pool2d"):
            dims = _window_geometry(step, shapes)
            reasons = {_rejected(*g) for g in dims or ()}
            for reason in ("tile", "dilated"):
                if reason in reasons:
                    return reason
    return None


def _windows_must_tile(program, m):
    return raised_instead(m, None, "ValueError") and m.action < 0 and message_says(
        m, "Stride and kernel dimensions are incompatible") and _first_rejected(program) == "tile"


def _dilated_window_check(program, m):
    return raised_instead(m, None, "ValueError") and m.action < 0 and message_says(
        m, "The dilated window", "must fit within") and _first_rejected(program) == "dilated"


@contextlib.contextmanager
def _windows_of_copies():
    """conv_nd and max_pool windowing a fresh copy of their input (standard strides)."""
    from mygrad.nnet.layers import conv, pooling, utils
    original = utils.sliding_window_view

    def copied(arr, *args, **kwargs):
        return original(np.array(arr, order="C"), *args, **kwargs)
    saved = conv.sliding_window_view, pooling.sliding_window_view
    conv.sliding_window_view = pooling.sliding_window_view = copied
    try:
        yield
    finally:
        conv.sliding_window_view, pooling.sliding_window_view = saved


@functools.lru_cache(maxsize=1)
def _strides_standard():
    """MyGrad with the one behaviour `mygrad-window-view-last-stride` states changed: the
    windows are taken of a copy of the input, whose last stride is its item size."""
    from adapters.mygrad_adapter import MyGradAdapter

    class StridesStandard(MyGradAdapter):
        def __init__(self):
            super().__init__()
            op = self.op

            def windowed(*args, **params):
                with _windows_of_copies():
                    return op(*args, **params)
            self.op = windowed

        def backward(self, *args):
            with _windows_of_copies():
                return super().backward(*args)
    return StridesStandard


def _window_view_strides(program, m):
    from adapters.mygrad_adapter import MyGradAdapter
    return any(isinstance(s, Op) and s.op in ("conv1d", "conv2d", "max_pool2d")
               for s in program.steps) and \
        m.where in differences_that_vanish(program, MyGradAdapter, _strides_standard())


DEVIATIONS = [
    Deviation(
        id="mygrad-backward-of-constant-is-silent",
        reason="Tensor.backward() on a constant tensor (torch: one that does not require grad) "
               "returns at once, computing nothing and checking nothing (not even the gradient "
               "weight's shape); torch raises 'does not require grad and does not have a "
               "grad_fn' (or the shape error)",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (), (0.5,), True), ("b", (), (1.25,), False)),
            steps=(Op("t1", "log", ("b",)),),
            plan=(Backward(("t1",), (None,)),),
        ),
        applies=_constant_backward,
    ),
    Deviation(
        id="mygrad-implicit-nonscalar-backward-sums",
        reason="backward() without a gradient on a non-scalar tensor backpropagates ones (as "
               "if the tensor were summed first, as MyGrad documents); torch raises 'grad can "
               "be implicitly created only for scalar outputs'",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (2,), (0.5, -1.25), True)),
            steps=(Op("t1", "mul", ("a", "a")),),
            plan=(Backward(("t1",), (None,)),),
        ),
        applies=_implicit_nonscalar,
    ),
    Deviation(
        id="mygrad-backward-clears-graph-no-accumulation",
        reason="backward() first sets .grad to None on every tensor of the graph and clears the "
               "graph when done: .grad never accumulates across calls; a second backward from "
               "the same root changes nothing and raises nothing, one from another root "
               "through the cleared part raises InvalidBackprop",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (), (0.5,), True)),
            steps=(Op("t1", "scale", ("a",), (("c", 2.0),)), RetainGrad("t1")),
            plan=(Backward(("t1",), (None,)), Backward(("t1",), (None,))),
        ),
        applies=_graph_cleared,
    ),
    Deviation(
        id="mygrad-no-autodiff-outputs-are-variables",
        reason="a tensor computed under mygrad.no_autodiff is a new non-constant tensor (its "
               "float dtype decides), so it and what is computed from it 'require grad' and "
               "can be backpropagated into; torch.no_grad results have requires_grad=False",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (), (0.5,), True)),
            steps=(Op("t1", "exp", ("a",), no_grad=True),),
            plan=(Backward(("t1",), (None,)),),
        ),
        applies=_no_autodiff_variables,
    ),
    Deviation(
        id="mygrad-view-grad-is-base-grad",
        reason="the .grad of a tensor that is a view of another (reshape, transpose, expand, "
               "basic indexing...) is its base's .grad viewed the same way (MyGrad documents "
               "this), not the gradient w.r.t. the view: an expanded view shows the summed "
               "gradient, a view of a tensor used elsewhere shows the other uses too",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (1,), (0.5,), True)),
            steps=(Op("t1", "expand", ("a",), (("shape", (2, 1)),)), RetainGrad("t1"),
                   Op("t2", "sum", ("t1",), (("dim", (0, 1)), ("keepdim", False))),
                   RetainGrad("t2")),
            plan=(Backward(("t2",), (None,)),),
        ),
        applies=_view_grad,
    ),
    Deviation(
        id="mygrad-nonleaf-grads-kept",
        reason="backward() writes .grad on every tensor of the graph, intermediate ones "
               "included; torch keeps a non-leaf's gradient only after retain_grad()",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (), (0.5,), True)),
            steps=(Op("t1", "scale", ("a",), (("c", 2.0),)),),
            plan=(Backward(("t1",), (None,)),),
        ),
        applies=_nonleaf_grad,
    ),
    Deviation(
        id="mygrad-conv-pool-windows-must-tile",
        reason="conv_nd and max_pool raise ValueError 'Stride and kernel dimensions are "
               "incompatible' where the stride does not tile the (padded) input exactly; torch "
               "leaves the rows a last window would not fill out",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (1, 1, 2, 2), (0.5, -0.75, 1.0, -1.25), True)),
            steps=(Op("t1", "max_pool2d", ("a",), (("kernel_size", 1), ("padding", 0),
                                                    ("stride", 2))),),
            plan=(Backward(("t1",), ((((1.0,),),),)),),
        ),
        applies=_windows_must_tile,
    ),
    Deviation(
        id="mygrad-conv-dilated-window-rejected",
        reason="conv_nd with dilation d raises ValueError 'The dilated window ... must fit' "
               "where kernel * d exceeds the padded input though the dilated kernel, "
               "(kernel - 1) * d + 1 wide, fits: the check in sliding_window_view is off",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (1, 1, 3), (0.5, -0.75, 1.0), True),
                          ("b", (1, 1, 2), (-0.62, 0.75), True)),
            steps=(Op("t1", "conv1d", ("a", "b"), (("dilation", 2), ("groups", 1),
                                                    ("padding", 0), ("stride", 1))),),
            plan=(Backward(("t1",), (((1.0,),),)),),
        ),
        applies=_dilated_window_check,
        finding="findings/mygrad/conv-dilated-window-rejected.py",
    ),
    Deviation(
        id="mygrad-window-view-last-stride",
        reason="conv_nd and max_pool read wrong memory where their input's last dim has size "
               "1 and a stride other than the item size (NumPy allows any there; an advanced "
               "index gives one): sliding_window_view takes arr.strides[-1] for the item size",
        program=Program(
            dtype="float64",
            leaves=leaves(("a", (3, 1, 1), (-0.46, 1.32, -1.49), True)),
            steps=(Op("t1", "index", ("a",), (("dim", 2), ("indices", (0,)))),
                   RetainGrad("t1"),
                   Op("t2", "max_pool2d", ("t1",), (("kernel_size", 1), ("padding", 0),
                                                     ("stride", 1))),
                   RetainGrad("t2")),
            plan=(Backward(("t2",), ((((1.0,),), ((1.0,),), ((1.0,),)),)),),
        ),
        applies=_window_view_strides,
        finding="findings/mygrad/window-view-last-stride.py",
    ),
]
