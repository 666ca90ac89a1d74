"""Run one program on the reference and on a candidate, and fail with a report a user can act
on: what differed, expected vs actual, the candidate's standalone script, the program.

`judge` is the one place that decides whether a candidate conforms on a program (tolerances,
stated deviations); `check` (the suites), `gradspec.replay` and the soundness campaign all
ask it, so a difference is judged the same way wherever it is seen.
"""
from dataclasses import dataclass, field

from adapters.base import UnsupportedProgram

from .compare import compare
from .interpreter import Session, run


class ConformanceFailure(AssertionError):
    """A candidate disagrees with the reference. `verdict` says who finite differences side
    with (gradspec/arbitrate.py), so that a campaign can tell engine bugs from oracle gaps."""

    def __init__(self, message, verdict=None):
        super().__init__(message)
        self.verdict = verdict


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


def judge(program, candidate, reference, deviations=(), expected=None, actual=None):
    """Run `program` on both engines (unless the traces are given) and judge the difference.

    Raises UnsupportedProgram when the candidate cannot express the program."""
    if expected is None:
        # The strategies built the program on the reference while drawing it: only its plan
        # runs.
        expected = run(program, reference, built=Session.taken_from(program, reference))
    if actual is None:
        try:
            actual = run(program, candidate, strict=False)
        except UnsupportedProgram:
            raise
        except Exception as exc:  # e.g. an exception in building a layer: still a finding
            return Judgement(expected, crash=f"{candidate.name} raised {type(exc).__name__}: "
                                             f"{exc} (the reference: {_outcome(expected)})")
    mismatches = compare(program, expected, actual)
    deviation = None
    if mismatches:
        deviation = next((d for d in deviations if d.explains(program, mismatches)), None) \
            or _together(program, mismatches, deviations)
    return Judgement(expected, actual, mismatches, deviation)


def check(program, candidate, reference, deviations=()):
    """Raise ConformanceFailure if `candidate` disagrees with `reference` on `program`.

    A disagreement entirely explained by `deviations` (the backend's known, stated differences;
    one, or several between them) does not fail: the matching deviation is returned instead.
    """
    import pytest
    ops, caps = program.requirements()
    missing = sorted(ops - set(candidate.ops)) + sorted(caps - set(candidate.capabilities))
    if missing:
        pytest.skip(f"{candidate.name} cannot express this program (lacks {', '.join(missing)})")
    try:
        j = judge(program, candidate, reference, deviations)
    except UnsupportedProgram as exc:
        pytest.skip(f"{candidate.name} cannot express this program: {exc}")
    if j.crash:
        raise ConformanceFailure(report(program, candidate, [j.crash]))
    if not j.conforms:
        raise ConformanceFailure(report(program, candidate, [str(m) for m in j.mismatches]))
    return j.expected, j.actual, j.deviation


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
    from .deviations import Deviation
    return Deviation(" + ".join(d.id for d in used), "; ".join(d.reason for d in used), None,
                     lambda p, m: any(d.applies(p, m) for d in used), tuple(used))


def _outcome(trace):
    if trace.forward_error:
        return f"raised {trace.forward_error} in the forward steps"
    errors = [f"plan[{a.index}] raised {a.error}" for a in trace.actions if a.error]
    return ", ".join(errors) or "ran without errors"


def report(program, candidate, problems):
    lines = [f"{candidate.name} disagrees with the reference on this program:", ""]
    lines += [f"  {p}" for p in problems[:12]]
    if len(problems) > 12:
        lines.append(f"  ... and {len(problems) - 12} more")
    script = candidate.render_script(program)
    if script:
        lines += ["", f"---- standalone {candidate.name} script (run it to see the actual values) "
                  "----", script.rstrip(), "---- end of script ----"]
    lines += ["", "Program (save it to a file and replay it: python -m gradspec.replay FILE "
              f"{candidate.name}):", program.to_source()]
    return "\n".join(lines)
