"""`python -m bench.find`: how long a campaign takes to find each rare bug, per search mode.

For every mutant of tests/mutants/zoo's RARE list (torch with one bug the `ci` profile
misses), every search mode and every seed, one campaign (`python -m harness.campaign`, the
default targets: every suite test and the op vocabulary) runs against the mutant until its
first failure is shrunk, or the cap. It records the wall time and the programs checked until
then, and the campaign's throughput. The table gives, per mutant and mode, the median time
and programs to find (over the seeds; a run that hit the cap counts as the cap, so a median
past it reads "not found"), how many seeds found it, and the slowest. Each run has an
example database of its own, so no run replays another's failure.

    python -m bench.find                                   # every mutant, mode and 5 seeds
    python -m bench.find --modes pytest-swarm --seeds 5 --cap-minutes 20
    python -m bench.find --mutants unbroadcast-buffer-reused --modes hypofuzz,pytest
    python -m bench.find --write-docs        # also keep the table in docs/find.{json,md}
    python -m bench.find --render-docs       # docs/find.md from its JSON, running nothing
    python -m bench.find --add-from reports/find.json   # the runs a cut-short run finished

HypoFuzz takes no seed: its "seeds" are repetitions. The plain-Hypothesis modes take the
seed (`--seed`), so one of their runs repeats (up to the machine's timing).
"""
import argparse
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from harness.campaign import fresh_env

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS_JSON = ROOT / "docs" / "find.json"
DOCS_MD = ROOT / "docs" / "find.md"
README = ROOT / "README.md"
FALSE_FAILURES = ROOT / "reports" / "find-false-failures"  # their example databases, kept
# Search modes: the campaign's flags for each (harness/campaign.py).
MODES = {
    "hypofuzz": ("--mode", "hypofuzz"),
    "hypofuzz-limited": ("--mode", "hypofuzz", "--coverage", "limited"),
    "hypofuzz-none": ("--mode", "hypofuzz", "--coverage", "none"),
    "pytest": ("--mode", "pytest"),
    "pytest-swarm": ("--mode", "pytest", "--swarm"),
    "pytest-target": ("--mode", "pytest", "--target"),
    "pytest-swarm-target": ("--mode", "pytest", "--swarm", "--target"),
}
TARGET_MEDIAN_S = 300  # the targets: a median under 5 minutes on 2 cores,
TARGET_WORST_S = 1200  # and every seed within 20


def rare_mutants():
    from tests.mutants import zoo
    return {m.id: m for m in zoo.RARE}


def run_one(mutant, mode, seed, processes, cap_minutes):
    """One campaign: {"seconds", "programs", "found", "programs_per_second", "test"}."""
    with tempfile.TemporaryDirectory(prefix="gradspec-find-") as tmp:
        summary = os.path.join(tmp, "campaign.json")
        cmd = [sys.executable, "-m", "harness.campaign", f"--backend=tests.mutants.zoo:{mutant}",
               "--deviations=deviations/torch.py", *MODES[mode], "-n", str(processes),
               "--minutes", str(cap_minutes), "--stop-at-first", "--no-replay",
               f"--db=dir:{os.path.join(tmp, 'db')}", f"--json={summary}"]
        if MODES[mode][1] == "pytest":
            cmd.append(f"--seed={seed}")
        began = time.time()
        proc = subprocess.run(cmd, cwd=ROOT, env=fresh_env(), capture_output=True, text=True,
                              timeout=60 * cap_minutes + 300)
        try:
            with open(summary) as f:
                result = json.load(f)
        except (OSError, ValueError):
            raise RuntimeError(f"the campaign wrote no summary (exit {proc.returncode}):\n"
                               + (proc.stdout + proc.stderr)[-3000:]) from None
        failures = result["failures"]
        first = min(failures.items(), key=lambda kv: kv[1]["seconds"]) if failures else None
        # A find counts only if the failure is the mutant's: torch itself passes the stored
        # failing example (else it is a false failure of the suite's, reported as such).
        torch_fails = first is not None and torch_fails_too(first[0], tmp, MODES[mode])
        if torch_fails:  # keep what replays it: a false failure is a bug of ours, first
            kept = os.path.join(FALSE_FAILURES, f"{mutant}-{mode}-{seed}")
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(os.path.join(tmp, "db"), os.path.join(kept, "db"))
            search = _search(MODES[mode])
            print(f"  ! torch itself fails {first[0]}'s stored example: a false failure of "
                  f"the suite, not {mutant}'s bug. Replay: python -m pytest '{first[0]}' "
                  f"--backend torch --hypothesis-profile campaign --gradspec-db "
                  f"dir:{os.path.relpath(os.path.join(kept, 'db'), ROOT)}"
                  + (f" --search {search}" if search else ""), flush=True)
            first = None
    return {"mutant": mutant, "mode": mode, "seed": seed, "found": first is not None,
            "cap_seconds": 60 * cap_minutes, "torch_fails_too": torch_fails,
            "test": first[0] if first else None,
            "seconds": first[1]["seconds"] if first else round(time.time() - began, 1),
            "programs": first[1]["programs_by_then"] if first else result["programs"],
            "programs_per_second": result["programs_per_second"]}


