"""The suites have teeth: each deliberately broken engine (tests/mutants/zoo/broken.py) fails
the suites meant to catch its bug (its twin mutant's killers), with a short counterexample
printed as replayable source; the unbroken reference passes the same suite tests.

The suites' own Hypothesis tests are called directly with a broken adapter installed as the
candidate (`harness.backend.set_current`), so what is checked is exactly what `pytest suites`
runs, with the same strategies and the same check.
"""
import contextlib
import glob
import os

import numpy as np
import pytest
from hypothesis import Phase, settings

import adapters
import suites.conformance
from gradspec.adapter import UnsupportedProgram
from gradspec.reference_adapter import ReferenceAdapter
from adapters.templates import first_line_source
from gradspec import program as P
from harness import backend
from harness.check import ConformanceFailure, check
from gradspec.interpreter import run
from gradspec.trace import first_line
from tests.mutants.zoo import BROADCAST, OP, ZOO, Killer, broken

REFERENCE = ReferenceAdapter()
MAX_STEPS = 4  # a shrunk counterexample a person can read at a glance

# Each bug and the suite tests that must catch it: those that kill its twin in the zoo.
CATCHES = [(bug, killer) for bug in broken.BROKEN for killer in bug.twin.killers]
SUITE_TESTS = sorted({suite for _, suite in CATCHES}, key=lambda k: k.suite_id)

# Derandomized whatever the profile; no example database (a broken engine's counterexamples
# must not be replayed against the real one); one bug per run; no explain phase (slow).
META = dict(derandomize=True, database=None, report_multiple_bugs=False, max_examples=60,
            phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink))


def _suite_id(suite):
    return Killer.of(suite).suite_id


@contextlib.contextmanager
def meta_settings(test):
    """Run a suite's test under META settings, restoring everything afterwards.

    A module-level @given test keeps the settings it was decorated with (Hypothesis has no
    public way to override them per call, so the attribute it reads is swapped); a test that
    builds its @given when called (test_op) reads the current profile, so one is loaded.
    """
    attr = "_hypothesis_internal_use_settings"
    previous_profile = settings.get_current_profile_name()
    settings.register_profile("gradspec-meta", settings(settings.default, **META))
    old = getattr(test, attr, None)
    try:
        settings.load_profile("gradspec-meta")
        if old is not None:
            setattr(test, attr, settings(old, **META))
        yield
    finally:
        if old is not None:
            setattr(test, attr, old)
        settings.load_profile(previous_profile)


def run_suite_test(suite):
    """Run `suite` (a zoo Killer, or a (module, test name, parameter) tuple) under META."""
    killer = Killer.of(suite)
    with meta_settings(killer.test):
        killer()


def _current_backend():
    try:
        return backend.candidate(), backend.reference(), backend.deviations()
    except KeyError:  # nothing installed yet
        return None


@contextlib.contextmanager
def installed(adapter, deviations=()):
    """`adapter` as the candidate (the reference as oracle, `deviations` stated: none unless
    given) inside the block; yields the list of (program, failed) the suites checked. Restores
    the previous state."""
    previous = _current_backend()
    original = suites.conformance.check
    checked = []

    def recording_check(program, candidate, reference, deviations=(), *more):
        try:
            result = original(program, candidate, reference, deviations, *more)
        except ConformanceFailure:
            checked.append((program, True))
            raise
        checked.append((program, False))
        return result

    suites.conformance.check = recording_check
    backend.set_current(adapter, REFERENCE, tuple(deviations))
    try:
        yield checked
    finally:
        suites.conformance.check = original
        if previous is not None:
            backend.set_current(*previous)


@pytest.fixture
def install():
    """`install(adapter)` -> the list of checked programs; undone by the finalizer."""
    with contextlib.ExitStack() as stack:
        yield lambda adapter: stack.enter_context(installed(adapter))


def _program_from_message(message):
    """The program printed at the end of a failure report, rebuilt from its source."""
    return P.Program.from_source(message[message.rindex("\nProgram(\n") + 1:])


@pytest.mark.parametrize("bug, suite", CATCHES,
                         ids=[f"{b.__name__}-{_suite_id(s)}" for b, s in CATCHES])
def test_the_suite_catches_the_bug(install, bug, suite):
    candidate = bug()
    checked = install(candidate)
    with pytest.raises(ConformanceFailure) as info:
        run_suite_test(suite)
    message = str(info.value)
    failed = [program for program, bad in checked if bad]
    assert failed, "the failure did not come from the conformance check"
    shrunk = failed[-1]  # Hypothesis re-runs the minimal example last, and re-raises its error
    # The report is readable: it names the engine and prints the program as source...
    assert message.startswith(f"{candidate.name} disagrees with the reference")
    assert shrunk.to_source() in message
    assert _program_from_message(message) == shrunk
    # ... and the program is short.
    assert len(shrunk.steps) <= MAX_STEPS, message
    assert len(shrunk.plan) <= 2, message
    # The counterexample replays on its own, and is a fair program: the reference agrees
    # with itself on it.
    with pytest.raises(ConformanceFailure):
        check(shrunk, bug(), REFERENCE)
    check(shrunk, ReferenceAdapter(), REFERENCE)


