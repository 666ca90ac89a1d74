"""The whole test command's wall time, serial and with `-n 2`, each in a fresh pytest process,
and the machine's own ceiling for two processes.

Beside the wall time, the CPU time of the pytest process and everything it waited for (its
xdist workers, the subprocesses tests start): on a machine other work shares, how the two
runs differ in the work they do, apart from how much of the machine they got.

The ceiling: a fixed CPU-bound Python loop run alone, then two copies at once. Two virtual
cores are not always two cores' worth (siblings of one physical core, a host's other
guests): 2 x alone / together is the most any `-n 2` can gain on this machine, measured in
turn with the suite runs so that both see the same machine."""
import re
import resource
import statistics
import subprocess
import sys
import time

from .workloads import ROOT

RUNS = (("serial", ["-n", "0"]), ("-n 2", ["-n", "2"]))


# About a second of the interpreter's own work: dict and list churn like the suite's Python.
SPIN = ("import time; t = time.perf_counter(); d = {}\n"
        "for i in range(6_000_000): d[i % 4096] = [i, i * i]\n"
        "print(time.perf_counter() - t)")


def _spin(copies):
    """Seconds until `copies` concurrent spins have all finished."""
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", SPIN], stdout=subprocess.DEVNULL)
             for _ in range(copies)]
    for proc in procs:
        proc.wait()
    return time.perf_counter() - start


def ceiling(repeats=3):
    """{'alone', 'together', 'ceiling'}: medians of `repeats` alternating measurements."""
    alone, together = [], []
    for _ in range(repeats):
        alone.append(_spin(1))
        together.append(_spin(2))
    a, t = statistics.median_high(alone), statistics.median_high(together)
    return {"alone_s": round(a, 3), "together_s": round(t, 3), "ceiling": round(2 * a / t, 3),
            "all_alone_s": [round(x, 3) for x in alone],
            "all_together_s": [round(x, 3) for x in together]}


def suite_wall(backend, repeats=1, extra=()):
    """[{'label', 'seconds', 'cpu_seconds', 'returncode', 'summary', ...}] for the README's test
    command, serial then `-n 2`, `repeats` times in turn (each the median of its runs: the two
    then share whatever else the machine did meanwhile)."""
    chosen = [] if backend == "torch" else ["--backend", backend]
    runs = {label: [] for label, _ in RUNS}
    ceilings = []
    for _ in range(repeats):
        for label, flags in RUNS:
            runs[label].append(_run([sys.executable, "-m", "pytest", "-q", *chosen, *flags,
                                     *extra]))
        ceilings.append(ceiling())
    results = []
    for label, done in runs.items():
        mid = sorted(done, key=lambda r: r["seconds"])[len(done) // 2]
        results.append(dict(mid, label=label, all_seconds=[r["seconds"] for r in done]))
    return results, sorted(ceilings, key=lambda c: c["ceiling"])[len(ceilings) // 2]


def _run(cmd):
    start, cpu = time.perf_counter(), _children_cpu()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    summary = next((line.strip("= ") for line in reversed(lines)
                    if re.search(r"\b(passed|failed|error)", line)), "")
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
            "returncode": proc.returncode, "summary": summary,
            "command": " ".join(["python"] + cmd[1:])}


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
