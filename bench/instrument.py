"""Where a checked program's time goes, measured from outside the loop.

The seams of the conformance loop are wrapped in this process only, for the length of one
measurement: nothing in gradspec/, strategies/ or suites/ knows about the benchmark, and
nothing costs anything when it is not running.

- `suites.conformance.check`: one call per checked program (counted, and kept for the
  replays that measure the torch floor and the reference against torch);
- `harness.check.run`: the reference's and the candidate's runs inside the check;
- `harness.check.compare`: the comparison of the two traces;
- `harness.isolate.IsolatedCandidate.run`: the candidate's run through its worker process
  (`--isolate`; the worker's own CPU time is added by the benchmark, from what it reports);
- the reference Session the strategies drive while they draw a program (the builder runs each
  step on the reference as it draws it): reference work done during generation.

Generation is what remains of the test's time: Hypothesis itself and the strategies' own
code. Other is the rest of the check (requirements, deviations, events and notes).

Times are CPU times of this process (`time.process_time`): what one core spends, unaffected by
whatever else the machine runs (the wall time is reported beside them).
"""
import contextlib
import time
from collections import defaultdict

from harness import backend as current

CATEGORIES = ("generation", "reference", "backend", "compare", "other")
cpu_time = time.process_time


class Clock:
    def __init__(self):
        self.seconds = defaultdict(float)
        self.programs = []
        self.in_check = False

    def split(self, total):
        """Seconds per category for a measurement that took `total` seconds in all."""
        s = self.seconds
        check = s["check"]
        reference = s["reference_gen"] + s["reference_check"]
        return {
            "generation": max(0.0, total - check - s["reference_gen"]),
            "reference": reference,
            "backend": s["backend"],
            "compare": s["compare"],
            "other": max(0.0, check - s["reference_check"] - s["backend"] - s["compare"]),
        }


def _timed(clock, key, fn):
    def timed(*args, **kwargs):
        start = cpu_time()
        try:
            return fn(*args, **kwargs)
        finally:
            clock.seconds[key] += cpu_time() - start
    return timed


@contextlib.contextmanager
def instrumented():
    """Yield a Clock that the conformance loop's seams report to while the block runs."""
    import harness.check as check_module
    from harness.isolate import IsolatedCandidate
    import strategies.builder as builder
    import suites.conformance as conformance

    clock = Clock()
    saved = (conformance.check, check_module.run, check_module.compare, builder.Session)
    original_check, original_run, original_compare, session_cls = saved

    def check(program, *args, **kwargs):
        clock.programs.append(program)
        clock.in_check = True
        start = cpu_time()
        try:
            return original_check(program, *args, **kwargs)
        finally:
            clock.seconds["check"] += cpu_time() - start
            clock.in_check = False

    def run(program, adapter, *args, **kwargs):
        key = "reference_check" if adapter is current.reference() else "backend"
        return _timed(clock, key, original_run)(program, adapter, *args, **kwargs)

    class TimedSession(session_cls):
        """The strategies' reference Session: its work counts as reference, not generation
        (inside a check it is already counted by the check's own seams)."""

    for name in ("add_leaf", "add_layer", "add_function", "step"):
        method = getattr(session_cls, name, None)
        if method is not None:
            setattr(TimedSession, name, _generation_timed(clock, method))

    conformance.check = check
    check_module.run = run
    check_module.compare = _timed(clock, "compare", original_compare)
    builder.Session = TimedSession
    isolated_run = IsolatedCandidate.run
    IsolatedCandidate.run = _timed(clock, "backend", isolated_run)
    try:
        yield clock
    finally:
        conformance.check, check_module.run, check_module.compare, builder.Session = saved
        IsolatedCandidate.run = isolated_run


def _generation_timed(clock, method):
    def timed(self, *args, **kwargs):
        if clock.in_check:
            return method(self, *args, **kwargs)
        start = cpu_time()
        try:
            return method(self, *args, **kwargs)
        finally:
            clock.seconds["reference_gen"] += cpu_time() - start
    return timed
