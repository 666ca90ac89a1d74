"""Run one program on the reference and on a candidate, and fail with a report a user can act
on: what differed, expected vs actual, the candidate's standalone script, the program."""
from adapters.base import UnsupportedProgram

from .compare import compare
from .interpreter import Session, run


class ConformanceFailure(AssertionError):
    pass


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
    # The strategies built the program on the reference while drawing it: only its plan runs.
    expected = run(program, reference, built=Session.taken_from(program, reference))
    try:
        actual = run(program, candidate, strict=False)
    except UnsupportedProgram as exc:
        pytest.skip(f"{candidate.name} cannot express this program: {exc}")
    except Exception as exc:  # e.g. an exception in building a layer: still a finding
        raise ConformanceFailure(report(program, candidate, [
            f"{candidate.name} raised {type(exc).__name__}: {exc} "
            f"(the reference: {_outcome(expected)})"])) from exc
    mismatches = compare(program, expected, actual)
    if mismatches:
        for deviation in deviations:
            if deviation.explains(program, mismatches):
                return expected, actual, deviation
        together = _together(program, mismatches, deviations)
        if together is not None:
            return expected, actual, together
        raise ConformanceFailure(report(program, candidate, [str(m) for m in mismatches]))
    return expected, actual, None


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
