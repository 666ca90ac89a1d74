"""The campaign command end to end (skipped where HypoFuzz, the optional `campaign` extra, is
not installed; CI does not install it): a short run against a mutant finds the bug, stores it
in the database, and plain pytest replays it first from there."""
import json
import os
import subprocess
import sys

import pytest

from tests.infra.redis_server import ROOT


@pytest.mark.slow
def test_a_short_campaign_finds_a_mutant_and_pytest_replays_it(tmp_path):
    pytest.importorskip("hypofuzz", reason="HypoFuzz is not installed: pip install '.[campaign]'")
    summary = tmp_path / "campaign.json"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GRADSPEC_", "PYTEST_XDIST", "PYTEST_CURRENT"))}
    proc = subprocess.run(
        [sys.executable, "-m", "gradspec.campaign", "--backend=tests.mutants.zoo:SinSign",
         "--deviations=deviations/torch.py", "-n", "1", "--minutes", "2", "--stop-at-first",
         f"--db=dir:{tmp_path / 'db'}", f"--json={summary}", "--",
         "gradspec/campaign_targets.py", "-k", "test_op and sin"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]  # 1: a failure found
    result = json.loads(summary.read_text())
    assert result["ended_by"] == "the first failure", result
    assert list(result["failures"]) == ["gradspec/campaign_targets.py::test_op[sin]"]
    # The replay at the end is plain pytest with the same database: the failure comes first.
    assert "mutant:sin-sign disagrees with the reference" in out
    assert "1 failed" in out
