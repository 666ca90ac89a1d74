"""Stated deviations explain what the engine shows and no more: programs the suites drew
(shrunk), judged with the engine's deviation file. Each engine's part is skipped where it is
not installed."""
import numpy as np
import pytest

from gradspec.reference_adapter import ReferenceAdapter
from gradspec import program as P
from gradspec.compare import Mismatch, compare
from harness.deviations import load
from gradspec.interpreter import run


def _deviation(engine, id_):
    return next(d for d in load(engine) if d.id == id_)


def _mismatches(program, candidate):
    return compare(program, run(program, ReferenceAdapter()), run(program, candidate,
                                                                  strict=False))


def _leaves(*values):
    return tuple(P.Leaf(n, (), (v,)) for n, v in zip("abc", values))


# ----- HIPS autograd -------------------------------------------------------------------------
# a + b stacked with c, then where(t2, t1): t1 broadcast, its gradient not summed back by
# anp.where's vjp but by add's further down, so a.grad and b.grad are 2, not 1 (right shape).
WHERE_AFTER_STACK = P.Program(dtype="float64", leaves=_leaves(0.5, -1.25, 0.75), steps=(
    P.Op("t1", "add", ("a", "b")), P.Op("t2", "stack", ("t1", "c"), (("dim", 0),)),
    P.Op("t3", "where", ("t2", "t1"), (("condition", (True, True)),)),
    P.Op("loss", "sum", ("t3",), (("dim", (0,)), ("keepdim", False)))),
    plan=(P.Backward(("loss",), (None,)),))


def test_autograd_predicates_take_0d_arrays():
    """A .grad mismatch holds arrays: `actual == ()` on a 0-d one is an empty array, whose truth
    value raised ValueError in the predicate."""
    m = Mismatch("a.grad", np.array(1.0), np.array(2.0), "max abs diff 1", kind="grad",
                 name="a", action=0)
    for d in load("autograd"):
        assert d.applies(WHERE_AFTER_STACK, m) in (True, False)


def test_autograd_where_explains_a_wrong_value_summed_back_downstream():
    pytest.importorskip("autograd")
    from adapters.autograd_adapter import AutogradAdapter
    found = _mismatches(WHERE_AFTER_STACK, AutogradAdapter())
    assert {(m.kind, m.name) for m in found} == {("grad", "a"), ("grad", "b")}
    assert _deviation("autograd", "autograd-where-no-unbroadcast").explains(
        WHERE_AFTER_STACK, found)
    # the same values without the where are not its
    plain = P.Program(dtype="float64", leaves=WHERE_AFTER_STACK.leaves,
                      steps=WHERE_AFTER_STACK.steps[:2] + (
                          P.Op("loss", "sum", ("t2",), (("dim", (0,)), ("keepdim", False))),),
                      plan=WHERE_AFTER_STACK.plan)
    assert not _deviation("autograd", "autograd-where-no-unbroadcast").explains(
        plain, [m for m in found if m.kind == "grad"])


def test_autograd_wrong_custom_grad_shape_fails_before_the_unused_input_error():
    pytest.importorskip("autograd")
    from adapters.autograd_adapter import AutogradAdapter
    program = P.Program(
        dtype="float64", leaves=_leaves(0.5),
        functions=(P.FunctionSpec("Fn0", 1, (("sign", (0,)),), (), (P.GradRule(()),)),
                   P.FunctionSpec("Fn1", 1, (("sign", (0,)), ("sign", (0,))), (("input", 0),),
                                  (P.GradRule((P.Term(0, ("one",)), P.Term(0, ("one",)))),),
                                  grad_shape_error=True)),
        steps=(P.CallFunction(("f1",), "Fn0", ("a",)),
               P.CallFunction(("f2", "f3"), "Fn1", ("f1",))),
        plan=(P.Grad(("f3",), ("a",), (None,)),))
    found = _mismatches(program, AutogradAdapter())
    assert [(m.expected, m.actual) for m in found] == [("unused_input", "unexpected ValueError")]
    assert _deviation("autograd", "autograd-unchecked-custom-grads").explains(program, found)


