"""A fuzzing campaign: the suites searched for failures, for as long as you like, on every core.

    python -m harness.campaign --backend torch --minutes 60 # all cores; Ctrl-C ends it early
    python -m harness.campaign --swarm --seed 1 --minutes 20 # swarm testing, repeatable
    pip install ".[campaign]"                                # HypoFuzz, once, for:
    python -m harness.campaign --mode hypofuzz --coverage limited --minutes 60
    GRADSPEC_DB=local+redis://fuzz-db:6379/0 python -m harness.campaign -n 16   # one machine
                                                             # of many sharing one database

It searches every Hypothesis test of the suites and the op vocabulary
(suites/campaign_targets.py) with the `campaign` profile, the backend and the example
database given here, one of two ways (harness/fuzzers.py): `--mode pytest` (the default:
measured faster to every rare bug, docs/find.md) runs N plain pytest processes round after
round with fresh seeds, skipping the `deterministic` tests; `--mode hypofuzz` runs
`hypothesis fuzz --no-dashboard -n N -- suites -o "python_files=..." ...` (with
`--coverage` limiting what it traces, harness/coverage_limits.py). `--swarm` and `--target`
change how programs are drawn (strategies/search.py). Then it:
- watches for failures (HypoFuzz writes them to the database; the pytest rounds report
  each as it fails), and with --stop-at-first ends the campaign once the first is shrunk;
- counts the programs checked (all processes) for the throughput figure, and prints them,
  the rate and the failures so far on one line every few seconds (on a terminal it is
  rewritten in place; in a log, one line each PROGRESS_S seconds);
- at the end replays every failure with plain pytest (same backend, database and search),
  which prints the usual report: the shrunk program, expected vs actual, the standalone script.

Exit status: 0 when nothing failed, 1 when a failure was found (or replayed), 2 on a usage
error. `--json PATH` writes the summary (time to each failure, programs, programs/s).
"""
import argparse
import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from harness import coverage_limits
from harness.fuzzers import HypoFuzz, PlainHypothesis, fatal_failures

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Every suite and the op vocabulary. pytest collects suites/campaign_targets.py only where
# it is named, and pytest 9 drops a file named beside the folder holding it: the folder
# collects it by its file pattern instead.
TARGETS = ("suites", "-o", "python_files=test_*.py campaign_targets.py")
MODES = ("hypofuzz", "pytest")
DEFAULT_MODE = "pytest"
DEFAULT_COVERAGE = "full"
COUNTS_ENV = "GRADSPEC_CAMPAIGN_COUNTS"
BUSY_S = 5.0  # a process that counted this recently is at work (it writes once a second)
PROGRESS_S = 5.0  # between two progress lines on a terminal (a log gets one every 30 s)


class Terminated(Exception):
    """SIGTERM (a CI job cancelled, `kill`): ended like Ctrl-C, its processes stopped."""


def _terminate(signum, frame):
    raise Terminated


def fresh_env(**extra):
    """This process's environment for a fresh gradspec run (a campaign, a pytest): without its
    GRADSPEC_ settings or the pytest(-xdist) variables of a test run it may be called from,
    which would otherwise leak into the child and change what it runs."""
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("GRADSPEC_", "PYTEST_XDIST", "PYTEST_CURRENT"))}
    return dict(clean, **extra)


# ----- the program counter, installed in every fuzzing process by conftest.py ---------------
_COUNT = {"dir": None, "pid": None, "programs": 0, "first": None, "written": 0.0}


def install_counter(directory):
    """Count the programs this process checks (harness.backend.count_program, called by every
    suite's check) into DIRECTORY/<pid>.json, at most once a second. Installed once per
    process; a process forked after it counts for itself."""
    from harness import backend
    _COUNT["dir"] = directory
    if getattr(backend.count_program, "gradspec_counter", False):
        return
    original = backend.count_program

    def write(now):
        c = _COUNT
        c["written"] = now
        path = os.path.join(c["dir"], f"{c['pid']}.json")
        with open(path + ".tmp", "w") as f:
            json.dump({"programs": c["programs"], "first": c["first"], "last": now}, f)
        os.replace(path + ".tmp", path)

    def counting(deviation=None):
        original(deviation)
        now, c = time.time(), _COUNT
        if c["pid"] != os.getpid():
            c.update(pid=os.getpid(), programs=0, first=now, written=0.0)
        c["last"] = now
        c["programs"] += 1
        if now - c["written"] >= 1.0:
            write(now)

    def at_exit():  # a process ending (a plain-Hypothesis round) counts its last second too
        if _COUNT["pid"] == os.getpid():
            write(_COUNT["last"])
    counting.gradspec_counter = True
    atexit.register(at_exit)
    backend.count_program = counting


