"""The suite's detection power, measured: the ci suites kill every mutant of the zoo
(tests/mutants/zoo/), the unmutated torch adapter passes the same suite tests, and breaking
the strategies lets mutants through (so the zoo really measures the suite).

One test per mutant, so that `pytest -n 2` spreads them; each runs the suite tests that claim
the mutant's area (its `killers`) and stops at the first failing program (no shrinking:
`python -m tests.mutants.kill` runs every suite and prints the shrunk counterexamples).
"""
import pytest
from hypothesis import strategies as st

from gradspec.adapter import check_adapter
from adapters.registry import load
from adapters.torch_adapter import TorchAdapter
from tests.mutants import runner, zoo

SLOWEST_S = 30.0  # the bound on the time to the first failure, per mutant
KILLER_SUITES = sorted({k for m in zoo.ZOO for k in m.killers}, key=runner.suite_id)


def test_the_zoo_is_complete_and_loadable():
    assert len(zoo.ZOO) >= 25
    for m in zoo.ZOO:
        assert m.id and m.area and m.description and m.killers, m
        adapter = load(f"tests.mutants.zoo:{m.__name__}")  # as `--backend` loads it
        check_adapter(adapter)
        assert isinstance(adapter, TorchAdapter) and adapter.name == f"mutant:{m.id}"
        assert adapter.render_script(None) is None  # torch's script would not show the bug
        for killer in m.killers:  # a suite's own test function, named where pytest finds it
            assert isinstance(killer, zoo.Killer), (m.id, killer)
            test = killer.test
            assert (test.__module__, test.__name__) == (killer.module, killer.name), killer
            assert zoo.Killer(test, killer.param) == killer
            assert killer in runner.all_suite_tests(), (m.id, killer)
    areas = " ".join(m.area for m in zoo.ZOO)
    for claim in ("derivative", "broadcasting", "gradient weights", "accumulation",
                  "reuse", "retain_graph", "zero_grad", "retain_grad", "custom Function",
                  "tensor hooks", "module hooks", "detach", "no_grad", "functional grad",
                  "errors", "indexing", "higher order", "grad modes", "multi-output",
                  "functional API", "post-accumulate-grad hooks", "hook handles",
                  "hooks on custom Function outputs", "in-place ops"):
        assert claim in areas, f"no mutant for {claim!r}"


@pytest.mark.parametrize("mutant", zoo.ZOO, ids=lambda m: m.id)
def test_the_ci_suites_kill_the_mutant(mutant):
    result = runner.run_mutant(mutant, shrink=False, fallback=False)
    assert not result.error, result.error
    assert result.killed, (
        f"mutant {mutant.id} ({mutant.description}) survived "
        f"{', '.join(result.suites_run)} ({result.examples} programs): a gap in the suite "
        f"(python -m tests.mutants.kill --only {mutant.id} tries every suite test)")
    assert result.seconds < SLOWEST_S, f"{mutant.id}: first failure after {result.seconds} s"


@pytest.mark.parametrize("suite", KILLER_SUITES, ids=runner.suite_id)
def test_the_unmutated_torch_adapter_passes_the_same_suite_tests(suite):
    assert runner.run_unmutated(suite) >= 30


def test_the_previous_backend_is_restored():
    from harness import backend
    try:
        before = backend.candidate(), backend.reference(), backend.deviations()
    except KeyError:
        before = None
    runner.run_mutant(zoo.SinSign, shrink=False, fallback=False)
    if before is not None:
        assert (backend.candidate(), backend.reference(), backend.deviations()) == before
    import suites.conformance
    from harness.check import check
    assert suites.conformance.check is check


# ----- the zoo measures the suite: weaker strategies let mutants through -----------------------
def _survives(mutant):
    """Does `mutant` survive its killers, as in test_the_ci_suites_kill_the_mutant?"""
    result = runner.run_mutant(mutant, shrink=False, fallback=False)
    assert not result.error, result.error
    return not result.killed


def test_square_shapes_only_let_the_non_square_mutants_survive(monkeypatch):
    """With every value square (square leaves, no broadcasting, and besides the op under test
    only ops that keep shapes), a gradient transposed where a reshape was meant, or divided by
    the mirrored dim's size, is invisible to the suite. Square leaves alone are not enough: a
    cat, an unsqueeze or a broadcast makes non-square values of them, and the suite catches
    both mutants there."""
    from gradspec.vocabulary import BINARY, UNARY
    from strategies import builder

    def square_shape(self, max_rank=3, min_rank=0):
        rank = self.draw(st.integers(min_rank, max_rank))
        return (self.draw(st.integers(1, 4)),) * rank
    keep_shapes = set(UNARY + BINARY)
    monkeypatch.setattr(builder.Builder, "draw_shape", square_shape)
    monkeypatch.setattr(builder.Builder, "broadcast_variant", lambda self, shape: shape)
    monkeypatch.setattr(builder, "_ordered", lambda ops: tuple(
        op for op in builder.SHRINK_ORDER if op in ops and op in keep_shapes))
    assert _survives(zoo.ReshapeAsTranspose)
    assert _survives(zoo.MeanMirroredDim)


