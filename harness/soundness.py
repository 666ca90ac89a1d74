"""The soundness campaign: explore far beyond CI's budget with random seeds, and file every
failure as an engine bug, an oracle gap, a tolerance question or a crash.

    python -m harness.soundness --backend torch --programs 100000 --seeds 1,2,3,4
    python -m harness.soundness --backend jax --programs 20000 --dtypes float32 -n 4

For each dtype, the suites (with --per-suite: each suite module) run once a seed (a pytest process, `-n` workers, the `soundness`
Hypothesis profile: random programs from the seed, no example database), with an example
budget a test chosen so that the seeds between them check `--programs` programs; a budget is
re-estimated after each seed from the programs the last one counted. Hypothesis shrinks each
failure; its report (arbitrated by finite differences: harness/arbitrate.py) is filed by
harness/report.py's `classify`. A failure is unexplained unless a stated deviation covers
it; the exit status is 1 while any is left, 0 when none is.

The report: reports/soundness/<backend>.json and .md, with each failure's whole report and
the command that replays it.
"""
import argparse
import json
import math
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXCLUDED = ("test_worked_examples.py", "test_deviations.py")  # hand-written, no exploration


def suite_tests(backend, paths, extra=()):
    """The node ids of the exploring suite tests `backend` runs (its hand-written ones left
    out: a seed changes nothing for them)."""
    out = subprocess.run([sys.executable, "-m", "pytest", *paths, "--backend", backend,
                          "--collect-only", "-q", "-p", "no:cacheprovider", *extra],
                         cwd=ROOT, capture_output=True, text=True)
    ids = [line for line in out.stdout.splitlines() if "::" in line]
    if out.returncode != 0 or not ids:
        raise SystemExit(f"harness.soundness: cannot collect the suites for {backend}:\n"
                         f"{out.stdout[-3000:]}{out.stderr[-3000:]}")
    return [i for i in ids if not any(i.split("::")[0].endswith(x) for x in EXCLUDED)]


def run_seed(backend, tests, dtype, seed, examples, workers, part, extra=()):
    """One pytest process: every test in `tests`, `examples` examples each."""
    cmd = [sys.executable, "-m", "pytest", *tests, "--backend", backend, "--dtype", dtype,
           f"--hypothesis-seed={seed}", "--max-examples", str(examples), "-q",
           "-p", "no:cacheprovider", "--gradspec-report", part, *extra]
    if workers and workers != "0":
        cmd += ["-n", str(workers)]
    env = dict(os.environ, GRADSPEC_PROFILE="soundness")
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode not in (0, 1) or not os.path.exists(part):
        raise SystemExit(f"harness.soundness: the run for seed {seed} ({dtype}) stopped "
                         f"(exit {proc.returncode}):\n{proc.stdout[-4000:]}{proc.stderr[-4000:]}")
    with open(part) as f:
        records = json.load(f)["records"]
    return records, time.monotonic() - started


def replay_command(backend, record, dtype, seed, examples):
    return (f"GRADSPEC_PROFILE=soundness python -m pytest '{record['test']}' --backend "
            f"{backend} --dtype {dtype} --hypothesis-seed={seed} --max-examples {examples}")


def groups(tests, per_suite):
    """[(label, tests)]: one group of every test, or (--per-suite) one a suite module, each
    explored to its own budget."""
    if not per_suite:
        return [("suites", tests)]
    modules = defaultdict(list)
    for t in tests:
        modules[t.split("::")[0]].append(t)
    return [(os.path.basename(m), ts) for m, ts in sorted(modules.items())]


