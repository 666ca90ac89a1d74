"""The two engines a campaign can search with (`python -m harness.campaign --mode ...`).

- `HypoFuzz`: `hypothesis fuzz -n N`: coverage-guided, adaptive between tests, and its
  corpus kept in the example database (shared by every machine on one database).
- `PlainHypothesis`: N plain pytest processes, round after round, each round a fresh
  Hypothesis seed and a different share of the tests (`--shard`), all on one example
  database: the suites' own speed, no tracing at all. A seed makes a run repeatable.

Both are started with `start()`, polled with `found()` (node id -> "shrunk"/"unshrunk"),
and ended with `stop()`; `ended()` says whether they ended by themselves.
"""
import json
import os
import random
import shlex
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUZZ = "import sys; from hypothesis.extra.cli import main; sys.exit(main())"
FAILURES_DIR = "failures"  # under the counts directory: one JSON file per failure found
ROUNDS_ENV = "GRADSPEC_CAMPAIGN_ROUNDS"  # suites/campaign_targets.py's ops take their share
NO_TESTS = 5  # pytest's exit status when it collected nothing to run


def _stop(proc):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


class HypoFuzz:
    name = "hypofuzz"

    def __init__(self, processes, targets, extra, env, db):
        self.cmd = [sys.executable, "-c", FUZZ, "fuzz", "--no-dashboard", "-n", str(processes),
                    "--", *targets, *extra]
        self.env, self.db, self.proc = env, db, None

    def describe(self):
        return "$ " + " ".join(self.cmd[:2] + ["'...'"] + self.cmd[3:])

    def start(self):
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, start_new_session=True)

    def found(self):
        return failures(self.db)

    def ended(self):
        code = self.proc.poll()
        return None if code is None else f"HypoFuzz exiting ({code})"

    def stop(self):
        _stop(self.proc)


class PlainHypothesis:
    name = "pytest"
    EXAMPLES = 100  # a test's programs in a first round (the campaign profile's)
    ROUND_S = 30.0  # a round's length aimed at: a process's start-up (some 3 s) is amortized

    def __init__(self, processes, targets, extra, env, counts, seed=None, examples=EXAMPLES):
        self.processes, self.targets, self.extra, self.env = processes, targets, extra, env
        self.failures_dir = os.path.join(counts, FAILURES_DIR)
        os.makedirs(self.failures_dir, exist_ok=True)
        self.env = dict(env, GRADSPEC_CAMPAIGN_FAILURES=self.failures_dir, **{ROUNDS_ENV: "1"})
        self.seed = random.randrange(2 ** 32) if seed is None else seed
        self.examples = examples  # a test's programs in the first round; then adapted
        self.procs, self.threads, self.stopping = {}, [], threading.Event()
        self.idle = set()  # the workers whose round had no test left to run
        self.lock = threading.Lock()

    def command(self, worker, round_, examples=EXAMPLES):
        """Round `round_` of process `worker`: its shard rotates, so that each round of the N
        processes runs every test once; the seed is new for every (worker, round)."""
        n = self.processes
        shard = (worker + round_) % n + 1
        seed = (self.seed + 7919 * round_ + 104729 * worker) % 2 ** 32
        skip = [f"--deselect={nodeid}" for nodeid in self.found()]
        return [sys.executable, "-m", "pytest", *self.targets, "-q", "-x", "-p", "no:randomly",
                "-p", "no:cacheprovider", "-m", "not deterministic",  # nothing new run again
                f"--gradspec-campaign-seed={seed}",
                f"--max-examples={examples}", f"--shard={shard}/{n}",
                # test_op builds its Hypothesis test inside the test: campaign_targets.py has
                # the same property as module-level tests.
                "--deselect=suites/test_ops.py::test_op", *skip, *self.extra]

    def describe(self):
        return ("$ " + shlex.join(self.command(0, 0, self.examples))
                + f"  (x{self.processes}, round after round; --max-examples adapts to rounds "
                  f"of about {self.ROUND_S:g} s)")

    def start(self):
        for worker in range(self.processes):
            t = threading.Thread(target=self._rounds, args=(worker,), daemon=True)
            t.start()
            self.threads.append(t)

    def _rounds(self, worker):
        round_, examples = 0, self.examples
        while not self.stopping.is_set():
            with self.lock:
                if self.stopping.is_set():
                    return
                began = time.time()
                proc = subprocess.Popen(self.command(worker, round_, examples), cwd=ROOT,
                                        env=self.env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
                self.procs[worker] = proc
            code = proc.wait()
            failed, took = code != 0, time.time() - began
            if code == NO_TESTS:  # every test failed already, or the targets hold none
                self.idle.add(worker)
                return
            round_ += 1
            if not failed:  # a round as long as ROUND_S: a few tests get more programs each
                if took < self.ROUND_S / 2:
                    examples = min(examples * 2, 100 * self.EXAMPLES)
                elif took > 4 * self.ROUND_S:
                    examples = max(examples // 2, self.EXAMPLES // 4)

    def found(self):
        found = {}
        for name in sorted(os.listdir(self.failures_dir)):
            try:
                with open(os.path.join(self.failures_dir, name)) as f:
                    found.setdefault(json.load(f)["nodeid"], "shrunk")
            except (OSError, ValueError, KeyError):
                pass
        return found

    def ended(self):
        """Rounds go on until stopped, or until no worker has a test left to run."""
        if len(self.idle) == self.processes:
            return ("no test left to run (each has failed, or the targets hold no "
                    "Hypothesis test)")
        return None

    def stop(self):
        with self.lock:
            self.stopping.set()
        for proc in list(self.procs.values()):
            _stop(proc)
        for t in self.threads:
            t.join(timeout=15)


def install_failure_log(config, directory):
    """Under PlainHypothesis: each failing test writes DIRECTORY/<pid>-<n>.json when it
    fails (after Hypothesis has shrunk it), for the campaign to see at once."""
    class FailureLog:
        count = 0

        def pytest_runtest_logreport(self, report):
            if report.failed and report.when == "call":
                FailureLog.count += 1
                path = os.path.join(directory, f"{os.getpid()}-{FailureLog.count}.json")
                with open(path + ".tmp", "w") as f:
                    json.dump({"nodeid": report.nodeid, "time": time.time()}, f)
                os.replace(path + ".tmp", path)
    config.pluginmanager.register(FailureLog(), "gradspec-campaign-failures")


# ----- failures, as HypoFuzz records them in the example database -------------------------
def failures(db):
    """{node id: "shrunk" or "unshrunk"} for every test HypoFuzz has a failure for."""
    from hypofuzz.database import FailureState, HypofuzzDatabase, test_keys_key
    hdb = HypofuzzDatabase(db)
    found = {}
    for key in list(db.fetch(test_keys_key)):
        for state, word in ((FailureState.SHRUNK, "shrunk"), (FailureState.UNSHRUNK, "unshrunk")):
            if any(True for _ in hdb.failures(state=state).fetch(key)):
                reports = list(hdb.reports.fetch(key))
                nodeid = reports[0].nodeid if reports else f"<key {key.hex()[:12]}>"
                found.setdefault(nodeid, word)
    return found


def fatal_failures(db):
    from hypofuzz.database import HypofuzzDatabase, test_keys_key
    hdb = HypofuzzDatabase(db)
    return [f for key in list(db.fetch(test_keys_key))
            for f in [hdb.fatal_failures.fetch(key)] if f is not None]
