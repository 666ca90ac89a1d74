"""Run one program on the reference and on a candidate, and fail with a report a user can act
on: what differed, expected vs actual, the candidate's standalone script, the program.

`judge` is the one place that decides whether a candidate conforms on a program (tolerances,
stated deviations); `check` (the suites), `harness.replay` and the soundness campaign all
ask it, so a difference is judged the same way wherever it is seen.
"""
from dataclasses import dataclass, field

from gradspec.compare import compare
from gradspec.errors import UnsupportedProgram
from gradspec.interpreter import Session, run
from .isolate import IsolationError, WorkerCrash


class ConformanceFailure(AssertionError):
    """A candidate disagrees with the reference. `verdict` says who finite differences side
    with (harness/arbitrate.py), so that a campaign can tell engine bugs from oracle gaps."""

    def __init__(self, message, verdict=None, crash=False):
        super().__init__(message)
        self.verdict = verdict
        self.crash = crash  # the candidate raised, died or hung outside any step or action


@dataclass
class Judgement:
    """What running one program on both engines showed."""
    expected: object  # the reference's Trace
    actual: object = None  # the candidate's Trace (None when it raised outside the interpreter)
    mismatches: list = field(default_factory=list)  # after tolerances
    deviation: object = None  # the stated deviation(s) explaining every mismatch, if any
    crash: str = ""  # the candidate raised outside any step or action (e.g. building a layer)

    @property
    def conforms(self):
        return not self.crash and (not self.mismatches or self.deviation is not None)


def judge(program, candidate, reference, deviations=(), expected=None, actual=None,
          isolated=None):
    """Run `program` on both engines (unless the traces are given) and judge the difference.
    `isolated`: the candidate's runner in a worker process (harness/isolate.py, `--isolate`),
    which runs its side instead; a crash or a hang there is judged a crash of the candidate.

    Raises UnsupportedProgram when the candidate cannot express the program."""
    if expected is None:
        # The strategies built the program on the reference while drawing it: only its plan
        # runs.
        expected = run(program, reference, built=Session.taken_from(program, reference))
    if actual is None:
        try:
            actual = run(program, candidate, strict=False) if isolated is None \
                else isolated.run(program)
        except (UnsupportedProgram, IsolationError):
            raise
        except WorkerCrash as exc:  # the engine segfaulted, aborted, exited or hung
            return Judgement(expected, crash="\n  ".join(
                [f"{exc} (the reference: {_outcome(expected)})", *exc.details]))
        except Exception as exc:  # e.g. an exception in building a layer: still a finding
            return Judgement(expected, crash=f"{candidate.name} raised {type(exc).__name__}: "
                                             f"{exc} (the reference: {_outcome(expected)})")
    mismatches = compare(program, expected, actual)
    if any(m.numeric for m in mismatches):
        # A value outside the fixed tolerance: is it within the rounding the reference's
        # noisy runs show (cancellation)? Asked only now: it costs three reference runs.
        from gradspec.tolerance import rounding_slack
        mismatches = compare(program, expected, actual,
                             rounding_slack(program, reference, expected))
    deviation = None
    if mismatches:
        deviation = next((d for d in deviations if d.explains(program, mismatches)), None) \
            or _together(program, mismatches, deviations)
    return Judgement(expected, actual, mismatches, deviation)


def check(program, candidate, reference, deviations=(), isolated=None):
    """Raise ConformanceFailure if `candidate` disagrees with `reference` on `program`.

    A disagreement entirely explained by `deviations` (the backend's known, stated differences;
    one, or several between them) does not fail: the matching deviation is returned instead.
    """
    ops, caps = program.requirements()
    missing = sorted(ops - set(candidate.ops)) + sorted(caps - set(candidate.capabilities))
    if missing:
        _unsupported(f"{candidate.name} cannot express this program (lacks "
                     f"{', '.join(missing)})")
    try:
        j = judge(program, candidate, reference, deviations, isolated=isolated)
    except UnsupportedProgram as exc:
        _unsupported(f"{candidate.name} cannot express this program: {exc}")
    if j.crash:
        raise _failure_class("crash")(report(program, candidate, [j.crash]), crash=True)
    if not j.conforms:
        verdict = None
        if _reporting():
            from .arbitrate import arbitrate
            verdict = arbitrate(program, j, candidate.name)
        raise _failure_class(difference_kind(j.mismatches))(
            report(program, candidate, [str(m) for m in j.mismatches], verdict), verdict)
    return j.expected, j.actual, j.deviation


