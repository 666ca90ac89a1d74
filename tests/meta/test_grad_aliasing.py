"""Two leaves' .grad sharing memory is a difference by itself: an in-place update of one (the
next accumulation, zero_(), clipping) changes the other. The reference never shares them;
torch does through stack/cat and a sum (the stated deviation torch-grad-aliasing)."""
import numpy as np
import pytest

from gradspec.reference_adapter import ReferenceAdapter
from gradspec import program as P
from gradspec.compare import Mismatch, compare
from harness.deviations import load
from gradspec.interpreter import run
from gradspec.trace import ActionResult, Trace

torch = pytest.importorskip("torch")
from adapters.torch_adapter import TorchAdapter  # noqa: E402 - needs torch

A, B = P.Leaf("a", (2,), (0.5, -0.75)), P.Leaf("b", (2,), (-1.25, 1.5))
TWICE = (P.Backward(("loss",), (None,), True), P.Backward(("loss",), (None,)))


def _summed(*steps):
    """`steps` (ending in t1) scaled, summed twice: stack's or cat's gradient comes expanded."""
    return P.Program(dtype="float64", leaves=(A, B), plan=TWICE, steps=steps + (
        P.Op("t2", "sum", ("t1",), (("dim", (0,)), ("keepdim", False))),
        P.Op("t3", "scale", ("t2",), (("c", 2.0),)),
        P.Op("loss", "sum", ("t3",), (("dim", (0,)), ("keepdim", False)))))


STACKED = _summed(P.Op("t1", "stack", ("a", "b"), (("dim", 0),)))
CATTED = _summed(P.Op("u1", "unsqueeze", ("a",), (("dim", 0),)),
                 P.Op("u2", "unsqueeze", ("b",), (("dim", 0),)),
                 P.Op("t1", "cat", ("u1", "u2"), (("dim", 0),)))
ADDED = P.Program(dtype="float64", leaves=(A, B), plan=TWICE, steps=(
    P.Op("t1", "add", ("a", "b")), P.Op("t2", "scale", ("t1",), (("c", 2.0),)),
    P.Op("loss", "sum", ("t2",), (("dim", (0,)), ("keepdim", False)))))
DEVIATION = next(d for d in load("torch") if d.id == "torch-grad-aliasing")


def _trace(aliases):
    t = Trace(backend="x", forward={"a": np.zeros(2)}, requires_grad={"a": True})
    t.actions = [ActionResult(index=0, grads={"a": np.ones(2), "b": np.ones(2)},
                              grad_aliases=aliases)]
    return t


def test_shared_grads_are_a_mismatch_where_they_start():
    program = P.Program(dtype="float64", leaves=(A, B), steps=(),
                        plan=(P.Backward(("a",), ((1.0, 1.0),)),))
    (m,) = compare(program, _trace(()), _trace((("a", "b"),)))
    assert (m.kind, m.name, m.action, m.expected, m.actual) == \
        ("grad_aliasing", "a,b", 0, False, True)
    assert "a.grad and b.grad share memory: an in-place update of one changes the other" in \
        str(m)
    assert compare(program, _trace((("a", "b"),)), _trace((("a", "b"),))) == []


def test_the_reference_never_shares_grads():
    for program in (STACKED, CATTED, ADDED):
        assert all(a.grad_aliases == () for a in run(program, ReferenceAdapter()).actions)


def test_torch_shares_grads_through_stack_and_cat_not_add():
    for program in (STACKED, CATTED):
        assert [a.grad_aliases for a in run(program, TorchAdapter()).actions] == \
            [(("a", "b"),)] * 2
    assert all(a.grad_aliases == () for a in run(ADDED, TorchAdapter()).actions)


def test_disjoint_views_of_one_storage_do_not_share_memory():
    """stack's backward through exp: unbind's pieces of one dense gradient, one storage, no
    element in common; an in-place update of one leaves the other."""
    adapter, x = TorchAdapter(), torch.arange(6.0).reshape(2, 3)
    assert adapter.shares_storage(x, x.detach()) and adapter.shares_storage(x[:, 1], x[1])
    assert not adapter.shares_storage(x[0], x[1]) and not adapter.shares_storage(x, x.clone())
    zeros = torch._efficientzerotensor(2)  # a gradient through sgn: a .grad without memory
    assert not adapter.shares_storage(zeros, zeros)


@pytest.mark.parametrize("program", [STACKED, CATTED], ids=["stack", "cat"])
def test_the_deviation_explains_stack_and_cat(program):
    found = compare(program, run(program, ReferenceAdapter()),
                    run(program, TorchAdapter(), strict=False))
    assert {m.kind for m in found} == {"grad", "grad_aliasing"}
    assert DEVIATION.explains(program, found)


def _wrong(action, name="a"):
    """A .grad of [6, 6] where the reference has [4, 4] after plan[action]."""
    return [Mismatch(f"{name}.grad", np.full(2, 4.0), np.full(2, 6.0), "max abs diff 2",
                     kind="grad", name=name, action=action)]


def test_the_deviation_explains_no_wrong_grad_torch_did_not_share():
    """The same wrong value where torch kept the two .grad apart (an add), at the action that
    made them share (nothing was accumulated into them yet), or after a zero_grad(set_to_none)
    and a backward that shared nothing, is not this deviation's."""
    assert DEVIATION.explains(STACKED, _wrong(1)) and DEVIATION.explains(CATTED, _wrong(1))
    assert not DEVIATION.explains(ADDED, _wrong(1))
    assert not DEVIATION.explains(STACKED, _wrong(0))
    cleared = P.Program(dtype="float64", leaves=(A, B), steps=STACKED.steps, plan=(
        TWICE[0], P.ZeroGrad(set_to_none=True), P.Grad(("loss",), ("a",), (None,))))
    assert not DEVIATION.explains(cleared, _wrong(2))


def test_the_deviation_explains_what_a_post_accumulate_hook_reads():
    """A post-accumulate hook on a leaf whose .grad is aliased records the same doubled value
    (thorough profile, seed 123: test_post_accumulate_grad_hooks); on a leaf torch kept apart,
    or on the action that made them share, it is not this deviation's."""
    hooked = P.Program(dtype="float64", leaves=(A, B), plan=TWICE, steps=(
        STACKED.steps[0], P.PostAccumulateHook("b")) + STACKED.steps[1:])
    found = compare(hooked, run(hooked, ReferenceAdapter()),
                    run(hooked, TorchAdapter(), strict=False))
    assert "hook" in {m.kind for m in found}
    assert DEVIATION.explains(hooked, found)
    hook = next(m for m in found if m.kind == "hook")
    from dataclasses import replace
    assert not DEVIATION.explains(hooked, [replace(hook, action=0)])
    added = P.Program(dtype="float64", leaves=(A, B), plan=TWICE, steps=(
        P.PostAccumulateHook("b"),) + ADDED.steps)
    assert not DEVIATION.explains(added, [replace(hook)])
