"""Run the ci suites against one mutant, in process, and stop at the first failure.

The suites' own Hypothesis tests are called directly with the mutant installed as the
candidate (`harness.backend.set_current`, as tests/meta/test_broken_adapters.py does), under
the `ci` profile (derandomized, 60 examples) with `report_multiple_bugs=False`: the first
failing program ends the test (after shrinking it, when `shrink`). The mutant's expected
killers run first, then every other suite test, so a mutant that only an unexpected suite
catches is still reported as killed (by that suite), and a survivor really escaped them all.
"""
import contextlib
import importlib
import sys
import time
from dataclasses import asdict, dataclass, field

from hypothesis import Phase, settings

import suites.conformance
from gradspec.reference_adapter import ReferenceAdapter
from harness import deviations
from harness import backend
from harness.check import ConformanceFailure

from .zoo.killers import all_suite_tests


def suite_id(suite):
    """A killer (zoo.Killer) as pytest names it: `test_ops::test_op[sin]`."""
    return suite.suite_id


def ci_settings(shrink=True):
    """gradspec's `ci` profile (conftest.py registers it over Hypothesis' own profile of that
    name), stopping at the first bug."""
    if "conftest" not in sys.modules:  # not under pytest
        importlib.import_module("conftest")
    base = settings.get_profile("ci")
    phases = (Phase.explicit, Phase.generate) + ((Phase.shrink,) if shrink else ())
    return settings(base, report_multiple_bugs=False, phases=phases, database=None)


@contextlib.contextmanager
def _settings_for(test, s):
    """Run a suite's test under `s`: a module-level @given test keeps the settings it was
    decorated with (swapped here); test_op builds its @given when called (reads the profile)."""
    attr = "_hypothesis_internal_use_settings"
    previous_profile = settings.get_current_profile_name()
    settings.register_profile("gradspec-mutants", s)
    old = getattr(test, attr, None)
    try:
        settings.load_profile("gradspec-mutants")
        if old is not None:
            setattr(test, attr, s)
        yield
    finally:
        if old is not None:
            setattr(test, attr, old)
        settings.load_profile(previous_profile)


def run_suite_test(suite, s):
    """Run the suite test a killer (zoo.Killer) names under the settings `s`."""
    with _settings_for(suite.test, s):
        suite()


class Recorder:
    """Counts the programs the suites check and notes the first failure."""

    def __init__(self):
        self.checked = 0
        self.first_failure = None  # (time, programs checked so far)
        self.failed = []

    def wrap(self, original):
        def recording_check(program, candidate, reference, deviations=(), *more):
            self.checked += 1
            try:
                return original(program, candidate, reference, deviations, *more)
            except ConformanceFailure:
                if self.first_failure is None:
                    self.first_failure = (time.perf_counter(), self.checked)
                self.failed.append(program)
                raise
        return recording_check


REFERENCE = ReferenceAdapter()


@contextlib.contextmanager
def installed(adapter):
    """`adapter` as the candidate, torch's stated deviations (a mutant is torch plus one bug:
    torch's own quirks stay explained), the reference as the oracle; yields a Recorder."""
    try:
        previous = backend.candidate(), backend.reference(), backend.deviations()
    except KeyError:
        previous = None
    original = suites.conformance.check
    recorder = Recorder()
    suites.conformance.check = recorder.wrap(original)
    backend.set_current(adapter, REFERENCE, deviations.load("torch"))
    try:
        yield recorder
    finally:
        suites.conformance.check = original
        if previous is not None:
            backend.set_current(*previous)


@dataclass
class KillResult:
    mutant: str
    area: str
    description: str
    killed: bool
    killed_by: str = ""
    expected_killer: bool = False
    examples: int = 0  # programs checked until the first failure (all suites run before)
    seconds: float = 0.0  # wall time until the first failure
    total_seconds: float = 0.0  # including shrinking
    suites_run: list = field(default_factory=list)
    shrunk: str = ""  # the shrunk counterexample, as program source
    report: str = ""  # the failure report
    error: str = ""  # a suite test that ended with anything but a conformance failure

    def as_dict(self):
        return asdict(self)


def order_for(mutant_cls, suites=None, fallback=True):
    """The mutant's killers first, then (with `fallback`) every other suite test."""
    if not fallback:
        return list(mutant_cls.killers)
    rest = [t for t in (suites or all_suite_tests()) if t not in mutant_cls.killers]
    return list(mutant_cls.killers) + rest


def run_mutant(mutant_cls, shrink=True, suites=None, fallback=True):
    """Run the suites against `mutant_cls` until the first one fails; a KillResult.

    `fallback=False` runs the mutant's expected killers only (the CI test: each suite must
    catch the bugs of its own area)."""
    s = ci_settings(shrink)
    result = KillResult(mutant_cls.id, mutant_cls.area, mutant_cls.description, killed=False)
    with installed(mutant_cls()) as rec:
        start = time.perf_counter()
        for suite in order_for(mutant_cls, suites, fallback):
            result.suites_run.append(suite_id(suite))
            try:
                run_suite_test(suite, s)
            except ConformanceFailure as exc:
                result.killed = rec.first_failure is not None
                result.killed_by = suite_id(suite)
                result.expected_killer = suite in mutant_cls.killers
                at, result.examples = rec.first_failure
                result.seconds = round(at - start, 3)
                result.shrunk = rec.failed[-1].to_source()  # Hypothesis replays the minimal last
                result.report = str(exc)
                break
            except Exception as exc:  # noqa: BLE001 - reported, not a kill
                result.error = f"{suite_id(suite)}: {type(exc).__name__}: {exc}"[:2000]
                break
        else:
            result.examples = rec.checked
        result.total_seconds = round(time.perf_counter() - start, 3)
    return result


def run_unmutated(suite, shrink=False):
    """The same suite test against the unmutated TorchAdapter (raises on a failure)."""
    from adapters.torch_adapter import TorchAdapter
    with installed(TorchAdapter()) as rec:
        run_suite_test(suite, ci_settings(shrink))
    return rec.checked