def campaign(backend, programs, seeds, dtypes, workers, tests, out, extra=(), per_suite=False):
    """Run the campaign; return the report (a dict, also written as JSON and Markdown).
    `programs`: a dtype's budget, or with `per_suite` a suite module's in each dtype."""
    os.makedirs(os.path.join(out, "parts"), exist_ok=True)
    runs, failures = [], []
    per_suite_counts = defaultdict(lambda: defaultdict(int))
    deviations = Counter()
    totals = Counter()
    for dtype in dtypes:
        for label, group in groups(tests, per_suite):
            records_of = _explore(backend, programs, seeds, dtype, label, group, workers, out,
                                  extra, runs)
            for seed, examples, records in records_of:
                totals[dtype] += sum(r["programs"] for r in records)
                _file(backend, dtype, seed, examples, records, per_suite_counts, deviations,
                      failures)
    report = {"backend": backend, "versions": _versions(backend), "seeds": seeds,
              "budget": {"programs": programs, "per": "suite module" if per_suite else "dtype"},
              "programs": dict(totals), "per_suite": {d: dict(v) for d, v in per_suite_counts.items()},
              "deviations": dict(deviations), "runs": runs, "failures": failures,
              "classes": dict(Counter(k for f in failures for k in f["kinds"])),
              "command": " ".join(["python -m harness.soundness", *sys.argv[1:]])}
    with open(os.path.join(out, f"{backend}.json"), "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(out, f"{backend}.md"), "w") as f:
        f.write(markdown(report))
    return report


def _explore(backend, programs, seeds, dtype, label, tests, workers, out, extra, runs):
    """Seed after seed until `tests` have checked `programs` programs in `dtype`: yields
    (seed, examples a test, records)."""
    counted, per_example = 0, 1.0  # programs an example a test: re-estimated each seed
    for k, seed in enumerate(seeds):
        left = programs - counted
        if left <= 0:
            break
        examples = max(1, math.ceil(left / (len(seeds) - k) / len(tests) / per_example))
        part = os.path.join(out, "parts", f"{backend}-{dtype}-{label}-{seed}.json")
        records, seconds = run_seed(backend, tests, dtype, seed, examples, workers, part, extra)
        n = sum(r["programs"] for r in records)
        counted += n
        per_example = max(0.05, n / max(1, examples * len(tests)))
        runs.append({"dtype": dtype, "group": label, "seed": seed, "examples": examples,
                     "programs": n, "seconds": round(seconds, 1),
                     "failed": sum(r["status"] == "fail" for r in records)})
        print(f"{backend} {dtype} {label} seed {seed}: {examples} examples a test, {n} "
              f"programs, {runs[-1]['failed']} failed, {seconds:.0f} s", flush=True)
        yield seed, examples, records
        if n == 0:  # every test skipped (a capability the backend lacks): no seed changes it
            break


def _file(backend, dtype, seed, examples, records, per_suite, deviations, failures):
    """Add one run's records to the campaign's tallies and failures."""
    for r in records:
        per_suite[dtype][r["test"].split("::")[0]] += r["programs"]
        for d in r["deviations"]:  # test runs it explained a difference in
            deviations[d] += 1
        if r["status"] == "fail":
            failure = r.get("failure") or {"kinds": ["gradspec error"], "report": r["detail"]}
            failures.append({"dtype": dtype, "seed": seed, "test": r["test"],
                             "kinds": failure["kinds"], "summary": r["detail"],
                             "replay": replay_command(backend, r, dtype, seed, examples),
                             "report": failure.get("report", "")})


def _versions(backend):
    from adapters.registry import BUILTIN, engine_version
    import hypothesis
    import numpy
    engine = engine_version(backend) if backend in BUILTIN else ""
    return {"python": sys.version.split()[0], "numpy": numpy.__version__,
            "hypothesis": hypothesis.__version__, backend: engine or "?"}


def markdown(report):
    b = report["backend"]
    lines = [f"# Soundness campaign: {b}", "",
             f"`{report['command']}`", "",
             "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()), "",
             f"Seeds: {', '.join(map(str, report['seeds']))}; budget: "
             f"{report['budget']['programs']} programs a {report['budget']['per']}", "",
             "| dtype | programs | unexplained failures | seconds |", "|---|---:|---:|---:|"]
    for dtype, n in report["programs"].items():
        fails = sum(f["dtype"] == dtype for f in report["failures"])
        secs = sum(r["seconds"] for r in report["runs"] if r["dtype"] == dtype)
        lines.append(f"| {dtype} | {n} | {fails} | {secs:.0f} |")
    if report["deviations"]:
        lines += ["", "Stated deviations that explained differences (in how many test runs): " + ", ".join(
            f"{d} {c}" for d, c in sorted(report["deviations"].items()))]
    lines += ["", "Programs a suite module:", "", "| suite | " + " | ".join(report["per_suite"])
              + " |", "|---|" + "---:|" * len(report["per_suite"])]
    modules = sorted({m for v in report["per_suite"].values() for m in v})
    for m in modules:
        lines.append(f"| {os.path.basename(m)} | " + " | ".join(
            str(v.get(m, 0)) for v in report["per_suite"].values()) + " |")
    lines += ["", f"## Failures ({len(report['failures'])})", ""]
    if not report["failures"]:
        lines.append("None.")
    for i, f in enumerate(report["failures"], 1):
        lines += [f"### {i}. {f['test']} ({f['dtype']}, seed {f['seed']}): "
                  f"{', '.join(f['kinds'])}", "", f"Replay: `{f['replay']}`", "",
                  "```", f["report"].strip()[-6000:], "```", ""]
    return "\n".join(lines) + "\n"


def _seeds(text, count):
    if text:
        try:
            return [int(s) for s in re.split(r"[,\s]+", text.strip()) if s]
        except ValueError:
            raise SystemExit(f"harness.soundness: --seeds takes integers, not {text!r}") from None
    return [random.SystemRandom().randrange(2 ** 32) for _ in range(count)]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", default="torch")
    p.add_argument("--programs", type=int, default=10000,
                   help="programs a dtype (default 10000); with --per-suite, a suite module's")
    p.add_argument("--per-suite", action="store_true",
                   help="give each suite module the --programs budget (one pytest run a module "
                        "and seed), not the whole suite")
    p.add_argument("--seeds", default="", help="comma-separated; default: --random-seeds drawn")
    p.add_argument("--random-seeds", type=int, default=4, metavar="K")
    p.add_argument("--dtypes", default="float64,float32")
    p.add_argument("-n", "--workers", default="2")
    p.add_argument("--suites", nargs="+", default=["suites"], metavar="PATH")
    p.add_argument("--out", default=os.path.join(ROOT, "reports", "soundness"))
    p.add_argument("pytest_args", nargs="*", help="after --: passed to pytest (e.g. --isolate)")
    args = p.parse_args(argv)
    dtypes = [d for d in args.dtypes.split(",") if d]
    if not dtypes or set(dtypes) - {"float32", "float64"}:
        p.error(f"--dtypes takes float32 and/or float64, not {args.dtypes!r}")
    if args.programs < 1:
        p.error("--programs must be positive")
    seeds = _seeds(args.seeds, args.random_seeds)
    tests = suite_tests(args.backend, args.suites, args.pytest_args)
    print(f"{args.backend}: {len(tests)} exploring tests; seeds {seeds}; {args.programs} "
          f"programs a {'suite module and ' if args.per_suite else ''}dtype "
          f"({', '.join(dtypes)})", flush=True)
    report = campaign(args.backend, args.programs, seeds, dtypes, args.workers, tests,
                      args.out, args.pytest_args, args.per_suite)
    n = len(report["failures"])
    print(f"{sum(report['programs'].values())} programs, {n} unexplained failure(s)"
          + (f": {report['classes']}" if n else "")
          + f"; report in {os.path.relpath(os.path.join(args.out, args.backend + '.md'))}")
    return 1 if n else 0


if __name__ == "__main__":
    sys.exit(main())
