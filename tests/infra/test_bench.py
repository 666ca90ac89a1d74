"""The benchmark (`python -m bench`) runs end to end on a small budget, and its summary judges
the targets from the numbers it is given (not from a timed test: nothing here asserts a speed)."""
import json
import subprocess
import sys

import pytest

from bench.report import summary, table
from bench.workloads import ROOT


def _result(serial, parallel, ceiling):
    return {"machine": {"platform": "p", "python": "3", "cpus": 2, "hypothesis": "h"},
            "load_before": None, "workloads": [],
            "wall": [{"label": "serial", "seconds": serial, "summary": "ok", "returncode": 0},
                     {"label": "-n 2", "seconds": parallel, "summary": "ok", "returncode": 0}],
            "ceiling": {"ceiling": ceiling, "alone_s": 1.0, "together_s": 2 / ceiling}}


def test_the_parallel_target_is_judged_against_the_machines_ceiling():
    result = _result(serial=90.0, parallel=50.0, ceiling=1.6)
    result["summary"] = summary(result, 300.0, 3.5, 1.8)
    judged = result["summary"]["targets"]["parallel_speedup"]
    assert judged == {"measured": 1.8, "target": 1.8, "met": True, "machine_ceiling": 1.6,
                      "efficiency": 1.125}
    assert "the machine's ceiling 1.6" in table(result)
    slower = _result(serial=90.0, parallel=60.0, ceiling=1.9)
    assert not summary(slower, 300.0, 3.5, 1.8)["targets"]["parallel_speedup"]["met"]


@pytest.mark.slow
def test_the_benchmark_runs_and_writes_its_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "target,floor", "--no-wall", "--repeats", "1",
         "--replays", "1", "--json", str(out)], cwd=ROOT, capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    names = [w["name"] for w in result["workloads"]]
    assert names == ["target: default Config, 8-12 steps", "floor: @given(st.integers())"]
    target = result["workloads"][0]
    assert target["programs"] > 0 and target["programs_per_s"] > 0
    assert set(target["split_s"]) == {"generation", "reference", "backend", "compare", "other"}
    assert "target programs_per_s" in proc.stdout
    floor = result["workloads"][1]["programs_per_s"]
    assert result["summary"]["target_over_floor"] == round(target["programs_per_s"] / floor, 3)
