"""Each stated deviation of the backend still reproduces (else it is stale: remove it), and so
does each engine bug's standalone script (findings/<engine>/<id>.py) in a fresh interpreter."""
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from gradspec.adapter import UnsupportedProgram
from harness import backend as current
from gradspec.compare import compare
from gradspec.interpreter import run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A finding imports its engine and runs a few tiny programs: seconds (tinygrad compiles its
# kernels with clang the first time); two minutes means it hangs.
FINDING_TIMEOUT = 120
pytestmark = pytest.mark.deterministic  # a campaign's rounds skip these


def _deviations():
    return current.deviations()


@pytest.mark.parametrize("deviation", _deviations(), ids=lambda d: d.id)
def test_deviation_still_reproduces(deviation):
    program = runnable(deviation, current.candidate())
    isolated = current.isolated()  # --isolate: a crash fails this test, not the run
    try:
        actual = run(program, current.candidate(), strict=False) if isolated is None \
            else isolated.run(program)
    except UnsupportedProgram as exc:
        # An engine crash the adapter keeps away (running it would kill the process): its
        # finding script, run in a fresh interpreter below, is what checks it still happens.
        if not deviation.finding:
            raise
        pytest.skip(f"{current.candidate().name} keeps the program of {deviation.id!r} away "
                    f"({exc}); {deviation.finding} checks the bug")
    mismatches = compare(program, run(program, current.reference()), actual)
    converted = f" (run in {program.dtype})" if program.dtype != deviation.program.dtype else ""
    assert mismatches, (f"deviation {deviation.id!r} is stale: {current.candidate().name} now "
                        f"agrees with the reference on its program{converted}; remove the entry")
    assert deviation.explains(program, mismatches), (
        f"deviation {deviation.id!r} reproduces a different difference:\n"
        + "\n".join(str(m) for m in mismatches))


def runnable(deviation, candidate):
    """The deviation's program as `candidate` can run it: in float32 on a backend without
    float64 (a float32-only engine states its deviations with the same programs); skipped,
    with the reason, if the backend still lacks something it needs."""
    program = deviation.program
    caps = candidate.capabilities
    if deviation.dtypes and not set(deviation.dtypes) & set(caps):
        pytest.skip(f"deviation {deviation.id!r} shows in {', '.join(deviation.dtypes)} only, "
                    f"which {candidate.name} lacks")
    if program.dtype not in caps:
        program = next((replace(program, dtype=d) for d in ("float32", "float64") if d in caps),
                       program)
    ops, needs = program.requirements()
    missing = sorted(ops - set(candidate.ops)) + sorted(needs - set(caps))
    if missing:
        pytest.skip(f"{candidate.name} cannot run the program of deviation {deviation.id!r} "
                    f"(lacks {', '.join(missing)})")
    return program


@pytest.mark.slow
@pytest.mark.parametrize("deviation", _deviations(), ids=lambda d: d.id)
def test_finding_still_reproduces(deviation, tmp_path):
    """An engine bug's script exits 1 while the bug reproduces and 0 once it is fixed. It runs
    outside the checkout: its engine's own API only, nothing of gradspec."""
    if not deviation.finding:
        pytest.skip(f"{deviation.id} names no finding script")
    path = os.path.join(ROOT, deviation.finding)
    assert os.path.isfile(path), f"deviation {deviation.id!r} names a missing finding {path}"
    proc = subprocess.run([sys.executable, path], cwd=tmp_path, capture_output=True, text=True,
                          timeout=FINDING_TIMEOUT)
    output = f"{proc.stdout}{proc.stderr}".strip()
    assert proc.returncode != 0, (
        f"finding {deviation.finding} is stale: the bug no longer reproduces (the engine was "
        f"fixed): remove it and deviation {deviation.id!r}, or keep both for the versions "
        f"that still have it\n{output}")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, (
        f"finding {deviation.finding} crashed (exit {proc.returncode}) instead of checking "
        f"the bug:\n{output}")