def torch_fails_too(nodeid, tmp, flags):
    """Does plain torch fail `nodeid` on the failing example the campaign stored in tmp/db?"""
    search = _search(flags)
    cmd = [sys.executable, "-m", "pytest", nodeid, "-q", "-p", "no:randomly", "--backend=torch",
           f"--gradspec-db=dir:{os.path.join(tmp, 'db')}", "--hypothesis-profile=campaign",
           "--max-examples=1"] + ([f"--search={search}"] if search else [])
    proc = subprocess.run(cmd, cwd=ROOT, env=fresh_env(), capture_output=True, text=True,
                          timeout=600)
    return proc.returncode == 1


def _search(flags):
    """The pytest --search value that draws what a campaign with `flags` drew."""
    return ",".join(w for w in ("swarm", "target") if f"--{w}" in flags)


def throughput(mode, processes, minutes):
    """Programs a second a core of a campaign in `mode` on torch (nothing to find) for
    `minutes`: all its programs over its span times its processes, so the gaps between a
    plain-Hypothesis campaign's rounds (a fresh process's start-up) count against it."""
    with tempfile.TemporaryDirectory(prefix="gradspec-find-") as tmp:
        summary = os.path.join(tmp, "campaign.json")
        cmd = [sys.executable, "-m", "harness.campaign", "--backend=torch", *MODES[mode],
               "-n", str(processes), "--minutes", str(minutes), "--no-replay",
               f"--db=dir:{os.path.join(tmp, 'db')}", f"--json={summary}"]
        subprocess.run(cmd, cwd=ROOT, env=fresh_env(), capture_output=True, text=True,
                       timeout=60 * minutes + 300)
        with open(summary) as f:
            rate = json.load(f)["programs_per_second"]
        return rate and rate / processes


def plain_pytest_throughput(processes, search="", repeats=3):
    """The baseline: programs a second a core of plain `pytest -n N` once through the tests a
    campaign's round runs (the same targets and selection, the ops' share), drawing as the
    mode draws (`search`: its --search), at the campaign profile's 100 programs a test, with
    an example database of its own as a campaign has (under target(), Hypothesis keeps and
    optimises a Pareto front of the scores where there is a database). A core's rate is its worker's programs over the seconds between its first and last:
    xdist's tail, one worker left with the last tests, is not counted as a core at rest.
    A run is seconds long: the median of `repeats` runs."""
    return statistics.median(_plain_pytest_rate(processes, search) for _ in range(repeats))


def _plain_pytest_rate(processes, search):
    from harness.campaign import COUNTS_ENV, TARGETS
    from harness.fuzzers import ROUNDS_ENV
    with tempfile.TemporaryDirectory(prefix="gradspec-find-") as tmp:
        cmd = [sys.executable, "-m", "pytest", *TARGETS, "-q", "-p", "no:randomly",
               "-n", str(processes), "-m", "not deterministic",
               f"--gradspec-db=dir:{os.path.join(tmp, 'db')}",
               "--deselect=suites/test_ops.py::test_op",
               *([f"--search={search}"] if search else [])]
        env = fresh_env(**{COUNTS_ENV: tmp, ROUNDS_ENV: "1", "GRADSPEC_PROFILE": "campaign"})
        subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
        rows = []
        for name in os.listdir(tmp):
            if name.endswith(".json"):
                with open(os.path.join(tmp, name)) as f:
                    rows.append(json.load(f))
        seconds = sum(r["last"] - r["first"] for r in rows)
        return sum(r["programs"] for r in rows) / seconds if seconds else None