def test_each_broken_engine_is_the_reference_with_the_bug_of_a_mutant():
    for bug in broken.BROKEN:
        assert bug.twin in ZOO and bug.twin.killers, bug


@pytest.mark.parametrize("suite", SUITE_TESTS, ids=[_suite_id(s) for s in SUITE_TESTS])
def test_the_reference_passes_the_same_suite_tests(install, suite):
    checked = install(ReferenceAdapter())
    run_suite_test(suite)
    assert len(checked) >= 30, f"only {len(checked)} programs were checked"
    assert not any(bad for _, bad in checked)


def test_the_broken_engines_are_otherwise_correct(install):
    """Each bug is confined: on a program that does not touch it, the engine agrees."""
    from gradspec import program as P
    program = P.Program(
        dtype="float64", leaves=(P.Leaf("a", (2,), (0.5, -1.25)), P.Leaf("b", (2,), (0.75, 1.5))),
        steps=(P.Op("t1", "mul", ("a", "b")), P.Op("t2", "exp", ("t1",)),
               P.Op("t3", "sum", ("t2",), (("dim", 0), ("keepdim", False)))),
        plan=(P.Backward(("t3",), (None,)),))
    for bug in broken.BROKEN:
        check(program, bug(), REFERENCE)


def test_the_previous_backend_is_restored():
    before = _current_backend()
    with pytest.raises(ConformanceFailure):
        with installed(broken.WrongSinVjp()):
            assert isinstance(backend.candidate(), broken.WrongSinVjp)
            run_suite_test(OP("sin"))
    assert _current_backend() == before
    assert suites.conformance.check is check


# ----- what the suites report of an engine's errors, and what they do not check ------------
SUM_OF_A = P.Program(
    dtype="float64", leaves=(P.Leaf("a", (2,), (0.5, -1.25)),),
    steps=(P.Op("t1", "sum", ("a",), (("dim", 0), ("keepdim", False))),),
    plan=(P.Backward(("t1",), (None,)),))


class _RaisesInBackward(ReferenceAdapter):
    """backward() raises `self.error` (an engine's internal failure)."""

    name = "raises-in-backward"
    error = AssertionError()  # what a bare `assert False` raises: no message at all

    def backward(self, roots, weights, retain_graph, create_graph):
        raise self.error


def test_an_error_without_a_message_is_reported_by_its_type():
    trace = run(SUM_OF_A, _RaisesInBackward(), strict=False)
    assert (trace.actions[0].error, trace.actions[0].message) == \
        ("unexpected AssertionError", "AssertionError")
    with pytest.raises(ConformanceFailure) as info:
        check(SUM_OF_A, _RaisesInBackward(), REFERENCE)
    assert "unexpected AssertionError" in str(info.value)


def test_the_repro_scripts_print_an_empty_message_as_the_type():
    line = first_line_source("_e")
    assert eval(line, {"_e": AssertionError()}) == "AssertionError"  # noqa: S307
    assert eval(line, {"_e": RuntimeError("\nthe second line")}) == "the second line"  # noqa: S307
    assert first_line(AssertionError()) == "AssertionError"
    for path in glob.glob(os.path.join(os.path.dirname(adapters.__file__), "*.py")):
        with open(path) as f:
            assert "splitlines()[0]" not in f.read(), path


def test_an_engine_s_whole_error_message_is_reported():
    class MultiLine(_RaisesInBackward):
        error = RuntimeError("backward failed\n  in node MulBackward0\n  hint: the detail")

    trace = run(SUM_OF_A, MultiLine(), strict=False)
    assert trace.actions[0].message == str(MultiLine.error)
    with pytest.raises(ConformanceFailure) as info:
        check(SUM_OF_A, MultiLine(), REFERENCE)
    report = str(info.value)
    assert "error kind differs; the candidate's message:\n" \
           "      backward failed\n" \
           "        in node MulBackward0\n" \
           "        hint: the detail\n" \
           "    expected (reference): None" in report, report

    class Long(_RaisesInBackward):
        error = RuntimeError("\n".join(f"line {i}" for i in range(100)))

    message = run(SUM_OF_A, Long(), strict=False).actions[0].message
    assert message.splitlines() == [f"line {i}" for i in range(20)] + ["... (80 more lines)"]
    class Huge(_RaisesInBackward):
        error = RuntimeError("x" * 10**5)

    assert len(run(SUM_OF_A, Huge(), strict=False).actions[0].message) < 2100