# ----- tinygrad ------------------------------------------------------------------------------
A22 = P.Leaf("a", (2, 2), (0.5, -0.75, 1.0, -1.25))
B22 = P.Leaf("b", (2, 2), (0.25, 2.0, -1.5, 0.75))


def _tinygrad():
    pytest.importorskip("tinygrad")
    from adapters.tinygrad_adapter import TinygradAdapter
    return TinygradAdapter()


def _summed_cat(*args):
    return P.Program(dtype="float64", leaves=(A22, B22), steps=(
        P.Op("t1", "cat", args, (("dim", 0),)),
        P.Op("t2", "sum", ("t1",), (("dim", (0, 1)), ("keepdim", False))),
        P.Op("t3", "exp", ("t2",))), plan=(P.Grad(("t3",), ("a",), (None,)),))


def test_tinygrad_cat_of_itself_explains_the_sum_and_what_follows():
    deviation = _deviation("tinygrad", "tinygrad-cat-of-itself-sum")
    program = _summed_cat("a", "a")
    found = _mismatches(program, _tinygrad())
    assert {(m.kind, m.name) for m in found} == {("forward", "t2"), ("forward", "t3"),
                                                 ("returned", "")}
    assert deviation.explains(program, found)
    # The same differences on a cat of two tensors are not its: tinygrad gets that one right.
    other = _summed_cat("a", "b")
    assert _mismatches(other, _tinygrad()) == []
    assert not deviation.explains(other, [m for m in found if m.kind == "forward"])


def test_tinygrad_gradient_of_a_detached_value_is_no_requires_grad():
    program = P.Program(dtype="float64", leaves=_leaves(0.5), steps=(P.Detach("d1", "a"),),
                        plan=(P.Grad(("d1",), ("a",), (None,)),))
    found = _mismatches(program, _tinygrad())
    assert {m.kind for m in found} == {"requires_grad", "error", "returned"}
    assert _deviation("tinygrad", "tinygrad-no-requires-grad").explains(program, found)


def test_tinygrad_second_implicit_backward_of_a_1_element_root():
    """torch makes the implicit gradient of a (1,) root, then raises graph_freed; tinygrad,
    which never frees its graph, fails its 0-d check instead."""
    program = P.Program(dtype="float64", leaves=(P.Leaf("a", (1,), (0.5,)),),
                        steps=(P.Op("t2", "exp", ("a",)),),
                        plan=(P.Backward(("t2",), ((-1.0,),)), P.Backward(("t2",), (None,))))
    (error,) = [m for m in _mismatches(program, _tinygrad()) if m.kind == "error"]
    assert (error.expected, error.actual) == ("graph_freed", "nonscalar_implicit_grad")
    assert _deviation("tinygrad", "tinygrad-implicit-gradient-needs-0d").applies(program, error)


# ----- the shared helpers predicates name errors with -------------------------------------
def test_error_helpers_match_kinds_unnormalized_types_and_messages():
    from harness.deviations import message_says, nothing_returned, raised_instead
    broken = _broken_zoo()
    program = P.Program(dtype="float64", leaves=_leaves(0.5), steps=(P.Op("t1", "exp", ("a",)),),
                        plan=(P.Backward(("t1",), (None,)), P.Backward(("t1",), (None,))))
    (m,) = [m for m in _mismatches(program, broken.AlwaysRetainsGraph()) if m.kind == "error"]
    assert raised_instead(m, "graph_freed", None) and not raised_instead(m, None, "graph_freed")
    unknown = Mismatch("plan[0]", None, "unexpected InvalidArgumentError", kind="error",
                       message="Incompatible shapes: [2] vs. [3]\n\t[[node add]]")
    assert raised_instead(unknown, None, "InvalidArgumentError")
    assert not raised_instead(unknown, None, "ValueError")
    assert message_says(unknown, "Incompatible shapes", "node add")
    assert not message_says(m, "anything")  # it raised nothing: no message
    assert nothing_returned(()) and not nothing_returned(np.zeros(0)) and not nothing_returned(None)


def _broken_zoo():
    from tests.mutants.zoo import broken
    return broken


