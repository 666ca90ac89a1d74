"""Shards (harness/shards.py, `--shard I/N`) partition the suite, and the matrix merged from
shard parts is exactly a single run's; a missing, duplicate, foreign or cut-short part is an
error (harness/matrix.py), never a smaller matrix."""
import json
import shutil

import pytest

from harness import matrix, shards
from tests.infra.redis_server import run_pytest

SUITE = ["suites", "--backend=reference"]
# A quick slice of the suites for real runs: every test of three modules, a few ops.
SLICE = ["suites/test_worked_examples.py", "suites/test_broadcasting.py",
         "suites/test_gradient_weights.py", "suites/test_ops.py", "-k", "not test_op or exp or "
         "sum", "--backend=reference", "--max-examples=3"]


@pytest.mark.parametrize("spec, expected", [("1/1", (1, 1)), ("2/4", (2, 4)),
                                            (" 3/3 ", (3, 3))])
def test_parse(spec, expected):
    assert shards.parse(spec) == expected


@pytest.mark.parametrize("spec, message", [
    ("2", "expected INDEX/COUNT"), ("a/b", "expected INDEX/COUNT"), ("0/4", "between 1 and 4"),
    ("5/4", "between 1 and 4"), ("1/0", "at least 1"), ("1/2/3", "expected INDEX/COUNT")])
def test_bad_shard_specs(spec, message):
    with pytest.raises(shards.ShardError, match=message):
        shards.parse(spec)


@pytest.mark.parametrize("count", [1, 2, 3, 7, 60])
def test_select_partitions_any_list(count):
    ids = [f"suites/test_{i % 5}.py::test[{i}]" for i in range(41)]
    parts = [shards.select(reversed(ids), i, count) for i in range(1, count + 1)]
    assert sorted(n for p in parts for n in p) == sorted(ids)  # every id exactly once
    assert max(map(len, parts)) - min(map(len, parts)) <= 1  # balanced


def _collected(*args):
    code, out = run_pytest(*SUITE, "--co", "-q", *args)
    assert code == 0, out[-2000:]
    return [line for line in out.splitlines() if "::" in line]


@pytest.mark.slow
def test_the_shards_partition_the_real_suite():
    whole = _collected()
    assert len(whole) > 40
    parts = [_collected("--shard=1/2"), _collected("--shard=2/2")]
    assert sorted(n for p in parts for n in p) == sorted(whole)
    assert all(parts), "an empty shard"


@pytest.mark.slow
def test_a_bad_shard_is_a_usage_error():
    code, out = run_pytest(*SUITE, "--co", "-q", env={"GRADSPEC_SHARD": "4/3"})
    assert code == 4 and "GRADSPEC_SHARD: shard '4/3': the index must be between 1 and 3" in out
    assert "Traceback" not in out


def _part(tmp_path, name, *args):
    path = tmp_path / name
    code, out = run_pytest(*SLICE, "-q", f"--gradspec-report={path}", *args)
    assert code == 0, out[-3000:]
    return str(path)


@pytest.mark.slow
def test_the_merged_shards_equal_a_single_run(tmp_path):
    single = _part(tmp_path, "single.json")
    parts = [_part(tmp_path, "reference.1-of-2.json", "--shard=1/2"),
             _part(tmp_path, "reference.2-of-2.json", "--shard=2/2", "-n", "2")]  # with xdist
    merged = matrix.build(matrix.merge(parts, ["reference"]))
    assert merged == matrix.build(matrix.merge([single]))
    assert sum(json.load(open(p))["selected"] for p in parts) == len(merged["records"]) > 10
    # A missing shard and a shard given twice are errors, also from the command line.
    with pytest.raises(matrix.MergeError, match=r"shard 2/2 missing \(have 1/2\)"):
        matrix.merge([parts[0]])
    shutil.copy(parts[0], tmp_path / "again.json")
    with pytest.raises(matrix.MergeError, match="shard 1/2 appears twice"):
        matrix.merge(parts + [str(tmp_path / "again.json")])
    assert matrix.main(["--merge", parts[0], "--out", str(tmp_path / "m")]) == 2
    assert not (tmp_path / "m" / "matrix.md").exists()
    assert matrix.main(["--merge", *parts, "--out", str(tmp_path / "m")]) == 0
    assert (tmp_path / "m" / "matrix.md").read_text() == matrix.markdown(merged)


def _fake(tmp_path, name, backend="torch", shard=(1, 1), tests=("a", "b"), total=None,
          digest="d1", records=None):
    records = [{"backend": backend, "test": f"suites/test_x.py::{t}", "feature": "test_x::t",
                "status": "pass", "detail": "", "programs": 1, "deviations": {}}
               for t in (tests if records is None else records)]
    path = tmp_path / name
    path.write_text(json.dumps({"backend": backend, "shard": list(shard),
                                "suite": {"total": total or len(tests), "digest": digest},
                                "selected": len(tests), "records": records}))
    return str(path)


def test_merge_errors(tmp_path):
    one = _fake(tmp_path, "1.json", shard=(1, 2), tests=["a"], total=2)
    two = _fake(tmp_path, "2.json", shard=(2, 2), tests=["b"], total=2)
    assert len(matrix.merge([one, two])) == 2
    other = _fake(tmp_path, "o.json", shard=(2, 2), tests=["b"], total=2, digest="d2")
    with pytest.raises(matrix.MergeError, match="cut from different suites"):
        matrix.merge([one, other])
    three = _fake(tmp_path, "3.json", shard=(2, 3), tests=["b"], total=2)
    with pytest.raises(matrix.MergeError, match="different numbers of shards"):
        matrix.merge([one, three])
    short = _fake(tmp_path, "s.json", tests=["a", "b"], records=["a"])
    with pytest.raises(matrix.MergeError, match="1 records for the 2 suite tests"):
        matrix.merge([short])
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"backend": "torch", "records": []}))
    with pytest.raises(matrix.MergeError, match="does not say which shard"):
        matrix.merge([str(old)])
    with pytest.raises(matrix.MergeError, match="no part for jax"):
        matrix.merge([one, two], ["torch", "jax"])
    with pytest.raises(matrix.MergeError, match="parts of unlisted torch"):
        matrix.merge([one, two], ["jax"])
    with pytest.raises(matrix.MergeError, match="no parts"):
        matrix.merge([])


def test_a_backend_can_have_its_own_budget(monkeypatch, tmp_path):
    """`--backends torch,tensorflow=20`: a slow engine gets a smaller example budget in CI."""
    calls = []
    monkeypatch.setattr(matrix, "run_backend", lambda b, out, w, n, shard=None: calls.append(
        (b, n)) or "unused")
    monkeypatch.setattr(matrix, "merge", lambda paths, backends: {})
    monkeypatch.setattr(matrix, "build", lambda merged: {"cells": {}})
    monkeypatch.setattr(matrix, "markdown", lambda m: "")
    assert matrix.main(["--backends", "reference,torch=7", "--max-examples", "3",
                        "--out", str(tmp_path)]) == 0
    assert calls == [("reference", 3), ("torch", 7)]
    with pytest.raises(SystemExit):
        matrix.main(["--backends", "torch=x", "--out", str(tmp_path)])
