"""The campaign command end to end (skipped where HypoFuzz, the optional `campaign` extra, is
not installed): a short run against a mutant finds the bug, stores it
in the database, and plain pytest replays it first from there."""
import json
import subprocess
import sys

import pytest

from harness.campaign import fresh_env
from tests.infra.redis_server import ROOT


@pytest.mark.slow
def test_a_short_campaign_finds_a_mutant_and_pytest_replays_it(tmp_path):
    pytest.importorskip("hypofuzz", reason="HypoFuzz is not installed: pip install '.[campaign]'")
    summary = tmp_path / "campaign.json"
    env = fresh_env()
    proc = subprocess.run(
        [sys.executable, "-m", "harness.campaign", "--mode=hypofuzz",
         "--backend=tests.mutants.zoo:SinSign", "--deviations=deviations/torch.py", "-n", "1", "--minutes", "2", "--stop-at-first",
         f"--db=dir:{tmp_path / 'db'}", f"--json={summary}", "--",
         "suites/campaign_targets.py", "-k", "test_op[sin]"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]  # 1: a failure found
    assert "programs checked" in out  # the progress line
    assert "Full backward hook is firing" not in out  # the warnings pytest silences
    result = json.loads(summary.read_text())
    assert result["ended_by"] == "the first failure", result
    # `-k test_op[sin]`, not `sin`: asin's programs may also hold a sin, and fail too.
    assert list(result["failures"]) == ["suites/campaign_targets.py::test_op[sin]"]
    # The replay at the end is plain pytest with the same database: the failure comes first.
    assert "mutant:sin-sign disagrees with the reference" in out
    assert "1 failed" in out


def test_progress_is_one_line_every_few_seconds():
    import io
    from harness.campaign import PROGRESS_S, Progress, progress_line
    line = progress_line(12.0, 480, 10.0, 2, 1)
    assert "480 programs checked (48.0 programs/s, 2 processes), 1 failure so far" in line
    assert "warming up" in progress_line(0.5, 3, 0.2, 1, 0)

    class Terminal(io.StringIO):
        def isatty(self):
            return True
    log, tty = io.StringIO(), Terminal()
    for p in (Progress(log), Progress(tty)):
        for t in range(0, 61):  # a minute, one poll a second
            p.show(1000.0 + t, f"at {t}")
        p.end_line()
    assert log.getvalue().count("\n") == 60 // (6 * int(PROGRESS_S)) + 1  # a log: a line each 30 s
    assert tty.getvalue().count("\r") == 60 // int(PROGRESS_S) + 1  # rewritten in place
    assert tty.getvalue().count("\n") == 1  # then a fresh line for what follows


def test_counts_sum_every_process_and_name_those_at_work(tmp_path):
    """Plain-Hypothesis rounds start a process a round: the programs of the ended ones count,
    but the progress line's processes are those at work, not every round's so far."""
    import json
    from harness.campaign import BUSY_S, read_counts
    rows = {1: (100, 0.0, 30.0), 2: (200, 1.0, 31.0), 3: (50, 31.0, 60.0),
            4: (70, 32.0, 60.0 - BUSY_S / 2)}
    for pid, (programs, first, last) in rows.items():
        (tmp_path / f"{pid}.json").write_text(json.dumps(
            {"programs": programs, "first": first, "last": last}))
    assert read_counts(tmp_path) == (420, 60.0, 2)