# A derivative of a constant that rounds to 1e-8 instead of 0 is still "zeros for None": HIPS
# autograd's third derivative of abs (found by the soundness campaign, float32).
ABS_THIRD = P.Program(dtype="float32", leaves=_leaves(-1.38, -1.25, 0.75), steps=(
    P.Op("t1", "abs", ("a",)),
    P.GradStep(("g3",), ("t1",), ("a",), (None,)),
    P.Op("t4", "add", ("g3", "b")),
    P.GradStep(("g5",), ("g3",), ("a",), (None,)),
    P.Op("t7", "add", ("g5", "c"))), plan=(P.Backward(("t7",), (None,)),))


def test_a_rounded_zero_is_a_zero_for_none():
    pytest.importorskip("autograd")
    from adapters.autograd_adapter import AutogradAdapter
    from harness.check import judge
    from harness.deviations import is_zero
    j = judge(ABS_THIRD, AutogradAdapter(), ReferenceAdapter(), load("autograd"))
    assert j.mismatches and j.deviation is not None, [str(m) for m in j.mismatches]
    assert is_zero(np.float32(-1.2e-8), "float32") and not is_zero(1e-3, "float32")
    assert is_zero(8.9e-16, "float64") and not is_zero(1e-8, "float64")


# ----- torch ---------------------------------------------------------------------------------
def test_torch_grad_aliasing_explains_a_stack_recorded_by_enable_grad_inside_no_grad():
    """A stack under no_grad is still recorded inside enable_grad: its .grad aliasing is the
    same torch bug (found by swarm exploration of test_grad_modes)."""
    from adapters.torch_adapter import TorchAdapter
    from harness.check import check
    program = P.Program(
        dtype="float64", leaves=_leaves(0.5, -0.75),
        steps=(P.Op("t1", "stack", ("a", "b"), (("dim", 0),), no_grad=True,
                    modes=("enable_grad",)),
               P.Op("loss2", "sum", ("t1",), (("dim", (0,)), ("keepdim", False)))),
        plan=(P.Backward(("loss2",), (None,)),))
    assert check(program, TorchAdapter(), ReferenceAdapter(), load("torch"))[2].id \
        == "torch-grad-aliasing"


def test_torch_hardsigmoid_sixth_explains_an_op_recorded_by_enable_grad_inside_no_grad():
    """hardsigmoid's float32 1/6 shows wherever the op is recorded, an enable_grad inside a
    no_grad included (found by swarm exploration of test_grad_modes)."""
    from adapters.torch_adapter import TorchAdapter
    from harness.check import check
    program = P.Program(
        dtype="float64", leaves=(P.Leaf("a", (1, 2), (0.5, -0.75)),),
        steps=(P.Op("t1", "hardsigmoid", ("a",), no_grad=True, modes=("enable_grad",)),
               P.Op("loss2", "sum", ("t1",), (("dim", (0, 1)), ("keepdim", False)))),
        plan=(P.Backward(("loss2",), (None,)),))
    assert check(program, TorchAdapter(), ReferenceAdapter(), load("torch"))[2].id \
        == "torch-hardsigmoid-float64-grad-float32-sixth"


def test_torch_hardsigmoid_sixth_explains_a_gradient_whose_terms_cancel():
    """d(hardsigmoid(a) * a)/da = a/6 + hardsigmoid(a) is 0.0033 at a = -1.49, from terms of
    0.25: float32's 1/6 is off by 7e-9 there, 2e-6 of the gradient, and still that bug (a
    false failure HypoFuzz met in bench.find)."""
    from adapters.torch_adapter import TorchAdapter
    from harness.check import check
    program = P.Program(
        dtype="float64", leaves=(P.Leaf("a", (), (-1.49,)),),
        steps=(P.Op("t1", "hardsigmoid", ("a",)), P.Op("t2", "mul", ("t1", "a"))),
        plan=(P.Backward(("t2",), (None,)),))
    assert check(program, TorchAdapter(), ReferenceAdapter(), load("torch"))[2].id \
        == "torch-hardsigmoid-float64-grad-float32-sixth"