def difference_kind(mismatches):
    """What differs first, coarsely: the kind of value (grad, forward, hook, ...) or, for an
    error, which error each side raised. Later differences are often the first one's
    consequences; a program whose first difference is of another kind is another group."""
    m = mismatches[0]
    return f"error {m.expected} vs {m.actual}" if m.kind == "error" else m.kind or m.where


_FAILURE_CLASSES = {}


def _failure_class(kind):
    """ConformanceFailure, or under --every-difference one subclass per kind of difference:
    Hypothesis tells bugs apart by exception type (and where it was raised), so it then
    shrinks and reports one program for each kind instead of stopping at the first."""
    from . import backend
    if not backend.every_difference():
        return ConformanceFailure
    if kind not in _FAILURE_CLASSES:
        _FAILURE_CLASSES[kind] = type(f"Difference[{kind}]", (ConformanceFailure,), {})
    return _FAILURE_CLASSES[kind]


def _unsupported(reason):
    """A program the candidate cannot express: inside a Hypothesis test only this example is
    rejected (the test goes on with others; Hypothesis fails it as Unsatisfiable if it finds
    none the candidate can run); a hand-written program's test is skipped with `reason`."""
    from hypothesis import event, reject
    from hypothesis.control import currently_in_test_context
    if currently_in_test_context():
        event(f"rejected: {reason}")  # --hypothesis-show-statistics says why
        reject()
    import pytest
    pytest.skip(reason)


def _reporting():
    """Is this failure the one reported? Finite differences cost a few hundred forwards: not
    on each of the examples Hypothesis tries while shrinking, only on the shrunk one it
    replays last (and on a hand-written program, outside any test)."""
    from hypothesis.control import current_build_context, currently_in_test_context
    return not currently_in_test_context() or current_build_context().is_final


def _together(program, mismatches, deviations):
    """Several stated deviations that between them explain every mismatch (one program can show
    two of an engine's differences), as one Deviation naming them all; else None."""
    used = []
    for m in mismatches:
        deviation = next((d for d in deviations if d.applies(program, m)), None)
        if deviation is None:
            return None
        if deviation not in used:
            used.append(deviation)
    from harness.deviations import Deviation
    return Deviation(" + ".join(d.id for d in used), "; ".join(d.reason for d in used), None,
                     lambda p, m: any(d.applies(p, m) for d in used), tuple(used))


def _outcome(trace):
    if trace.forward_error:
        return f"raised {trace.forward_error} in the forward steps"
    errors = [f"plan[{a.index}] raised {a.error}" for a in trace.actions if a.error]
    return ", ".join(errors) or "ran without errors"


def report(program, candidate, problems, verdict=None):
    lines = [f"{candidate.name} disagrees with the reference on this program:", ""]
    lines += [f"  {p}" for p in problems[:12]]
    if len(problems) > 12:
        lines.append(f"  ... and {len(problems) - 12} more")
    if verdict is not None:
        lines += [""] + verdict.lines(candidate.name)
    script = candidate.render_script(program)
    if script:
        lines += ["", f"---- standalone {candidate.name} script (run it to see the actual values) "
                  "----", script.rstrip(), "---- end of script ----"]
    lines += ["", "Program (save it to a file and replay it: python -m harness.replay FILE "
              f"{candidate.name}):", program.to_source()]
    return "\n".join(lines)