class _RefusesSome(ReferenceAdapter):
    """Cannot express a backward from a root whose values sum above zero (about half of the
    programs): UnsupportedProgram from a plan action."""

    name = "refuses-some"

    def __init__(self):
        self.refused = 0

    def backward(self, roots, weights, retain_graph, create_graph):
        if sum(float(np.sum(self.to_numpy(r))) for r in roots) > 0:
            self.refused += 1
            raise UnsupportedProgram("backward from a root summing above zero")
        super().backward(roots, weights, retain_graph, create_graph)


def test_an_unsupported_program_rejects_that_example_only(install):
    """The interpreter re-raises UnsupportedProgram (it is no error of the engine's); the
    suite test rejects that example and goes on checking others."""
    candidate = _RefusesSome()
    refused = P.Program(dtype="float64", leaves=(P.Leaf("a", (2,), (0.5, 1.25)),),
                        steps=SUM_OF_A.steps, plan=SUM_OF_A.plan)
    with pytest.raises(UnsupportedProgram):
        run(refused, candidate, strict=False)
    checked = install(candidate)
    run_suite_test(BROADCAST)  # passes: not skipped, not failed
    assert candidate.refused > 1
    assert len(checked) >= 30, f"only {len(checked)} programs were checked"
    assert not any(bad for _, bad in checked)
    # A hand-written program, outside any Hypothesis test: that test is skipped.
    with pytest.raises(pytest.skip.Exception, match="cannot express this program"):
        check(refused, candidate, REFERENCE)


def test_a_deviation_s_float64_program_runs_in_float32_on_a_float32_engine(install):
    """suites/test_deviations.py runs each stated deviation's program in a dtype the backend
    has, and skips, with the reason, one it cannot run at all."""
    from harness.deviations import Deviation
    from suites.test_deviations import test_deviation_still_reproduces

    class Float32Sin(broken.WrongSinVjp):
        capabilities = broken.WrongSinVjp.capabilities - {"float64"}
        dtypes = []

        def tensor(self, values, dtype, requires_grad):
            self.dtypes.append(dtype)
            return super().tensor(values, dtype, requires_grad)

    sin = P.Program(dtype="float64", leaves=SUM_OF_A.leaves,
                    steps=(P.Op("t1", "sin", ("a",)),
                           P.Op("t2", "sum", ("t1",), (("dim", 0), ("keepdim", False)))),
                    plan=(P.Backward(("t2",), (None,)),))
    stated = Deviation("sin-negated", "d sin(x)/dx is -cos(x)", sin,
                       lambda program, m: m.kind == "grad")
    install(Float32Sin())
    test_deviation_still_reproduces(stated)
    assert Float32Sin.dtypes and set(Float32Sin.dtypes) == {"float32"}
    unrunnable = Deviation("needs-detach", "", P.Program(
        dtype="float64", leaves=sin.leaves, steps=(P.Detach("d1", "a"),), plan=()), None)

    class Float32NoDetach(Float32Sin):
        capabilities = Float32Sin.capabilities - {"detach"}
    install(Float32NoDetach())
    with pytest.raises(pytest.skip.Exception, match="lacks detach"):
        test_deviation_still_reproduces(unrunnable)


def test_an_error_met_reading_the_gradients_is_the_actions_error():
    """A lazy engine computes gradients when they are read: its backward's failure must be
    that action's error (a difference a deviation can state), not a crash of the run."""
    from gradspec import program as P
    from gradspec.interpreter import run
    from tests.mutants.zoo.broken import FailsWhenRead
    program = P.Program(dtype="float64", leaves=(P.Leaf("a", (2,), (0.5, -0.75)),),
                        steps=(P.Op("t1", "exp", ("a",)),),
                        plan=(P.Backward(("t1",), ((1.0, 1.0),), True),
                              P.Backward(("t1",), ((1.0, 1.0),))))
    trace = run(program, FailsWhenRead(), strict=False)
    assert [a.error for a in trace.actions] == [None, "unexpected RuntimeError"]
    assert "raised when the gradients after this action were read" in trace.actions[1].message
    assert trace.actions[1].grads == {}


def test_a_compiling_adapter_gets_the_forward_as_one_region():
    """Adapter.region: the interpreter hands the forward steps over as one function, and the
    values it returns are the program's (the same trace as step by step)."""
    from gradspec.reference_adapter import ReferenceAdapter
    from gradspec import program as P
    from gradspec.compare import compare
    from gradspec.interpreter import run
    from tests.mutants.zoo.broken import CompilesRegions
    program = P.Program(dtype="float64", leaves=(P.Leaf("a", (2,), (0.5, -0.75)),),
                        steps=(P.Op("t1", "exp", ("a",)), P.RetainGrad("t1"),
                               P.Op("t2", "sum", ("t1",), (("dim", (0,)), ("keepdim", False)))),
                        plan=(P.Backward(("t2",), (None,)),))
    adapter = CompilesRegions()
    trace = run(program, adapter, strict=False)
    assert adapter.regions == [3]
    assert compare(program, run(program, ReferenceAdapter()), trace) == []
    assert trace.actions[0].retained["t1"] is not None
