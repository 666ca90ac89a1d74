"""The whole test command's wall time, serial and with `-n 2`, each in a fresh pytest process.

Beside the wall time, the CPU time of the pytest process and everything it waited for (its
xdist workers, the subprocesses tests start): on a machine other work shares, how the two
runs differ in the work they do, apart from how much of the machine they got."""
import re
import resource
import subprocess
import sys
import time

from .workloads import ROOT

RUNS = (("serial", ["-n", "0"]), ("-n 2", ["-n", "2"]))


def suite_wall(backend, repeats=1, extra=()):
    """[{'label', 'seconds', 'cpu_seconds', 'returncode', 'summary', ...}] for the README's test
    command, serial then `-n 2`, `repeats` times in turn (each the median of its runs: the two
    then share whatever else the machine did meanwhile)."""
    chosen = [] if backend == "torch" else ["--backend", backend]
    runs = {label: [] for label, _ in RUNS}
    for _ in range(repeats):
        for label, flags in RUNS:
            runs[label].append(_run([sys.executable, "-m", "pytest", "-q", *chosen, *flags,
                                     *extra]))
    results = []
    for label, done in runs.items():
        mid = sorted(done, key=lambda r: r["seconds"])[len(done) // 2]
        results.append(dict(mid, label=label, all_seconds=[r["seconds"] for r in done]))
    return results


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