def test_torch_zero_gradient_detached_explains_a_later_grad_of_it_raising():
    """square's third derivative is detached zeros in torch: a grad taken of a value made
    from it raises no_grad_fn in the forward (found by swarm exploration)."""
    from adapters.torch_adapter import TorchAdapter
    from harness.check import check
    leaves = (P.Leaf("a", (), (0.5,)), P.Leaf("b", (), (-1.25,), requires_grad=False),
              P.Leaf("c", (), (0.75,), requires_grad=False))
    program = P.Program(
        dtype="float64", leaves=leaves,
        steps=(P.Op("t1", "square", ("a",)), P.GradStep(("g2",), ("t1",), ("a",), (None,)),
               P.Op("t3", "mul", ("g2", "b")), P.GradStep(("g5",), ("t3",), ("a",), (None,)),
               P.Op("t6", "mul", ("g5", "g5")), P.GradStep(("g8",), ("t6",), ("a",), (None,)),
               P.Op("t9", "mul", ("g8", "c")), P.GradStep(("g10",), ("t9",), ("a",), (None,))),
        plan=(P.Backward(("g10",), (None,)),))
    assert check(program, TorchAdapter(), ReferenceAdapter(), load("torch"))[2].id \
        == "torch-zero-gradient-detached"


def test_torch_stale_view_explains_leaf_inplace_where_the_reference_raises_overlap():
    """`v.add_(d)` with v a stale view of d: torch's autograd check raises leaf_inplace before
    the overlap check the reference raises (found by random exploration of test_inplace)."""
    from adapters.torch_adapter import TorchAdapter
    from harness.check import check
    leaves = (P.Leaf("a", (), (0.5,)), P.Leaf("b", (), (-1.25,)))
    steps = (P.Detach("d1", "a"), P.Op("v3", "unsqueeze", ("d1",), (("dim", 0),)),
             P.InPlace("d1", "add_", ("b",)), P.InPlace("v3", "add_", ("d1",)),
             P.Op("loss4", "sum", ("v3",), (("dim", (0,)), ("keepdim", False))))
    program = P.Program(dtype="float64", leaves=leaves, steps=steps,
                        plan=(P.Backward(("loss4",), (None,)),))
    assert check(program, TorchAdapter(), ReferenceAdapter(), load("torch"))[2].id \
        == "torch-stale-view-is-leaf"
    # without the write that makes d1 require grad, torch raises the overlap error too
    fresh = P.Program(dtype="float64", leaves=leaves, steps=steps[:2] + steps[3:],
                      plan=program.plan)
    assert check(fresh, TorchAdapter(), ReferenceAdapter(), load("torch"))[2] is None
    # a leaf_inplace torch raised before the step the reference raised at is not this one
    m = Mismatch("forward", "inplace_overlap", "leaf_inplace", "error", kind="error")
    early = P.Program(dtype="float64", leaves=leaves, steps=(
        P.InPlace("a", "add_", ("b",)),) + steps, plan=program.plan)
    assert not _deviation("torch", "torch-stale-view-is-leaf").applies(early, m)


def test_torch_norm_third_order_is_judged_with_rounding_slack_in_float32():
    """batch_norm over a batch of 2, to third order in float32: composed of primitives, torch
    still differs from the reference by cancellation, within the rounding slack that `judge`
    allows; the counterfactual's comparison allows it too (found by swarm exploration of
    test_gradients_as_values)."""
    from adapters.torch_adapter import TorchAdapter
    from harness.check import check
    w = ((-1.0, 1.25, -1.5, 0.5), (-0.75, 1.0, -1.25, 1.5))
    c = ((0.49, -0.28, 1.05, -0.67), (-1.49, -1.38, -1.95, -0.16))
    program = P.Program(
        dtype="float32",
        leaves=(P.Leaf("a", (2, 4), (0.5, -0.75, 1.0, -1.25, 1.5, -0.5, 0.75, -1.0)),
                P.Leaf("b", (4,), (-1.25, 1.5, -0.5, 0.75)),
                P.Leaf("c", (2, 4), sum(c, ()), requires_grad=False)),
        steps=(P.Op("t1", "batch_norm", ("a", "b"), (("eps", 1e-05),)),
               P.GradStep(("g2",), ("t1",), ("b",), (w,)),
               P.Op("t3", "mul", ("g2", "g2")),
               P.Op("t4", "sum", ("t3",), (("dim", (0,)), ("keepdim", False))),
               P.Op("t5", "add", ("t1", "t4")),
               P.GradStep(("g6",), ("t5",), ("a",), (c,)),
               P.GradStep(("g8",), ("g6",), ("a",), (w,)),
               P.Op("t9", "mul", ("g8", "c")),
               P.Op("t10", "sum", ("t9",), (("dim", (0, 1)), ("keepdim", False))),
               P.GradStep(("g11",), ("t10",), ("a",), (None,)),
               P.Op("loss12", "sum", ("g11",), (("dim", (0, 1)), ("keepdim", False)))),
        plan=(P.Backward(("loss12",), (None,)),))
    assert check(program, TorchAdapter(), ReferenceAdapter(), load("torch"))[2].id \
        == "torch-batch-norm-third-order"


