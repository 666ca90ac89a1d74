"""Rounding slack: how far the candidate's rounding may move each value of a trace, from the
reference's own noisy runs (reference/rounding.py), for the comparisons the dtype's fixed
tolerance fails.

The fixed tolerance (gradspec/compare.py TOLERANCES) scales with each value and its array's
largest element; a value that is the small remainder of large cancelling terms needs a bound
relative to those terms. Asked only after a mismatch, it costs nothing on agreeing programs.
"""
from reference import rounding

from .compare import spread_walk
from .interpreter import run

# float32 rounds each result to 2**-24 relative, float64 to 2**-53: the unit of the noise.
UNITS = {"float32": 2.0 ** -24, "float64": 2.0 ** -53}
# Noisy runs whose spread estimates each value's rounding error: three samples of a random
# walk land within ~1.5x of its scale, and the maximum over them is kept.
SAMPLES = 3
# The slack is this many times the spread: an engine's own kernels round more often than one
# perturbation per op (fused ops, float32 partial sums of long reductions), and a few bits of
# headroom cover it; a wrong derivative is off by the size of the terms themselves, 2**20
# times float32's unit, far beyond it.
FACTOR = 16.0


def rounding_slack(program, reference, expected):
    """{where (as gradspec.compare labels it): the allowed extra absolute error, per element}."""
    spread = {}
    for seed in range(SAMPLES):
        with rounding.noise(UNITS[program.dtype], seed):
            try:
                noisy = run(program, reference)
            except Exception:  # noqa: BLE001 - a perturbed run that fails tells nothing
                continue
        spread_walk(program, expected, noisy, spread)
    return {where: FACTOR * s for where, s in spread.items()}
