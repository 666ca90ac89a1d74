"""`python -m bench`: how many programs gradspec checks per second, and where the time goes.

For every suite's property test on the `ci` profile (and for programs of about ten ops, the
issue's target, in process and again with the candidate in its `--isolate` worker), in one
process: programs checked per second of CPU time (per core; the wall-clock rate beside it,
which other load on the machine lowers), the time split
between generation, reference, backend and comparison, the same programs replayed by torch
alone (the floor), and the reference's time against torch's on identical programs. Then the
bound (Hypothesis drawing the target programs' choices and doing nothing else: the most any
suite checking those programs can reach), the baseline (a straightforward hand-written
Hypothesis test) and Hypothesis's own floor, and the whole test command's wall time serial
and with `-n 2`. Prints a table and writes JSON.

    python -m bench                          # everything (about 8 minutes on 2 cores)
    python -m bench --no-wall                # without the two whole-suite runs
    python -m bench --only ops,target        # workloads whose name contains a substring
    python -m bench --json reports/bench.json --repeats 5
    python -m bench --backend torch-compile --max-examples 5 --no-wall --repeats 1
                                             # a compiling backend: programs/s on a budget
    python -m bench --write-docs             # also keep the table in docs/speed.{json,md}
    python -m bench --render-docs            # docs/speed.md from its JSON, measuring nothing
"""
import argparse
import gc
import json
import os
import pathlib
import platform
import statistics
import sys
import time
import warnings

ROOT = pathlib.Path(__file__).resolve().parent.parent

TARGET_RATE = 300.0  # programs/s per core on the target workload
TARGET_VS_BASELINE = 3.5
TARGET_PARALLEL = 1.8


def _parse(argv):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument("--backend", default="torch", help="the candidate (default torch)")
    p.add_argument("--repeats", type=int, default=3,
                   help="timed rounds over all workloads, after an untimed one; each "
                        "workload's median is reported (default 3)")
    p.add_argument("--replays", type=int, default=3,
                   help="replays of each program for the floor and the ratio (fastest kept)")
    p.add_argument("--only", default="", help="comma-separated substrings of workload names")
    p.add_argument("--no-wall", action="store_true", help="skip the whole-suite wall times")
    p.add_argument("--wall-repeats", type=int, default=1,
                   help="serial and -n 2 runs of the whole suite, in turn; medians (default 1)")
    p.add_argument("--json", default="reports/bench.json", help="where to write the results")
    p.add_argument("--max-examples", type=int, default=0,
                   help="examples a test instead of the ci profile's (a compiling backend, "
                        "torch-compile, checks about one program a second: its rate is "
                        "measured on a few)")
    p.add_argument("--torch-threads", type=int, default=0,
                   help="torch's intra-op threads in this process (default: what the torch "
                        "adapter sets, one thread, as in the suite)")
    p.add_argument("--write-docs", action="store_true",
                   help="also keep the per-workload table in docs/speed.json and rewrite "
                        "docs/speed.md's table from it (a whole run of torch on the ci profile "
                        "only: not with --only, --backend or --max-examples)")
    p.add_argument("--render-docs", action="store_true",
                   help="measure nothing: rewrite docs/speed.md's table from docs/speed.json")
    args = p.parse_args(argv)
    if args.write_docs and (args.only or args.backend != "torch" or args.max_examples):
        p.error("--write-docs keeps a whole run of torch on the ci profile: drop --only, "
                "--backend and --max-examples")
    return args


def render_docs(result=None, command=None):
    """docs/speed.md's table: from `result` (this run, also kept in docs/speed.json) or, with
    none, from docs/speed.json. Rows for workloads added since are listed as not measured."""
    from adapters.registry import adapter_class
    from harness.matrix import write_block, write_json

    from . import report
    if result is not None:
        data = report.docs_data(result, time.strftime("%Y-%m-%d"), command)
        write_json(report.DOCS_JSON, data)
    else:
        data = json.loads(report.DOCS_JSON.read_text(encoding="utf-8"))
    expected = report.expected_workloads(adapter_class("torch")[0])
    write_block(report.DOCS_MD, "speed", report.docs_block(data, expected))
    print(f"written: {report.DOCS_MD.relative_to(ROOT)} (from "
          f"{report.DOCS_JSON.relative_to(ROOT)})")


def _ops(program):
    from gradspec.program import Call, CallFunction, Op
    return sum(isinstance(s, (Op, Call, CallFunction)) for s in program.steps)


def sample(workload):
    """One timed run of `workload`: (CPU seconds, wall seconds, programs, Clock). The CPU
    time of an isolated candidate's worker process is added (to its backend share)."""
    from .instrument import cpu_time, instrumented
    gc.collect()  # each run starts from the same heap (garbage of the last is not its cost)
    runner = workload.runner
    with instrumented() as clock:
        child = runner.child_cpu if runner else 0.0
        wall, cpu = time.perf_counter(), cpu_time()
        counted = workload.run()
        cpu, wall = cpu_time() - cpu, time.perf_counter() - wall
        if runner:
            child = runner.child_cpu - child
            cpu += child
            clock.seconds["check"] += child
            clock.seconds["backend"] += child
    n = counted if workload.kind == "baseline" else len(clock.programs)
    return cpu, wall, n, clock


