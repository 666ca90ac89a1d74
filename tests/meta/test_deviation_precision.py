"""A deviation explains the mismatches it names and nothing else: once a `.grad` differed
(explained), later actions are judged by what they add to it, so the explained difference is
not asked about again, and a later, different one (a mutant injected after the deviating
step) is still caught."""
import numpy as np

from adapters.mygrad_adapter import MyGradAdapter
from gradspec.reference_adapter import ReferenceAdapter
from adapters.torch_adapter import TorchAdapter
from harness import deviations as D
from harness.check import judge
from gradspec.program import Backward, Op, Program

TWICE = Program(dtype="float64", leaves=D.leaves(("a", (), (0.5,), True), ("b", (), (-1.25,), True)),
                steps=(Op("t1", "mul", ("a", "b")),),
                plan=(Backward(("t1",), (None,), retain_graph=True), Backward(("t1",), (None,))))


class _Counting(TorchAdapter):
    """torch, adding `extra[k]` to the first leaf's .grad after its k-th backward."""
    extra = ()

    def __init__(self):
        super().__init__()
        self.leaves, self.calls = [], 0

    def tensor(self, values, dtype, requires_grad):
        t = super().tensor(values, dtype, requires_grad)
        if requires_grad:
            self.leaves.append(t)
        return t

    def backward(self, roots, weights, retain_graph, create_graph):
        super().backward(roots, weights, retain_graph, create_graph)
        if self.calls < len(self.extra) and self.extra[self.calls]:
            with self.torch.no_grad():
                self.leaves[0].grad += self.extra[self.calls]
        self.calls += 1


class OffByOneFirst(_Counting):
    name = "off-by-one-first"
    extra = (1.0,)


class OffByOneThenWrong(_Counting):
    name = "off-by-one-then-wrong"
    extra = (1.0, 0.5)  # the stated difference, then a mutant in the second backward


FIRST_OFF_BY_ONE = D.Deviation(
    id="first-backward-adds-one", reason="a stand-in for a stated difference", program=TWICE,
    # Narrow: a.grad after plan[0] only, one more than the reference's.
    applies=lambda p, m: (m.kind == "grad" and m.name == "a" and m.action == 0
                          and np.isclose(m.actual - m.expected, 1.0)))


def test_a_narrow_deviation_explains_its_difference_and_what_it_carries():
    j = judge(TWICE, OffByOneFirst(), ReferenceAdapter(), (FIRST_OFF_BY_ONE,))
    assert j.conforms and j.deviation is FIRST_OFF_BY_ONE
    # plan[1] still differs by one, but added what the reference added: not a new mismatch.
    assert [m.action for m in j.mismatches] == [0]


def test_a_mutant_after_the_deviating_step_is_caught():
    j = judge(TWICE, OffByOneThenWrong(), ReferenceAdapter(), (FIRST_OFF_BY_ONE,))
    assert not j.conforms
    later = [m for m in j.mismatches if m.action == 1]
    assert len(later) == 1 and later[0].since == 0 and "changed by this action" in later[0].where
    reference_added, candidate_added = later[0].change
    assert np.isclose(candidate_added - reference_added, 0.5)
    assert "candidate's change" in str(later[0])


def test_a_difference_carried_unchanged_is_not_reported_again():
    """zeros where torch has None, left as they are by a later backward: one mismatch."""
    class ZerosForB(_Counting):
        name = "zeros-for-b"

        def read_grad(self, t):
            g = super().read_grad(t)
            return self.torch.zeros_like(t) if g is None and t.is_leaf and t.requires_grad else g
    program = Program(dtype="float64", leaves=TWICE.leaves, steps=(Op("t1", "exp", ("a",)),),
                      plan=TWICE.plan)
    j = judge(program, ZerosForB(), ReferenceAdapter())
    assert [(m.action, m.name) for m in j.mismatches] == [(0, "b")]


# ----- a real engine's deviation, narrowed: MyGrad's backward does not accumulate ----------
SAME_ROOT = Program(dtype="float64", leaves=TWICE.leaves, steps=(Op("t1", "add", ("a", "b")),),
                    plan=(Backward(("t1",), (None,)), Backward(("t1",), (None,))))
TWO_ROOTS = Program(dtype="float64", leaves=TWICE.leaves,
                    steps=(Op("t1", "mul", ("a", "b")), Op("t2", "mul", ("a", "a"))),
                    plan=(Backward(("t1",), (None,)), Backward(("t2",), (None,))))


class MyGradWrongLater(MyGradAdapter):
    """MyGrad, with every gradient read after its second backward 1.5 times too large."""
    name = "mygrad-wrong-later"

    def __init__(self):
        super().__init__()
        self.calls = 0

    def backward(self, roots, weights, retain_graph, create_graph):
        self.calls += 1
        super().backward(roots, weights, retain_graph, create_graph)

    def read_grad(self, t):
        g = super().read_grad(t)
        return g * 1.5 if g is not None and self.calls >= 2 else g


def test_mygrads_stated_no_accumulation_does_not_hide_a_wrong_later_gradient():
    mygrad = D.load("mygrad")
    for program in (SAME_ROOT, TWO_ROOTS):  # the second backward computes nothing, or raises
        j = judge(program, MyGradAdapter(), ReferenceAdapter(), mygrad)
        assert j.mismatches and j.conforms
        assert "no-accumulation" in j.deviation.id
    # Where it computes nothing, a gradient it changes after all is not explained (where it
    # raises midway, what it leaves is unspecified: stated, a mutant there is not seen).
    j = judge(SAME_ROOT, MyGradWrongLater(), ReferenceAdapter(), mygrad)
    assert not j.conforms
    assert any(m.kind == "grad" and m.action == 1 for m in j.mismatches)