def summarize(runs, cap_s):
    """One row per (mutant, mode): medians over the seeds (a miss counts as its run's cap;
    `cap_s` for a run that kept none)."""
    rows = {}
    for r in runs:
        rows.setdefault((r["mutant"], r["mode"]), []).append(r)
    out = []
    for (mutant, mode), rs in rows.items():
        found = [r for r in rs if r["found"]]
        seconds = [r["seconds"] if r["found"] else max(r.get("cap_seconds", cap_s),
                                                        r["seconds"]) for r in rs]
        rates = [r["programs_per_second"] for r in rs if r["programs_per_second"]]
        median = statistics.median(seconds)
        out.append({"mutant": mutant, "mode": mode, "seeds": len(rs), "found": len(found),
                    "median_seconds": round(median, 1),
                    "median_found": len(found) * 2 > len(rs),
                    "median_programs": int(statistics.median(r["programs"] for r in rs)),
                    "worst_seconds": round(max(seconds), 1),
                    "programs_per_second": round(statistics.median(rates), 1) if rates else None,
                    "false_failures": sum(bool(r.get("torch_fails_too")) for r in rs),
                    "tests": sorted({r["test"] for r in found})})
    return out


def table(rows, modes, mutants):
    """Markdown: a row a mutant, a column a mode: median time (found/seeds, slowest)."""
    by = {(r["mutant"], r["mode"]): r for r in rows}
    lines = ["| rare mutant | " + " | ".join(modes) + " |",
             "|---|" + "---:|" * len(modes)]
    for m in mutants:
        cells = []
        for mode in modes:
            r = by.get((m, mode))
            if r is None:
                cells.append("not run")
                continue
            median = (f"{r['median_seconds']:g} s" if r["median_found"]
                      else f"> {r['median_seconds']:g} s")
            false = r.get("false_failures")
            cells.append(f"{median}, {r['median_programs']:,} programs "
                         f"({r['found']}/{r['seeds']}; slowest {r['worst_seconds']:g} s"
                         + (f"; {false} false failures of torch" if false else "") + ")")
        lines.append(f"| `{m}` | " + " | ".join(cells) + " |")
    rates = []
    for mode in modes:
        rs = [r["programs_per_second"] for r in rows if r["mode"] == mode
              and r["programs_per_second"]]
        rates.append(f"{statistics.median(rs):.0f}" if rs else "n/a")
    lines.append("| programs/s (all processes, median) | " + " | ".join(rates) + " |")
    return "\n".join(lines)


WRITE_DOCS = "python -m bench.find --write-docs"
RENDER_DOCS = "python -m bench.find --render-docs"


def docs_block(data):
    """docs/find.md's generated block: the runs docs/find.json keeps (`data`)."""
    body = (f"_Generated from [find.json](find.json); do not edit by hand. Measure again and "
            f"rewrite: `{WRITE_DOCS}` (`--add` to add modes or seeds); rewrite from the JSON "
            f"alone: `{RENDER_DOCS}`._\n\n"
            f"Measured {data['date']} on {data['machine']} ({data['processes']} processes a "
            f"campaign) by " + ", then ".join(f"`{c}`" for c in data.get(
                "commands", [data["command"]]))
            + " (a run's cap: its `--cap-minutes`, 20 by default; a later run of the same "
            "mutant, mode and seed replaces an earlier).\n\n"
            + table(data["rows"], data["modes"], data["mutants"]))
    t = data.get("throughput")
    if t and "command" in t:
        body += (f"\n\nThroughput a core, measured {t['date']} by `{t['command']}`: each "
                 f"mode's campaign on torch for {t['minutes']:g} minutes ({t['processes']} "
                 f"processes; its programs over its span times its processes, so the gaps "
                 f"between rounds count against it), against plain `pytest -n "
                 f"{t['processes']}` once through the same targets drawing as the mode draws "
                 f"(a worker's programs over its own first-to-last seconds):\n\n"
                 f"| mode | programs/s a core | plain pytest's | ratio |\n|---|---:|---:|---:|\n"
                 + "\n".join(
                     f"| {r['mode']} | {r['programs_per_second_per_core'] or 0:.0f} | "
                     f"{r['plain_pytest'] or 0:.0f}"
                     + (f" (`--search {r['search']}`)" if r["search"] else "") + " | "
                     + (f"{r['vs_plain_pytest']:.2f}" if r["vs_plain_pytest"] else "n/a") + " |"
                     for r in t["modes"]))
    return body.strip() + "\n"


