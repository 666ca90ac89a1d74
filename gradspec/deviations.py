"""Deviations: where an engine really differs from the reference, stated and kept visible.

Like array-api-tests' xfail files, one file per backend (`deviations/<backend>.py`) lists
`Deviation`s: an id, a one-line reason, the program that shows it (run by
tests/test_deviations.py, which reports an entry as stale once it no longer fails), and a
predicate saying which mismatches it explains. A property test whose failure is explained
records the deviation (Hypothesis `event`) instead of failing.
"""
import importlib.util
import os
from dataclasses import dataclass
from typing import Callable

HERE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "deviations")


@dataclass(frozen=True)
class Deviation:
    id: str
    reason: str
    program: object  # gradspec.program.Program reproducing it on this engine alone
    applies: Callable  # (program, mismatch) -> bool: does this deviation explain it?

    def explains(self, program, mismatches):
        return bool(mismatches) and all(self.applies(program, m) for m in mismatches)


def load(backend_name, path=None):
    """The deviations of `backend_name` (from `path`, or deviations/<name>.py if present)."""
    path = path or os.path.join(HERE, backend_name.replace("-", "_") + ".py")
    if not os.path.exists(path):
        return ()
    spec = importlib.util.spec_from_file_location(f"gradspec_deviations_{backend_name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return tuple(module.DEVIATIONS)


def zeros_for_none(program, m):
    """A functional engine's answer for a leaf the roots do not depend on: zeros where torch
    (and the reference) say None, since a pure function's gradient is always an array."""
    import numpy as np
    return (m.kind in ("grad", "returned") and m.expected is None and m.actual is not None
            and not np.any(np.asarray(m.actual)))
