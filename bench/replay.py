"""The checked programs replayed on their own: the torch floor, and the reference against torch.

- torch floor: the program's standalone torch script (what a failure report prints, the
  templates the adapter executes), compiled once and run with its printing switched off:
  torch doing the program's work, with no interpreter, no trace and no comparison around it;
- reference and backend: `gradspec.interpreter.run` of the program on each adapter, the same
  harness for both, so their ratio compares the engines on identical programs.

Each program is replayed `repeats` times and its fastest CPU time is kept (the programs are
tiny: the minimum is the least noisy estimate on a shared machine).
"""
import warnings

from gradspec.interpreter import run

from .instrument import cpu_time


def _noop(*args, **kwargs):
    return None


def floor_runner(program, torch_adapter):
    """A callable running `program`'s torch script without output (None if not renderable)."""
    import torch

    from adapters.torch_script import HEADER
    script = torch_adapter.render_script(program)
    if not script:
        return None
    code = compile(script.replace(HEADER, "", 1), "<torch floor>", "exec")

    def run_script():
        try:
            exec(code, {"torch": torch, "show": _noop, "print": _noop})  # noqa: S102
        except Exception:  # noqa: BLE001 - a forward error is part of the program's work
            pass
    return run_script


def _fastest(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        start = cpu_time()
        fn()
        best = min(best, cpu_time() - start)
    return best


def replay(programs, reference, candidate, torch_adapter, repeats=3):
    """Seconds, summed over `programs`: {'reference', 'backend', 'torch_floor'}."""
    totals = {"reference": 0.0, "backend": 0.0, "torch_floor": 0.0, "floor_programs": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for program in programs:
            totals["reference"] += _fastest(lambda: run(program, reference), repeats)
            totals["backend"] += _fastest(lambda: run(program, candidate, strict=False), repeats)
            floor = floor_runner(program, torch_adapter) if torch_adapter else None
            if floor is not None:
                totals["torch_floor"] += _fastest(floor, repeats)
                totals["floor_programs"] += 1
    return totals