def render_docs(data=None):
    if data is None:
        data = json.loads(DOCS_JSON.read_text(encoding="utf-8"))
    from harness.matrix import write_block
    write_block(DOCS_MD, "find", docs_block(data))
    write_block(README, "find", readme_table(data))
    print(f"written: {os.path.relpath(DOCS_MD, ROOT)} and README.md's summary (from "
          f"{os.path.relpath(DOCS_JSON, ROOT)})")


def readme_table(data):
    """README's campaign section: the median time to find each mutant, a column a mode (whole
    seconds: docs/find.md has the tenths)."""
    by = {(r["mutant"], r["mode"]): r for r in data["rows"]}
    modes = data["modes"]
    lines = ["| rare mutant (median time to find, found/seeds) | " + " | ".join(modes) + " |",
             "|---|" + "---:|" * len(modes)]
    for m in data["mutants"]:
        cells = []
        for mode in modes:
            r = by.get((m, mode))
            cells.append("" if r is None else (
                ("" if r["median_found"] else "> ") + f"{r['median_seconds']:.0f} s "
                f"({r['found']}/{r['seeds']})"))
        lines.append(f"| `{m}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.find", description=__doc__.split("\n")[0])
    p.add_argument("--mutants", default="", help="comma-separated RARE mutant ids (default all)")
    p.add_argument("--modes", default=",".join(MODES),
                   help=f"comma-separated search modes (default all: {', '.join(MODES)})")
    p.add_argument("--seeds", type=int, default=5, help="runs a mutant and mode (default 5)")
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--cap-minutes", type=float, default=20.0,
                   help="a run ends unfound after this long (default 20)")
    p.add_argument("-n", "--processes", type=int, default=2, help="a campaign's processes")
    p.add_argument("--throughput", type=float, default=0.0, metavar="MINUTES",
                   help="measure only throughput: each mode's campaign on torch for MINUTES, "
                        "against plain pytest -n N over the same targets")
    p.add_argument("--json", default="reports/find.json", help="where to write every run")
    p.add_argument("--write-docs", action="store_true",
                   help="also keep the table in docs/find.json and docs/find.md")
    p.add_argument("--add", action="store_true",
                   help="with --write-docs: add this run's runs to docs/find.json's (other "
                        "modes or seeds) instead of replacing them")
    p.add_argument("--add-from", metavar="PATH",
                   help="run nothing: write the runs of an earlier --json (a run cut short "
                        "keeps every run it finished there) to docs/find.{json,md}; with "
                        "--add, beside the runs there")
    p.add_argument("--render-docs", action="store_true",
                   help="run nothing: rewrite docs/find.md's table from docs/find.json")
    args = p.parse_args(argv)
    if args.render_docs:
        render_docs()
        return 0
    known = rare_mutants()
    mutants = [m for m in args.mutants.split(",") if m] or list(known)
    modes = [m for m in args.modes.split(",") if m]
    for m in mutants:
        if m not in known:
            p.error(f"no RARE mutant {m!r} (known: {', '.join(known)})")
    for m in modes:
        if m not in MODES:
            p.error(f"no search mode {m!r} (known: {', '.join(MODES)})")
    given = argv if argv is not None else sys.argv[1:]
    command = ("python -m bench.find " + " ".join(given)).strip()
    if args.throughput:  # its docs line: the command without --write-docs
        return measure_throughput(modes, args, " ".join(
            ["python -m bench.find"] + [a for a in given if a != "--write-docs"]))
    if args.add_from:
        with open(args.add_from) as f:
            earlier = json.load(f)
        runs = earlier.get("runs", [])
        if not runs:
            p.error(f"--add-from {args.add_from}: no runs there")
        finished = len({r["seed"] for r in runs})
        command = (earlier.get("command") or f"the runs in {args.add_from}") + (
            f" (its {len(runs)} finished runs, {finished} seeds, added by --add-from)")
        modes = list(dict.fromkeys(r["mode"] for r in runs))
        mutants = list(dict.fromkeys(r["mutant"] for r in runs))
        args.write_docs = True  # with --add, beside docs/find.json's runs; else instead
        args.cap_minutes = max(r.get("cap_seconds", 60 * args.cap_minutes) for r in runs) / 60
        return record(runs, command, modes, mutants, args)
    runs = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for mutant in mutants:  # seeds outermost: a cut-short run still covers every cell
            for mode in modes:
                r = run_one(known[mutant].__name__, mode, seed, args.processes,
                            args.cap_minutes)
                r["mutant"] = mutant
                runs.append(r)
                print(f"{mutant:32} {mode:20} seed {seed}: "
                      + (f"found in {r['seconds']} s ({r['programs']} programs, {r['test']})"
                         if r["found"] else f"not found in {r['seconds']} s"), flush=True)
                _write(args.json, runs, {"command": command, "runs": runs})
    return record(runs, command, modes, mutants, args)


