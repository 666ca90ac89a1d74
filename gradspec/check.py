"""Run one program on the reference and on a candidate, and fail with a report a user can act
on: what differed, expected vs actual, the candidate's standalone script, the program."""
from adapters.base import UnsupportedProgram

from .compare import compare
from .interpreter import run


class ConformanceFailure(AssertionError):
    pass


def check(program, candidate, reference, deviations=()):
    """Raise ConformanceFailure if `candidate` disagrees with `reference` on `program`.

    A disagreement entirely explained by one of `deviations` (the backend's known, stated
    differences) does not fail: the matching deviation is returned instead.
    """
    import pytest
    ops, caps = program.requirements()
    missing = sorted(ops - set(candidate.ops)) + sorted(caps - set(candidate.capabilities))
    if missing:
        pytest.skip(f"{candidate.name} cannot express this program (lacks {', '.join(missing)})")
    expected = run(program, reference)
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
        raise ConformanceFailure(report(program, candidate, [str(m) for m in mismatches]))
    return expected, actual, None


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
