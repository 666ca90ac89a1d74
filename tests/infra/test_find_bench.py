"""The time-to-find benchmark (`python -m bench.find`): its summary over seeds and its table
are judged from the runs they are given (nothing here times anything), and one run of a
campaign against a mutant reports the time and programs to its first failure."""
import pytest

from bench import find


def _run(mode, seed, found, seconds, programs=100, rate=50.0):
    return {"mutant": "m", "mode": mode, "seed": seed, "found": found, "seconds": seconds,
            "programs": programs, "programs_per_second": rate,
            "test": "suites/x.py::t" if found else None}


def test_a_miss_counts_as_the_cap_and_a_median_of_misses_reads_not_found():
    runs = [_run("pytest", s, True, t) for s, t in ((1, 10.0), (2, 30.0), (3, 20.0))]
    runs += [_run("hypofuzz", 1, True, 50.0), _run("hypofuzz", 2, False, 61.0),
             _run("hypofuzz", 3, False, 60.5)]
    rows = {r["mode"]: r for r in find.summarize(runs, cap_s=60.0)}
    assert rows["pytest"]["median_seconds"] == 20.0 and rows["pytest"]["found"] == 3
    assert rows["pytest"]["worst_seconds"] == 30.0 and rows["pytest"]["median_found"]
    assert rows["hypofuzz"]["median_seconds"] == 60.5 and not rows["hypofuzz"]["median_found"]
    assert rows["hypofuzz"]["found"] == 1 and rows["hypofuzz"]["worst_seconds"] == 61.0
    text = find.table(list(rows.values()), ["pytest", "hypofuzz"], ["m"])
    assert "| `m` | 20 s, 100 programs (3/3; slowest 30 s) | > 60.5 s, 100 programs " \
           "(1/3; slowest 61 s) |" in text
    assert "| programs/s (all processes, median) | 50 | 50 |" in text


def test_a_miss_counts_as_its_own_runs_cap_and_a_rerun_replaces_the_old_run():
    old = [_run("pytest", 1, False, 300.0), _run("pytest", 2, True, 40.0)]
    old[0]["cap_seconds"] = 300.0
    new = [dict(_run("pytest", 1, False, 1200.0), cap_seconds=1200.0)]
    merged = find.merge_runs(old, new)
    assert sorted((r["seed"], r["seconds"]) for r in merged) == [(1, 1200.0), (2, 40.0)]
    assert find.summarize(old, cap_s=1200.0)[0]["worst_seconds"] == 300.0


def test_every_mode_is_a_flag_set_of_the_campaign():
    from harness.campaign import MODES
    for flags in find.MODES.values():
        assert flags[0] == "--mode" and flags[1] in MODES


def test_unknown_mutants_and_modes_are_usage_errors(capsys):
    with pytest.raises(SystemExit) as e:
        find.main(["--mutants", "no-such-bug"])
    assert e.value.code == 2 and "no RARE mutant 'no-such-bug'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        find.main(["--modes", "fastest"])
    assert "no search mode 'fastest'" in capsys.readouterr().err


@pytest.mark.slow
def test_one_run_finds_a_mutant_and_reports_when():
    r = find.run_one("SinSign", "pytest", seed=1, processes=1, cap_minutes=2)
    assert r["found"] and r["programs"] >= 1 and 0 < r["seconds"] < 120, r
    assert r["test"].startswith("suites/"), r


def test_add_from_writes_the_runs_a_cut_short_benchmark_kept(tmp_path, monkeypatch):
    """A benchmark stopped mid-way keeps its finished runs in --json; --add-from writes them
    to the docs (instead of the docs' runs, or with --add beside them), naming the command."""
    import json
    block = "<!-- generated:find start -->\n<!-- generated:find end -->\n"
    for name in ("DOCS_MD", "README"):
        (tmp_path / name).write_text(block)
        monkeypatch.setattr(find, name, tmp_path / name)
    monkeypatch.setattr(find, "DOCS_JSON", tmp_path / "find.json")
    mutant = next(iter(find.rare_mutants()))
    old = dict(_run("pytest", 9, True, 5.0), mutant=mutant)
    earlier = json.dumps({"runs": [old], "modes": ["pytest"], "mutants": [mutant],
                          "commands": ["old"]})
    find.DOCS_JSON.write_text(earlier)
    partial = tmp_path / "partial.json"
    runs = [dict(_run("pytest", s, True, 10.0 * s), mutant=mutant) for s in (1, 2)]
    partial.write_text(json.dumps({"command": "python -m bench.find --seeds 5", "runs": runs}))
    out = str(tmp_path / "out.json")
    assert find.main(["--add-from", str(partial), "--json", out]) == 0
    data = json.loads(find.DOCS_JSON.read_text())
    assert sorted(r["seed"] for r in data["runs"]) == [1, 2]  # the old seed 9 is gone
    assert data["commands"] == ["python -m bench.find --seeds 5 (its 2 finished runs, 2 "
                                "seeds, added by --add-from)"]
    assert f"| `{mutant}` | 15 s (2/2) |" in find.README.read_text()
    find.DOCS_JSON.write_text(earlier)
    assert find.main(["--add-from", str(partial), "--add", "--json", out]) == 0
    data = json.loads(find.DOCS_JSON.read_text())
    assert sorted(r["seed"] for r in data["runs"]) == [1, 2, 9]
