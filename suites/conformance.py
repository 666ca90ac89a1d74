"""What every suite shares: programs for the backend under test, and the check itself."""
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context, event, note

from harness import backend as current
from harness.check import check
from strategies import Config, programs


def programs_for(config: Config):
    """Programs drawn for the backend under test (its capabilities and ops), in the dtype
    `--dtype` asks for if it does."""
    def drawn():
        wanted = current.dtypes()
        return programs(config.but(dtypes=wanted) if wanted else config, current.candidate())
    return st.deferred(drawn)


def conforms(program):
    """The candidate's trace must match the reference's; a mismatch fails with a report,
    unless one of the backend's stated deviations explains it (then it is recorded). Under
    `--isolate` the candidate runs in its worker process: a crash or a hang fails too.
    Returns the reference's trace."""
    return judged(program)[0]


def judged(program):
    """`conforms`, returning (the reference's trace, the candidate's, the deviation that
    explained their difference or None)."""
    expected, actual, deviation = check(program, current.candidate(), current.reference(),
                                        current.deviations(), current.isolated())
    current.count_program(deviation)
    if not currently_in_test_context():  # a hand-written program (worked examples)
        return expected, actual, deviation
    event(f"dtype={program.dtype}")
    if deviation is not None:
        event(f"deviation: {deviation.id}")
        note(f"explained by deviation {deviation.id}: {deviation.reason}")
    errors = sorted({a.error for a in expected.actions if a.error} |
                    ({expected.forward_error} if expected.forward_error else set()))
    event("reference raised: " + (", ".join(errors) if errors else "nothing"))
    return expected, actual, deviation
