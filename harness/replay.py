"""Replay one program outside pytest:

    python -m harness.replay program.py [backend] [--deviations PATH|none]

`program.py` holds the `Program(...)` text a failure printed. The program is judged as the
suites judge it (harness.check.judge: the tolerances and the backend's stated deviations,
its own files and those --deviations / GRADSPEC_DEVIATIONS add, `none` for none). Prints the
differences and which stated deviation explains them, or that the backend agrees with the
reference, then the backend's standalone script. Exit status: 0 when the backend agrees or
every difference is explained, 1 otherwise, 2 when the backend cannot express the program.
"""
import argparse
import os
import sys

from gradspec.adapter import UnsupportedProgram
from adapters.registry import load

from gradspec import program as P
from harness import deviations as D
from .check import judge


def backend_deviations(candidate, paths=None):
    """The stated deviations `candidate` is judged with, as under pytest: its own files
    (harness/deviations.py's `default_files`), then GRADSPEC_DEVIATIONS's and `paths`
    (--deviations; `none` drops the files before it)."""
    if isinstance(paths, str):
        paths = [paths]
    given = D.split_paths([os.environ.get(D.ENV, ""), *(paths or [])])
    try:
        return D.for_backend(candidate.name, type(candidate), given)[1]
    except D.DeviationFileError as exc:
        raise SystemExit(f"harness.replay: {exc}") from None


def replay(program, backend="torch", deviations=None):
    """Judge `program` on `backend` (a name or an adapter) against the reference, with
    `deviations` (default: the backend's own); returns the Judgement (harness/check.py).
    Raises UnsupportedProgram when the backend cannot express the program."""
    candidate = load(backend) if isinstance(backend, str) else backend
    if deviations is None:
        deviations = backend_deviations(candidate)
    return judge(program, candidate, load("reference"), deviations)


def main(argv):
    p = argparse.ArgumentParser(prog="python -m harness.replay", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("program", help="a file holding the Program(...) a failure printed")
    p.add_argument("backend", nargs="?", default="torch", help="default torch")
    p.add_argument("--deviations", action="append", default=None, metavar="PATH|none",
                   help="deviation files after the backend's own (as pytest's --deviations); "
                        "'none' drops those before it, to report every difference")
    args = p.parse_args(argv)
    with open(args.program) as f:
        text = f.read()
    try:
        program = P.Program.from_source(text)
    except ValueError as exc:
        print(f"{args.program}: {exc}")
        return 2
    candidate = load(args.backend)
    try:
        j = replay(program, candidate, backend_deviations(candidate, args.deviations))
    except UnsupportedProgram as exc:
        print(f"{args.backend} cannot express this program: {exc}")
        return 2
    for m in j.mismatches:
        print(m)
    if j.crash:
        print(j.crash)
        print(f"{args.backend}: raised outside the program's steps and actions")
    elif not j.mismatches:
        print(f"{args.backend}: agrees with the reference")
    elif j.deviation is not None:
        print(f"{args.backend}: {len(j.mismatches)} difference(s) from the reference, all "
              f"explained by stated deviations:")
        for d in j.deviation.parts or (j.deviation,):
            print(f"  {d.id}: {d.reason}")
    else:
        print(f"{args.backend}: {len(j.mismatches)} difference(s) from the reference, not "
              f"explained by its stated deviations"
              + (" (--deviations none)" if "none" in (args.deviations or []) else ""))
    script = candidate.render_script(program)
    if script:
        print("\n# ---- standalone script ----\n" + script)
    return 0 if j.conforms else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
