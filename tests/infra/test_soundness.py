"""The soundness campaign (harness/soundness.py) counts what it explored and files each
failure by the arbitration's ruling; --dtype draws programs in one dtype only."""
import json
import os
import subprocess
import sys

import pytest

from harness import soundness

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OPS = ["suites/test_ops.py::test_op[sin]", "suites/test_ops.py::test_op[exp]"]


@pytest.mark.slow
def test_a_wrong_engine_is_filed_as_an_engine_bug(tmp_path):
    code = soundness.main(["--backend", "tests.mutants.zoo.broken:WrongSinVjp", "--programs", "40",
                           "--seeds", "3,4", "--dtypes", "float64", "-n", "0",
                           "--out", str(tmp_path), "--suites", *OPS])
    assert code == 1
    report = json.loads((tmp_path / "tests.mutants.zoo.broken:WrongSinVjp.json").read_text())
    failures = report["failures"]  # test_op[exp]'s programs may use sin too
    assert OPS[0] in {f["test"] for f in failures}
    assert all(f["kinds"] == ["engine bug"] for f in failures)
    failure = failures[0]
    assert "finite differences agree with the reference" in failure["report"]
    assert "--hypothesis-seed=" in failure["replay"] and "--dtype float64" in failure["replay"]
    # A failing test stops at its failure, so the budget is a target here, not a floor.
    assert report["programs"]["float64"] == sum(r["programs"] for r in report["runs"]) > 0
    assert report["classes"] == {"engine bug": len(failures)}
    assert "engine bug" in (tmp_path / "tests.mutants.zoo.broken:WrongSinVjp.md").read_text()


@pytest.mark.slow
def test_a_conforming_engine_counts_programs_and_passes(tmp_path):
    code = soundness.main(["--backend", "reference", "--programs", "30", "--seeds", "1",
                           "-n", "0", "--out", str(tmp_path), "--suites", *OPS])
    report = json.loads((tmp_path / "reference.json").read_text())
    assert code == 0 and report["failures"] == []
    assert report["programs"]["float64"] >= 30 and report["programs"]["float32"] >= 30
    assert {r["dtype"] for r in report["runs"]} == {"float64", "float32"}


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_option_draws_one_dtype(tmp_path, dtype):
    probe = tmp_path / "test_probe.py"
    probe.write_text(
        "from hypothesis import given\n"
        "from suites.conformance import Config, programs_for\n"
        "@given(programs_for(Config()))\n"
        f"def test_dtype(program):\n    assert program.dtype == {dtype!r}\n")
    out = subprocess.run([sys.executable, "-m", "pytest", str(probe), "--rootdir", ROOT,
                          "-p", "no:cacheprovider", "-q", "--backend", "reference",
                          "--dtype", dtype, "--max-examples", "30"],
                         cwd=ROOT, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=ROOT))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


def test_an_unknown_dtype_is_a_usage_error():
    with pytest.raises(SystemExit):
        soundness.main(["--dtypes", "float16"])


@pytest.mark.slow
def test_per_suite_gives_each_module_the_budget(tmp_path):
    hooks = "suites/test_grad_accumulation.py"
    code = soundness.main(["--backend", "reference", "--programs", "20", "--seeds", "1,2",
                           "--dtypes", "float32", "--per-suite", "-n", "0",
                           "--out", str(tmp_path), "--suites", *OPS, hooks])
    report = json.loads((tmp_path / "reference.json").read_text())
    counts = report["per_suite"]["float32"]
    assert code == 0 and set(counts) == {"suites/test_ops.py", hooks}
    assert all(n >= 20 for n in counts.values()), counts
    assert {r["group"] for r in report["runs"]} == {"test_ops.py", "test_grad_accumulation.py"}
