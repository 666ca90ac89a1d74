"""What every suite shares: programs for the backend under test, and the check itself."""
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context, event, note, target

from harness import backend as current
from harness.check import check
from strategies import Config, programs
from strategies.search import structural_features


def programs_for(config: Config):
    """Programs drawn for the backend under test (its capabilities and ops), in the dtype
    `--dtype` asks for if it does, searched for as `--search` asks. Looked up at each draw:
    a test that installs another candidate (tests/meta) or way of search gets its own."""
    strategies = {}

    @st.composite
    def drawn(draw):
        candidate, wanted, search = current.candidate(), current.dtypes(), current.search()
        key = (id(candidate), wanted, search)
        if key not in strategies or strategies[key][0] is not candidate:  # (an id reused)
            chosen = config.but(dtypes=wanted) if wanted else config
            strategies[key] = candidate, programs(chosen.but(swarm="swarm" in search), candidate)
        return draw(strategies[key][1])
    return drawn()


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
    if "target" in current.search():  # climb towards programs where more features meet
        target(float(len(structural_features(program))), label="distinct features")
        target(float(len(program.plan)), label="plan actions")
    if deviation is not None:
        event(f"deviation: {deviation.id}")
        note(f"explained by deviation {deviation.id}: {deviation.reason}")
    errors = sorted({a.error for a in expected.actions if a.error} |
                    ({expected.forward_error} if expected.forward_error else set()))
    event("reference raised: " + (", ".join(errors) if errors else "nothing"))
    return expected, actual, deviation