def measure(workload, samples, replays, reference, candidate, torch_adapter):
    """The row of `workload` from its timed `samples`: the median run, split and replayed."""
    from .replay import replay
    cpu, wall, n, clock = sorted(samples, key=lambda s: s[0])[len(samples) // 2]
    row = {"name": workload.name, "kind": workload.kind, "programs": n,
           "cpu_seconds": round(cpu, 4), "wall_seconds": round(wall, 4),
           "programs_per_s": round(n / cpu, 1) if cpu else 0.0,
           "programs_per_s_wall": round(n / wall, 1) if wall else 0.0,
           "all_cpu_seconds": [round(s[0], 4) for s in samples],
           "all_wall_seconds": [round(s[1], 4) for s in samples]}
    if workload.kind == "baseline" or not clock.programs:
        return row
    row["ops_per_program"] = round(statistics.mean(_ops(p) for p in clock.programs), 2)
    row["split_s"] = {k: round(v, 4) for k, v in clock.split(cpu).items()}
    if workload.runner:  # the programs are the target's: its replays are the same
        row["worker_starts"] = workload.runner.starts
        return row
    totals = replay(clock.programs, reference, candidate, torch_adapter, replays)
    per = {k: 1000 * v / len(clock.programs) for k, v in totals.items()
           if k in ("reference", "backend")}
    row["replay_ms_per_program"] = {k: round(v, 4) for k, v in per.items()}
    if totals["floor_programs"]:
        row["replay_ms_per_program"]["torch_floor"] = round(
            1000 * totals["torch_floor"] / totals["floor_programs"], 4)
    row["replay_s"] = {k: round(v, 4) for k, v in totals.items()}
    return row


def _machine():
    import hypothesis
    import numpy
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "numpy": numpy.__version__,
            "hypothesis": hypothesis.__version__}
    try:
        import torch
        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads())
    except ImportError:
        pass
    return info


def _load():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def main(argv=None):
    args = _parse(argv)
    os.environ["GRADSPEC_PROFILE"] = "ci"  # the benchmark measures the ci profile
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    # As pyproject's filterwarnings does under pytest (both engines warn alike).
    warnings.filterwarnings("ignore", "Full backward hook is firing", UserWarning)
    import conftest  # noqa: F401 - registers and loads the profiles @given reads
    if args.render_docs:
        render_docs()
        return 0
    if args.max_examples:
        from hypothesis import settings
        settings.register_profile("bench-budget", settings.get_profile("ci"),
                                  max_examples=args.max_examples)
        settings.load_profile("bench-budget")
    from adapters.registry import load
    from harness import deviations
    from harness import backend as current, heap

    from . import workloads as W
    from .report import summary, table
    from .wall import suite_wall

    candidate, reference = load(args.backend), load("reference")
    if args.torch_threads:  # after the torch adapter, which sets one thread
        import torch
        torch.set_num_threads(args.torch_threads)
    # Judged as pytest judges it: its file, or its class's (torch-func-compile: torch-func's).
    _, stated = deviations.for_backend(candidate.name, type(candidate))
    current.set_current(candidate, reference, stated)
    try:
        torch_adapter = load("torch")
    except Exception:  # noqa: BLE001 - no torch: no floor column
        torch_adapter = None
    result = {"machine": _machine(), "load_before": _load(), "backend": args.backend,
              "profile": "ci", "max_examples": args.max_examples or None,
              "repeats": args.repeats, "workloads": []}
    target = W.target_workload()
    isolated = W.isolated_workload(target, args.backend, candidate.name)
    todo = [target, isolated] + W.suite_workloads(candidate) + W.baseline_workloads()
    keys = [k.strip() for k in args.only.split(",") if k.strip()]
    if keys:
        todo = [w for w in todo if any(k in w.name for k in keys)]
    if not keys or any(k in W.BOUND for k in keys):
        todo.insert(1, W.choices_workload(W.recorded_choices(target)))
    # Round by round, every workload once a round (after an untimed run of each: first calls,
    # caches, Hypothesis's per-test set-up): the machine's drift from minute to minute then
    # falls on all of them alike, and their ratios (the target against the baseline and
    # Hypothesis's floor) stay comparable.
    heap.settle()  # as the suite's conftest does once its tests are collected
    print(f"  {len(todo)} workloads: an untimed round, then {args.repeats} timed", flush=True)
    for w in todo:
        w.run()
    samples = {id(w): [] for w in todo}
    for r in range(args.repeats):
        for w in todo:
            samples[id(w)].append(sample(w))
        print(f"  round {r + 1} done", flush=True)
    for w in todo:
        row = measure(w, samples[id(w)], args.replays, reference, candidate, torch_adapter)
        result["workloads"].append(row)
        print(f"  {w.name}: {row['programs_per_s']} programs/s", flush=True)
    isolated.runner.close()
    if not args.no_wall:
        print("whole suite, serial and -n 2 ...", flush=True)
        result["wall"], result["ceiling"] = suite_wall(args.backend, args.wall_repeats)
    result["load_after"] = _load()
    result["summary"] = summary(result, TARGET_RATE, TARGET_VS_BASELINE, TARGET_PARALLEL)
    print()
    print(table(result))
    path = pathlib.Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten: {path}")
    if args.write_docs:
        render_docs(result, " ".join(["python -m bench"] + [
            a for a in (sys.argv[1:] if argv is None else argv) if a != "--write-docs"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
