"""The campaign's search modes (harness/campaign.py): plain Hypothesis rounds find a mutant
and replay it; HypoFuzz's coverage can be limited; swarm testing and target() are options
of pytest too, refused where they cannot apply. (Throughput and time to find are measured by
`python -m bench.find`, never here.)"""
import json
import subprocess
import sys

import pytest

from harness.campaign import fresh_env
from tests.infra.redis_server import ROOT


def _campaign(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "harness.campaign", *args], cwd=ROOT,
                          env=fresh_env(), capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_plain_hypothesis_rounds_find_a_mutant_and_pytest_replays_it(tmp_path):
    summary = tmp_path / "campaign.json"
    proc = _campaign("--mode", "pytest", "--swarm", "--seed", "3",
                     "--backend=tests.mutants.zoo:SinSign", "--deviations=deviations/torch.py",
                     "-n", "1", "--minutes", "2", "--stop-at-first", f"--db=dir:{tmp_path / 'db'}",
                     f"--json={summary}", "--", "suites/campaign_targets.py", "-k", "test_op[sin]")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    result = json.loads(summary.read_text())
    assert (result["mode"], result["search"], result["seed"]) == ("pytest", "swarm", 3), result
    # The failure was kept in the database (a --hypothesis-seed run would keep nothing).
    assert any((tmp_path / "db").rglob("*")), "nothing was saved to the example database"
    assert result["ended_by"] == "the first failure", result
    assert list(result["failures"]) == ["suites/campaign_targets.py::test_op[sin]"]
    # The replay reads the stored example back with the same search (--search swarm).
    assert "--search=swarm" in out
    assert "mutant:sin-sign disagrees with the reference" in out
    assert "1 failed" in out


@pytest.mark.parametrize("args, expected", [
    (("--mode", "pytest", "--coverage", "none"), "--coverage is HypoFuzz's"),
    (("--mode", "hypofuzz", "--seed", "1"), "--seed needs --mode pytest"),
    (("--mode", "nonsense"), "invalid choice: 'nonsense'"),
])
def test_options_that_cannot_apply_are_usage_errors(args, expected):
    proc = _campaign(*args, "--minutes", "0.01", timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("args, expected", [
    (("--search", "swarm,bogus"), "unknown way 'bogus' (known: swarm, target)"),
    (("--search", "swarm"), "the derandomized profile 'ci' keeps CI's programs fixed"),
])
@pytest.mark.slow
def test_pytest_refuses_a_search_it_cannot_do(args, expected):
    proc = subprocess.run([sys.executable, "-m", "pytest", "suites/test_retain_graph.py", "-q",
                           "-p", "no:randomly", *args], cwd=ROOT, env=fresh_env(),
                          capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 4, out  # pytest's usage error
    assert expected in out and "Traceback" not in out, out


@pytest.mark.slow
def test_a_search_runs_under_pytest_on_a_random_profile():
    proc = subprocess.run([sys.executable, "-m", "pytest", "suites/test_retain_graph.py", "-q",
                           "-p", "no:randomly", "--hypothesis-profile=dev", "--max-examples=20",
                           "--search=swarm,target", "--gradspec-db=none"], cwd=ROOT,
                          env=fresh_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
