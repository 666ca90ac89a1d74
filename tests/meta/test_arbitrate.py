"""Arbitration (harness/arbitrate.py) must name the right side: the engine when finite
differences agree with the reference, the oracle (loudly) when they agree with the candidate,
and nobody when the program's gradients are not derivatives finite differences can check."""
import numpy as np
import pytest

from gradspec.reference_adapter import ReferenceAdapter
from harness import arbitrate as A
from gradspec import program as P
from harness.check import ConformanceFailure, Judgement, check, judge
from gradspec.compare import Mismatch

from tests.mutants.zoo import broken

SUM = (("dim", (0,)), ("keepdim", False))
X = P.Leaf("x", (3,), (0.5, -1.25, 2.0))
SIN = P.Program(dtype="float64", leaves=(X,), steps=(
    P.Op("t1", "sin", ("x",)), P.Op("loss", "sum", ("t1",), SUM)),
    plan=(P.Backward(("loss",), (None,)),))
# Two backwards: the second is judged by the contribution it adds to .grad.
SIN_TWICE = P.Program(dtype="float64", leaves=(X,), steps=SIN.steps,
                      plan=(P.Backward(("loss",), (None,), True), P.Backward(("loss",), (None,))))
SIN_GRAD = P.Program(dtype="float64", leaves=(X,), steps=SIN.steps,
                     plan=(P.Grad(("loss",), ("x",), (None,)),))


def _rulings(program, candidate, reference):
    j = judge(program, candidate, reference)
    assert j.mismatches, "the two engines were meant to disagree"
    return j, A.arbitrate(program, j, candidate.name)


@pytest.mark.parametrize("program", [SIN, SIN_TWICE, SIN_GRAD], ids=["backward", "twice", "grad"])
def test_a_wrong_engine_is_ruled_an_engine_bug(program):
    _, verdict = _rulings(program, broken.WrongSinVjp(), ReferenceAdapter())
    assert verdict.kind == A.ENGINE, verdict.lines("broken")
    assert all(r.side == A.ENGINE for r in verdict.rulings)
    text = "\n".join(verdict.lines("broken-sin-vjp"))
    assert "finite differences agree with the reference" in text
    # the numbers are printed: d/dx sum(sin x) = cos x
    assert f"{np.cos(0.5):.6f}"[:7] in text


@pytest.mark.parametrize("program", [SIN, SIN_TWICE, SIN_GRAD], ids=["backward", "twice", "grad"])
def test_a_wrong_reference_is_ruled_an_oracle_gap(program):
    """The same bug on the other side: finite differences side with the candidate, and the
    report says it is gradspec's bug."""
    _, verdict = _rulings(program, ReferenceAdapter(), broken.WrongSinVjp())
    assert verdict.kind == A.ORACLE
    assert "ORACLE GAP" in verdict.lines("reference")[0]


def test_check_reports_the_verdict_outside_hypothesis():
    with pytest.raises(ConformanceFailure) as info:
        check(SIN, ReferenceAdapter(), broken.WrongSinVjp())
    assert info.value.verdict.kind == A.ORACLE
    assert "Arbitration: ORACLE GAP" in str(info.value)


def test_the_torch_aliasing_bug_is_an_engine_bug():
    """The real torch bug (findings/torch/grad-aliasing.py): the second backward's
    contribution is doubled; finite differences give 2 for each element."""
    pytest.importorskip("torch")
    from adapters.torch_adapter import TorchAdapter

    from tests.meta.test_grad_aliasing import STACKED
    j, verdict = _rulings(STACKED, TorchAdapter(), ReferenceAdapter())
    assert verdict.kind == A.ENGINE
    grads = [r for r in verdict.rulings if r.where.endswith(".grad") and " and " not in r.where]
    assert grads and all(r.side == A.ENGINE for r in grads)
    assert "this backward's contribution as [2., 2.]" in "\n".join(r.text for r in grads)
    # the aliasing mismatch itself is no gradient value: not arbitrated, said so
    assert any(r.side == A.UNARBITRATED and r.where == "plan[0] a.grad and b.grad"
               and "sharing memory" in r.text for r in verdict.rulings)


def test_a_difference_below_the_differences_precision_is_a_tolerance_question():
    j = judge(SIN, ReferenceAdapter(), ReferenceAdapter())
    g = j.expected.actions[0].grads["x"]
    nudged = Mismatch("plan[0] x.grad", g, g + 1e-12, kind="grad", name="x", action=0,
                      numeric=True)
    verdict = A.arbitrate(SIN, Judgement(j.expected, j.expected, [nudged]))
    assert verdict.kind == A.TOLERANCE


def test_both_sides_wrong_is_neither():
    j = judge(SIN, ReferenceAdapter(), ReferenceAdapter())
    g = j.expected.actions[0].grads["x"]
    both = Mismatch("plan[0] x.grad", g + 1.0, g - 1.0, kind="grad", name="x", action=0,
                    numeric=True)
    assert A.arbitrate(SIN, Judgement(j.expected, j.expected, [both])).kind == A.NEITHER


def test_frozen_values_are_held_fixed():
    """x * detach(x): autograd's gradient is detach(x), not 2x: finite differences must not
    perturb what does not require grad, or they would side with a wrong engine."""
    program = P.Program(dtype="float64", leaves=(X,), steps=(
        P.Detach("d", "x"), P.Op("t1", "mul", ("x", "d")), P.Op("loss", "sum", ("t1",), SUM)),
        plan=(P.Backward(("loss",), (None,)),))
    j = judge(program, ReferenceAdapter(), ReferenceAdapter())
    g = j.expected.actions[0].grads["x"]
    wrong = Mismatch("plan[0] x.grad", g, 2 * g, kind="grad", name="x", action=0, numeric=True)
    assert A.arbitrate(program, Judgement(j.expected, j.expected, [wrong])).kind == A.ENGINE


def test_a_custom_backward_is_not_arbitrated():
    spec = P.FunctionSpec("Fn0", 1, (("sin", (0,)),), (("input", 0),),
                          (P.GradRule((P.Term(0, ("const", 3.0)),)),))
    program = P.Program(dtype="float64", leaves=(X,), functions=(spec,), steps=(
        P.CallFunction(("f1",), "Fn0", ("x",)), P.Op("loss", "sum", ("f1",), SUM)),
        plan=(P.Backward(("loss",), (None,)),))
    j = judge(program, ReferenceAdapter(), ReferenceAdapter())
    g = j.expected.actions[0].grads["x"]
    m = Mismatch("plan[0] x.grad", g, g + 1, kind="grad", name="x", action=0, numeric=True)
    verdict = A.arbitrate(program, Judgement(j.expected, j.expected, [m]))
    assert verdict.kind == A.UNARBITRATED
    assert "custom Function" in verdict.rulings[0].text


def test_an_action_that_raised_on_one_side_is_not_ruled_on():
    """The reference frees the graph and raises on the second backward; an engine that never
    frees it adds a second contribution. That .grad is no derivative of anything: calling
    finite differences' agreement with the engine an oracle gap would be false."""
    program = P.Program(dtype="float64", leaves=(X,), steps=SIN.steps,
                        plan=(P.Backward(("loss",), (None,)), P.Backward(("loss",), (None,))))
    j, verdict = _rulings(program, broken.AlwaysRetainsGraph(), ReferenceAdapter())
    assert verdict.kind != A.ORACLE, verdict.lines("broken-always-retains")
    assert any("raised on the reference (graph_freed)" in r.text for r in verdict.rulings)
