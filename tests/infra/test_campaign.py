"""The campaign command end to end (skipped where HypoFuzz, the optional `campaign` extra, is
not installed): a short run against a mutant finds the bug, stores it
in the database, and plain pytest replays it first from there."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from harness.campaign import TARGETS, fresh_env
from harness.fuzzers import PlainHypothesis
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


_ITEMS_PLUGIN = '''
import json, os
def pytest_collection_finish(session):
    with open(os.environ["ITEMS_OUT"], "w") as f:
        json.dump([[i.nodeid, bool(getattr(getattr(i, "obj", None), "is_hypothesis_test",
                                           False))] for i in session.items], f)
'''
# Suite tests that draw with Hypothesis inside the test body (one @given a parameter): a
# campaign's rounds run them, though they are no Hypothesis test themselves.
DRAW_INSIDE = {"suites/test_multi_output.py::test_multi_output_op"}


def test_a_round_runs_every_property_and_the_op_vocabulary_but_no_fixed_test(tmp_path):
    """What one plain-Hypothesis round collects: the op vocabulary (pytest 9 dropped
    suites/campaign_targets.py when it was named beside `suites`), every property suite, and
    no deterministic test (a worked example or a deviation's check finds nothing new run
    again). A new fixed-input suite test must carry the `deterministic` mark."""
    (tmp_path / "items_plugin.py").write_text(_ITEMS_PLUGIN)
    out = tmp_path / "items.json"
    fuzzer = PlainHypothesis(1, list(TARGETS), [], fresh_env(), str(tmp_path), seed=1)
    cmd = fuzzer.command(0, 0) + ["--collect-only", "-p", "items_plugin"]
    env = dict(fuzzer.env, ITEMS_OUT=str(out), GRADSPEC_PROFILE="campaign",
               PYTHONPATH=str(tmp_path))
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    items = json.loads(out.read_text())
    ids = [nodeid for nodeid, _ in items]
    assert sum(i.startswith("suites/campaign_targets.py::test_op[") for i in ids) > 50
    assert any(i.startswith("suites/test_higher_order.py::") for i in ids)
    assert not [i for i in ids if "test_deviations.py" in i or "test_worked_examples" in i]
    assert not [i for i in ids if i.startswith("suites/test_ops.py::test_op")]
    fixed = {nodeid.split("[")[0] for nodeid, hypothesis in items if not hypothesis}
    assert fixed <= DRAW_INSIDE, f"mark these deterministic, or list them: {fixed - DRAW_INSIDE}"


def test_rounds_with_no_test_left_end_the_campaign(tmp_path):
    """Targets whose every test is deterministic leave a round nothing to run: the campaign
    ends at once and says why, rather than starting empty rounds until its time is up."""
    summary = tmp_path / "campaign.json"
    proc = subprocess.run(
        [sys.executable, "-m", "harness.campaign", "--backend=torch", "-n", "1",
         "--minutes", "2", "--no-replay", f"--db=dir:{tmp_path / 'db'}", f"--json={summary}",
         "--", "suites/test_worked_examples.py"],
        cwd=ROOT, env=fresh_env(), capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "no test left to run" in json.loads(summary.read_text())["ended_by"], out[-3000:]


def _processes_with(text):
    found = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    found.append(int(pid))
        except (OSError, ValueError):
            pass
    return found


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc for the round's process")
def test_sigterm_stops_the_rounds_and_writes_the_summary(tmp_path):
    """A cancelled CI job sends SIGTERM: the campaign must stop its rounds' processes (they
    run in sessions of their own, out of the signal's reach) and still write its summary."""
    summary, seed = tmp_path / "campaign.json", 424242 + os.getpid()
    marker = f"--gradspec-campaign-seed={seed}"  # round 0 of worker 0 takes the seed itself
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.campaign", "--backend=torch", "-n", "1",
         "--minutes", "5", f"--seed={seed}", f"--db=dir:{tmp_path / 'db'}",
         f"--json={summary}", "--", "suites/test_broadcasting.py"],
        cwd=ROOT, env=fresh_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 60
    while not _processes_with(marker) and time.time() < deadline:
        time.sleep(0.2)
    assert _processes_with(marker), "the round's process never started"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert json.loads(summary.read_text())["ended_by"] == "SIGTERM", out[-3000:]
    assert not _processes_with(marker), "a round's process outlived its campaign"
    assert "replaying" not in out
