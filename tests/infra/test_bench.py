"""The benchmark (`python -m bench`) runs end to end on a small budget, and its summary judges
the targets from the numbers it is given (not from a timed test: nothing here asserts a speed)."""
import json
import subprocess
import sys

import pytest

from bench.report import summary, table
from bench.workloads import ISOLATED, ROOT


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


def test_the_parallel_target_is_set_beside_what_the_cpu_work_allows():
    """The serial run's subprocesses use the second core too: the bound is its wall time over
    -n 2's CPU work spread on two cores (this machine's run of 2026-11-25)."""
    result = _result(serial=72.06, parallel=40.86, ceiling=2.0)
    result["wall"][0]["cpu_seconds"], result["wall"][1]["cpu_seconds"] = 76.45, 79.52
    judged = summary(result, 300.0, 3.5, 1.8)["targets"]["parallel_speedup"]
    assert (judged["serial_busy_cores"], judged["if_never_idle"]) == (1.061, 1.812)
    result["summary"] = summary(result, 300.0, 3.5, 1.8)
    assert "keeps 1.061 cores busy" in table(result) and "would reach 1.812" in table(result)


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
    assert names[0] == "target: default Config, 8-12 steps"
    assert names[1].startswith("bound: the target's choices alone (")  # comes with the target
    assert names[2:] == [ISOLATED, "floor: @given(st.integers())"]
    target, bound, isolated = result["workloads"][:3]
    # The same programs with the candidate in its worker: one start, the rates set side by side.
    assert isolated["programs"] == target["programs"] and isolated["worker_starts"] == 1
    assert result["summary"]["isolation"]["ratio"] == \
        round(isolated["programs_per_s"] / target["programs_per_s"], 3)
    assert "crash isolation (--isolate) on the target's programs: " in proc.stdout
    assert bound["programs"] > 0
    assert result["summary"]["target_over_choices_alone"] == \
        round(target["programs_per_s"] / bound["programs_per_s"], 3)
    assert target["programs"] > 0 and target["programs_per_s"] > 0
    assert set(target["split_s"]) == {"generation", "reference", "backend", "compare", "other"}
    assert "target programs_per_s" in proc.stdout
    floor = result["workloads"][3]["programs_per_s"]
    assert result["summary"]["target_over_floor"] == round(target["programs_per_s"] / floor, 3)
