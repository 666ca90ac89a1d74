"""--every-difference: an engine with two bugs gets one shrunk program for each in one run
(what an engine author drafting a deviation file needs), and without it the first only."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(*extra):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "suites/test_retain_graph.py", "-q", "-p",
         "no:cacheprovider", "--backend", "tests.mutants.zoo.broken:WrongSinAndAlwaysRetains",
         *extra],
        cwd=ROOT, capture_output=True, text=True,
        env={k: v for k, v in os.environ.items() if k != "GRADSPEC_EVERY_DIFFERENCE"})
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_each_kind_of_difference_is_shrunk_and_reported():
    out = _run("--every-difference")
    found = re.search(r"Hypothesis found (\d+) distinct failures", out)
    assert found and int(found.group(1)) >= 2, out[-3000:]  # a third kind may be met too
    assert "Difference[error graph_freed vs None]" in out and "Difference[grad]" in out


@pytest.mark.slow
def test_without_it_the_first_failure_stops_the_test():
    out = _run()
    assert "distinct failures" not in out and "Difference[" not in out
    assert "ConformanceFailure" in out