def read_counts(directory):
    """(programs, seconds between the first and the last counted program, processes at work:
    those that counted within a few seconds of the last count; a round's process that ended
    is not one)."""
    rows = []
    for name in os.listdir(directory):
        if name.endswith(".json"):
            try:
                with open(os.path.join(directory, name)) as f:
                    rows.append(json.load(f))
            except (OSError, ValueError):
                pass
    if not rows:
        return 0, 0.0, 0
    last = max(r["last"] for r in rows)
    span = last - min(r["first"] for r in rows)
    busy = sum(last - r["last"] <= BUSY_S for r in rows)
    return sum(r["programs"] for r in rows), span, busy


def progress_line(elapsed, programs, span, processes, failures_so_far):
    """The campaign's one-line progress: time, programs checked, programs/s, failures."""
    rate = f"{programs / span:.1f} programs/s" if span >= 1 else "warming up"
    return (f"[{elapsed:7.1f} s] {programs} programs checked ({rate}, {processes} "
            f"processes), {failures_so_far} failure{'s' if failures_so_far != 1 else ''} "
            f"so far")


class Progress:
    """Prints `progress_line` every few seconds: rewritten in place on a terminal (the
    failures and the summary then start on a fresh line), one line at a time in a log."""

    def __init__(self, stream=sys.stdout):
        self.stream, self.last, self.open = stream, 0.0, False
        self.tty = stream.isatty()

    def show(self, now, line):
        every = PROGRESS_S if self.tty else 6 * PROGRESS_S
        if now - self.last < every:
            return
        self.last = now
        if self.tty:
            self.stream.write("\r" + line.ljust(100))
            self.open = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def end_line(self):
        if self.open:
            self.stream.write("\n")
            self.open = False


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--backend", default=os.environ.get("GRADSPEC_BACKEND", "torch"))
    p.add_argument("-n", "--processes", type=int, default=os.cpu_count() or 1,
                   help="fuzzing processes (default: every core)")
    p.add_argument("--minutes", type=float, default=None,
                   help="end the campaign after this long (default: run until Ctrl-C)")
    p.add_argument("--mode", choices=MODES, default=DEFAULT_MODE,
                   help=f"hypofuzz: HypoFuzz's coverage-guided fuzzing; pytest: plain random "
                        f"Hypothesis in N processes, round after round with fresh seeds "
                        f"(default {DEFAULT_MODE}: docs/campaigns.md says why)")
    p.add_argument("--coverage", choices=coverage_limits.LEVELS, default=DEFAULT_COVERAGE,
                   help="what HypoFuzz traces for coverage (harness/coverage_limits.py): "
                        f"full, limited (the reference, gradspec/, adapters/) or none "
                        f"(default {DEFAULT_COVERAGE})")
    p.add_argument("--swarm", action="store_true",
                   help="swarm testing: each program first draws which features it uses "
                        "(strategies/search.py)")
    p.add_argument("--target", action="store_true",
                   help="Hypothesis's target() on a program's structural features")
    p.add_argument("--seed", type=int, default=None,
                   help="with --mode pytest: the seed every round's is derived from "
                        "(a repeatable run); HypoFuzz takes no seed")
    p.add_argument("--db", default=os.environ.get("GRADSPEC_DB", "").strip() or "local",
                   help="the example database (harness/database.py; default GRADSPEC_DB or "
                        "local)")
    p.add_argument("--deviations", action="append", default=None,
                   help="deviation files after the backend's own (as pytest's --deviations)")
    p.add_argument("--stop-at-first", action="store_true",
                   help="end the campaign once a first failure is found and shrunk")
    p.add_argument("--no-replay", action="store_true", help="do not replay failures at the end")
    p.add_argument("--json", default=None, metavar="PATH", help="write the summary as JSON")
    p.add_argument("pytest_args", nargs="*", metavar="-- PYTEST_ARGS",
                   help="instead of the default targets (the suites and "
                        "suites/campaign_targets.py)")
    args = p.parse_args(argv)
    if args.mode != "hypofuzz" and args.coverage != DEFAULT_COVERAGE:
        p.error("--coverage is HypoFuzz's: it needs --mode hypofuzz")
    if args.seed is not None and args.mode != "pytest":
        p.error("--seed needs --mode pytest (HypoFuzz takes no seed)")
    if args.mode == "hypofuzz":
        try:
            import hypofuzz  # noqa: F401
        except ImportError:
            p.error("HypoFuzz is not installed: pip install '.[campaign]' (hypofuzz==25.11.1), "
                    "or --mode pytest")
    if args.processes < 1:
        p.error("-n must be at least 1")
    from harness.database import DatabaseError, describe, open_database
    try:
        db = open_database(args.db)
    except DatabaseError as exc:
        p.error(str(exc))
    if db is None:
        p.error("a campaign needs an example database (failures are kept there, and HypoFuzz "
                "keeps its corpus there): --db local, or a shared redis://...")

    counts = tempfile.mkdtemp(prefix="gradspec-campaign-")
    search = ",".join(w for w, on in (("swarm", args.swarm), ("target", args.target)) if on)
    env = dict(os.environ, GRADSPEC_BACKEND=args.backend, GRADSPEC_DB=args.db,
               GRADSPEC_PROFILE="campaign", GRADSPEC_SEARCH=search,
               **{COUNTS_ENV: counts, coverage_limits.ENV: args.coverage})
    targets = list(args.pytest_args) or list(TARGETS)
    extra = [f"--deviations={d}" for d in args.deviations or ()]
    if args.mode == "hypofuzz":
        fuzzer = HypoFuzz(args.processes, targets, extra, env, db)
    else:
        fuzzer = PlainHypothesis(args.processes, targets, extra, env, counts, seed=args.seed)
    before = fuzzer.found()
    way = args.mode + (f", coverage {args.coverage}" if args.mode == "hypofuzz" else
                       f", seed {fuzzer.seed}") + (f", search {search}" if search else "")
    print(f"gradspec campaign: backend {args.backend}, {way}, {args.processes} processes, "
          f"database {describe(args.db)}, " + (f"{args.minutes:g} minutes" if args.minutes
                                              else "until Ctrl-C")
          + (" or the first failure" if args.stop_at_first else ""), flush=True)
    if before:
        print(f"  already failing in the database (replayed first): {', '.join(before)}")
    print(fuzzer.describe(), flush=True)
    start = time.time()
    deadline = start + 60 * args.minutes if args.minutes else None
    signal.signal(signal.SIGTERM, _terminate)  # else the rounds' processes outlive it
    fuzzer.start()
    found, how_ended = {}, "the time limit"
    progress = Progress()
    try:
        while True:
            time.sleep(1)
            now = time.time()
            programs, span, processes = read_counts(counts)
            progress.show(now, progress_line(now - start, programs, span, processes, len(found)))
            for nodeid, state in fuzzer.found().items():
                if nodeid not in found:
                    progress.end_line()
                    found[nodeid] = {"seconds": round(now - start, 1), "state": state,
                                     "already_in_database": nodeid in before}
                    programs, _, _ = read_counts(counts)
                    found[nodeid]["programs_by_then"] = programs
                    print(f"[{now - start:7.1f} s] failure in {nodeid} "
                          f"({programs} programs checked so far)", flush=True)
                found[nodeid]["state"] = state
            ended = fuzzer.ended()
            if ended:
                how_ended = ended
                break
            if args.stop_at_first and any(f["state"] == "shrunk" for f in found.values()):
                how_ended = "the first failure"
                break
            if deadline and now >= deadline:
                break
    except KeyboardInterrupt:
        how_ended = "Ctrl-C"
    except Terminated:
        how_ended, args.no_replay = "SIGTERM", True
    finally:
        fuzzer.stop()
        progress.end_line()
    wall = time.time() - start
    programs, span, _ = read_counts(counts)
    rate = programs / span if span >= 10 else None  # too short a run for a rate
    if args.mode == "hypofuzz":
        for f in fatal_failures(db):
            print(f"HypoFuzz could not run {f.nodeid}:\n{f.traceback}", file=sys.stderr)
    summary = {"backend": args.backend, "mode": args.mode, "search": search,
               "coverage": args.coverage if args.mode == "hypofuzz" else None,
               "seed": getattr(fuzzer, "seed", None), "processes": args.processes,
               "database": describe(args.db),
               "ended_by": how_ended, "wall_seconds": round(wall, 1), "programs": programs,
               "fuzzing_seconds": round(span, 1), "programs_per_second": rate and round(rate, 1),
               "failures": found}
    print(f"gradspec campaign: ended by {how_ended} after {wall:.0f} s; {programs} programs "
          f"checked in {span:.0f} s of fuzzing ({args.processes} processes)"
          + (f": {rate:.1f} programs/s" if rate else ""))
    for nodeid, f in found.items():
        print(f"  FAILURE {nodeid}: found after {f['seconds']} s"
              + (" (already in the database)" if f["already_in_database"] else ""))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump(summary, fh, indent=1)
    status = 1 if found else 0
    if found and not args.no_replay:
        nodeids = [n for n in found if not n.startswith("<key")]
        # The same search as the campaign's: a stored example is a sequence of choices, which
        # only the strategy that drew it reads back as the same program.
        replay = [sys.executable, "-m", "pytest", *nodeids, "-p", "no:randomly", "-q",
                  f"--backend={args.backend}", *extra] + ([f"--search={search}"] if search else [])
        print("\nreplaying with pytest (the database gives each failure first):\n$",
              " ".join(replay), flush=True)
        subprocess.run(replay, cwd=ROOT, env=dict(env, **{COUNTS_ENV: ""}))
    return status


if __name__ == "__main__":
    sys.exit(main())
