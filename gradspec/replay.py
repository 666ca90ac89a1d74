"""Replay one program outside pytest: `python -m gradspec.replay program.py [backend]`.

`program.py` holds the `Program(...)` text a failure printed. Prints the differences (or that
the backend agrees with the reference) and the backend's standalone script.
"""
import sys

from adapters.registry import load

from . import program as P
from .compare import compare
from .interpreter import run


def replay(program, backend="torch"):
    """Run `program` on the reference and on `backend`; return the list of mismatches."""
    candidate = load(backend) if isinstance(backend, str) else backend
    return compare(program, run(program, load("reference")), run(program, candidate, strict=False))


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 2
    text = open(argv[0]).read()
    program = eval(text, {k: getattr(P, k) for k in dir(P) if not k.startswith("_")})  # noqa: S307
    backend = argv[1] if len(argv) > 1 else "torch"
    mismatches = replay(program, backend)
    for m in mismatches:
        print(m)
    print(f"{backend}: {len(mismatches)} difference(s) from the reference")
    script = load(backend).render_script(program)
    if script:
        print("\n# ---- standalone script ----\n" + script)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
