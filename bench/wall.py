"""The whole test command's wall time, serial and with `-n 2`, each in a fresh pytest process."""
import re
import subprocess
import sys
import time

from .workloads import ROOT

RUNS = (("serial", ["-n", "0"]), ("-n 2", ["-n", "2"]))


def suite_wall(backend, extra=()):
    """[{'label', 'seconds', 'returncode', 'summary'}] for the README's test command."""
    results = []
    for label, flags in RUNS:
        chosen = [] if backend == "torch" else ["--backend", backend]
        cmd = [sys.executable, "-m", "pytest", "-q", *chosen, *flags, *extra]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        summary = next((line.strip("= ") for line in reversed(lines)
                        if re.search(r"\b(passed|failed|error)", line)), "")
        results.append({"label": label, "seconds": round(seconds, 2),
                        "returncode": proc.returncode, "summary": summary,
                        "command": " ".join(["python"] + cmd[1:])})
    return results