def test_torch_gelu_tanh_third_order_explains_the_nan_and_nothing_on_small_inputs():
    """gelu's tanh form past |x| ~ 27 in float64 (found by swarm exploration of
    test_gradients_as_values: 2a + a constant of 26.5 made gelu's input ~27)."""
    from adapters.torch_adapter import TorchAdapter
    from harness.check import check
    dev = _deviation("torch", "torch-gelu-tanh-third-order-nan")
    assert check(dev.program, TorchAdapter(), ReferenceAdapter(), load("torch"))[2].id == dev.id
    small = P.Program(dtype="float64", leaves=(P.Leaf("a", (2,), (2.0, 0.5)),),
                      steps=dev.program.steps, plan=dev.program.plan)
    assert not _mismatches(small, TorchAdapter())


def test_torch_hardsigmoid_sixth_is_sized_by_what_the_action_added_to_a_grad():
    """b.grad after the second backward is the sum of exp's part and hardsigmoid's, which
    nearly cancel: the float32 1/6 is 1e-6 of the total but 3e-8 of what hardsigmoid added
    (found by a campaign, test_detach_no_grad_retain_grad)."""
    from adapters.torch_adapter import TorchAdapter
    from harness.check import check
    program = P.Program(
        dtype="float64", leaves=(P.Leaf("a", (), (-0.91,)), P.Leaf("b", (), (-0.93,))),
        steps=(P.Op("t1", "mul", ("a", "b")), P.Op("t3", "hardsigmoid", ("t1",)),
               P.Op("t4", "exp", ("b",))),
        plan=(P.Backward(("t4",), (0.59,)), P.Backward(("t3",), (1.58,))))
    assert check(program, TorchAdapter(), ReferenceAdapter(), load("torch"))[2].id \
        == "torch-hardsigmoid-float64-grad-float32-sixth"


def test_torch_std_backward_zerotensor_explains_the_error_and_what_the_action_lacks():
    """abs's double backward after std: torch raises "ZeroTensors are immutable" (found by
    swarm exploration of test_gradients_as_values, through a chain of negs)."""
    from adapters.torch_adapter import TorchAdapter
    from harness.check import check
    leaves = (P.Leaf("a", (2,), (0.5, -0.75)),)
    steps = (P.Op("t1", "std", ("a",), (("correction", 0), ("dim", 0), ("keepdim", False))),
             P.Op("t2", "abs", ("t1",)), P.Op("t3", "neg", ("t2",)), P.Op("t4", "neg", ("t3",)),
             P.GradStep(("g6",), ("t4",), ("t1",), (None,)))
    program = P.Program(dtype="float64", leaves=leaves, steps=steps,
                        plan=(P.Backward(("g6",), (None,)),))
    found = _mismatches(program, TorchAdapter())
    assert {m.kind for m in found} == {"error", "grad"}
    assert check(program, TorchAdapter(), ReferenceAdapter(), load("torch"))[2].id \
        == "torch-std-backward-zerotensor"
    # var's backward writes nothing in place: no difference, nothing to explain
    var = P.Program(dtype="float64", leaves=leaves, steps=(
        P.Op("t1", "var", ("a",), (("correction", 0), ("dim", 0), ("keepdim", False))),)
        + steps[1:], plan=program.plan)
    assert not _mismatches(var, TorchAdapter())