def test_no_gradient_weights_let_the_weight_mutants_survive(monkeypatch):
    """With every gradient weight implicit or all ones, an engine that ignores the weights is
    indistinguishable from a correct one."""
    import importlib

    import numpy as np

    from strategies.values import nested
    programs = importlib.import_module("strategies.programs")  # the module, not the function

    def ones(b, name):
        shape = b.value(name).shape
        return nested(np.ones(shape), shape) if shape else None
    monkeypatch.setattr(programs, "_weight", ones)
    assert _survives(zoo.WeightsIgnored)


# ----- beyond the ci profile: zoo.RARE, for the campaign ------------------------------------
def test_the_rare_mutants_are_real_bugs():
    """Each mutant of zoo.RARE (not in ZOO: the ci profile need not kill it; the campaign in
    the README finds it) is a real bug: a hand-written program shows it (the value named
    differs), and torch passes."""
    from gradspec.reference_adapter import ReferenceAdapter
    from harness.check import ConformanceFailure, check
    from gradspec.program import (Backward, CallFunction, FunctionSpec, GradRule, GradStep, Leaf,
                                  Op, Program, RetainGrad, TensorHook, Term)

    def sin_saving_its_input(name):
        return FunctionSpec(name, 1, (("sin", (0,)),), (("input", 0),),
                            (GradRule((Term(0, ("cos_saved", 0)),)),))
    shows = {
        # b (4,) broadcast to (2, 3, 4), backwarded twice
        "unbroadcast-buffer-reused": (Program(
            dtype="float64",
            leaves=(Leaf("a", (2, 3, 4), tuple(0.25 * i - 2 for i in range(24))),
                    Leaf("b", (4,), (1.0, 2.0, -1.0, 0.5))),
            steps=(Op("t1", "mul", ("a", "b")),
                   Op("loss", "sum", ("t1",), (("dim", (0, 1, 2)), ("keepdim", False)))),
            plan=(Backward(("loss",), (None,), True), Backward(("loss",), (None,)))), "b.grad"),
        # the third derivative of tanh(a)^2, whose tanh gets the gradient 2 tanh(a)
        "tanh-third-derivative": (Program(
            dtype="float64", leaves=(Leaf("a", (), (0.5,)),),
            steps=(Op("t1", "tanh", ("a",)), Op("t2", "mul", ("t1", "t1")),
                   GradStep(("g3",), ("t2",), ("a",), (None,)),
                   GradStep(("g4",), ("g3",), ("a",), (None,))),
            plan=(Backward(("g4",), (None,)),)), "a.grad"),
        # f1 = 2a saved by Double, then by Sin1 and Sin2
        "custom-saved-output-record": (Program(
            dtype="float64", leaves=(Leaf("a", (), (0.5,)),),
            functions=(FunctionSpec("Double", 1, (("scale", (0,), 2.0),), (("output", 0),),
                                    (GradRule((Term(0, ("const", 2.0)),)),)),
                       sin_saving_its_input("Sin1"), sin_saving_its_input("Sin2")),
            steps=(CallFunction(("f1",), "Double", ("a",)),
                   CallFunction(("f2",), "Sin1", ("f1",)), CallFunction(("f3",), "Sin2", ("f1",)),
                   Op("t4", "add", ("f2", "f3"))),
            plan=(Backward(("t4",), (None,)),)), "a.grad"),
        # t1 retained, hooked (x2) and squared
        "retain-grad-squared": (Program(
            dtype="float64", leaves=(Leaf("a", (2,), (0.5, -1.0)),),
            steps=(Op("t1", "exp", ("a",)), RetainGrad("t1"), TensorHook("t1", 2.0),
                   Op("t2", "mul", ("t1", "t1"))),
            plan=(Backward(("t2",), ((1.0, 2.0),)),)), "t1.grad"),
        # the roots t1 and its transpose t2: one memory, one shape
        "roots-keyed-by-pointer": (Program(
            dtype="float64", leaves=(Leaf("a", (2, 2), (0.5, -1.0, 2.0, 0.25)),),
            steps=(Op("t1", "exp", ("a",)),
                   Op("t2", "transpose", ("t1",), (("dim0", 0), ("dim1", 1)))),
            plan=(Backward(("t1", "t2"), (((1.0, 0.0), (0.0, 0.0)),
                                          ((0.0, 1.0), (0.0, 0.0)))),)), "a.grad"),
    }
    assert sorted(shows) == sorted(m.id for m in zoo.RARE)
    for m in zoo.RARE:
        assert m not in zoo.ZOO and zoo.BY_ID[m.id] is m
        assert m.id and m.area and m.description and m.killers, m
        for killer in m.killers:
            assert killer in runner.all_suite_tests(), (m.id, killer)
        adapter = load(f"tests.mutants.zoo:{m.__name__}")
        check_adapter(adapter)
        program, differs = shows[m.id]
        check(program, TorchAdapter(), ReferenceAdapter())
        with pytest.raises(ConformanceFailure, match=differs):
            check(program, adapter, ReferenceAdapter())
