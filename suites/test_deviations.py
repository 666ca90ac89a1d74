"""Each stated deviation of the backend still reproduces (else it is stale: remove it)."""
import pytest

from gradspec import backend as current
from gradspec.compare import compare
from gradspec.interpreter import run


def _deviations():
    return current.deviations()


@pytest.mark.parametrize("deviation", _deviations(), ids=lambda d: d.id)
def test_deviation_still_reproduces(deviation):
    program = deviation.program
    mismatches = compare(program, run(program, current.reference()),
                         run(program, current.candidate(), strict=False))
    assert mismatches, (f"deviation {deviation.id!r} is stale: {current.candidate().name} now "
                        f"agrees with the reference on its program; remove the entry")
    assert deviation.explains(program, mismatches), (
        f"deviation {deviation.id!r} reproduces a different difference:\n"
        + "\n".join(str(m) for m in mismatches))