def record(runs, command, modes, mutants, args):
    """The table of `runs` (with docs/find.json's under --add), written to --json and, with
    --write-docs, to docs/find.{json,md} and README's summary."""
    commands = [command]
    if args.add and DOCS_JSON.exists():
        old = json.loads(DOCS_JSON.read_text(encoding="utf-8"))
        runs = merge_runs(old.get("runs", []), runs)
        modes = list(dict.fromkeys(old.get("modes", []) + modes))
        mutants = list(dict.fromkeys(old.get("mutants", []) + mutants))
        commands = old.get("commands", [old["command"]] if "command" in old else []) + commands
    rows = summarize(runs, 60 * args.cap_minutes)
    print(table(rows, modes, mutants))
    data = {"date": time.strftime("%Y-%m-%d"), "command": " ; ".join(commands),
            "commands": commands,
            "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}",
            "processes": args.processes, "cap_minutes": args.cap_minutes,
            "modes": modes, "mutants": mutants, "rows": rows, "runs": runs}
    _write(args.json, runs, data)
    if args.write_docs:
        old = json.loads(DOCS_JSON.read_text(encoding="utf-8")) if DOCS_JSON.exists() else {}
        if "throughput" in old:  # measured by its own run (--throughput)
            data["throughput"] = old["throughput"]
        DOCS_JSON.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        render_docs(data)
    return 0


def merge_runs(old, new):
    """`old` runs with `new` added; a new run of the same mutant, mode and seed replaces the
    old one (measured again, after a fix or with a longer cap)."""
    key = lambda r: (r["mutant"], r["mode"], r["seed"])  # noqa: E731
    fresh = {key(r) for r in new}
    return [r for r in old if key(r) not in fresh] + new


def measure_throughput(modes, args, command):
    """Each mode's programs a second a core against plain pytest's drawing as it draws."""
    bases, rows = {}, []
    for mode in modes:
        search = _search(MODES[mode])
        if search not in bases:
            bases[search] = plain_pytest_throughput(args.processes, search)
            print(f"plain pytest -n {args.processes}" + (f" --search {search}" if search else "")
                  + f": {bases[search] or 0:.1f} programs/s a core", flush=True)
        base = bases[search]
        rate = throughput(mode, args.processes, args.throughput)
        ratio = rate / base if rate and base else None
        rows.append({"mode": mode, "programs_per_second_per_core": rate and round(rate, 1),
                     "plain_pytest": base and round(base, 1), "search": search,
                     "vs_plain_pytest": ratio and round(ratio, 3)})
        print(f"{mode:20} {rate or 0:8.1f} programs/s a core"
              + (f"  ({ratio:.2f} of plain pytest's)" if ratio else ""), flush=True)
    data = {"date": time.strftime("%Y-%m-%d"), "processes": args.processes,
            "minutes": args.throughput, "modes": rows, "command": command}
    _write(args.json, [], data)
    if args.write_docs:
        old = json.loads(DOCS_JSON.read_text(encoding="utf-8")) if DOCS_JSON.exists() else {}
        old["throughput"] = data
        DOCS_JSON.write_text(json.dumps(old, indent=1) + "\n", encoding="utf-8")
        if "rows" in old:
            render_docs(old)
    return 0


def _write(path, runs, data=None):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data or {"runs": runs}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
