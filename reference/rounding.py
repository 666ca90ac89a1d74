"""Rounding noise: the reference's own measure of how far an engine's rounding can move each
value, cancellation included.

An engine in float32 rounds every intermediate result; where terms cancel (a sum of large
values with a small total, the 1/a^3 terms of a third derivative adding up to ~0), the error
left is relative to the terms, not to the result, and a tolerance scaled by the result flags
it as a wrong gradient. Inside `noise(unit, seed)` every result the reference's ops make
(forward and backward alike: each vjp is written with the same ops) is multiplied by
(1 + d), d uniform in [-unit, unit]; a reduction's by d times the sum of its terms' sizes,
which is what its own rounding is relative to. The spread of a few such runs around the
exact run is a per-element estimate of the rounding error an engine with that unit makes
(Monte Carlo arithmetic, Parker 1997): no op needs a hand-written error bound.
"""
import contextlib

import numpy as np

_noise = {"unit": 0.0, "rng": None}


@contextlib.contextmanager
def noise(unit, seed):
    """Perturb every op result by relative `unit` (e.g. 2**-24, float32's), reproducibly."""
    saved = dict(_noise)
    _noise["unit"], _noise["rng"] = float(unit), np.random.default_rng(seed)
    try:
        yield
    finally:
        _noise.update(saved)


def active():
    return _noise["unit"] > 0.0


def divides(x):
    """Should a backward that torch computes by dividing by `x` (prod's, cumprod's: result / x
    where no entry is zero) take that form here? Only in a noisy run: exact in exact
    arithmetic, its higher derivatives cancel terms of 1/x^k, so the noise must show what an
    engine's rounding does there; the exact run keeps its division-free form."""
    return active() and not np.any(x.data == 0)


def perturb(arr, terms=None):
    """`arr` moved by up to `unit` of `terms` (default: its own size), element by element."""
    if arr.dtype.kind != "f" or arr.size == 0:
        return arr
    size = np.abs(arr) if terms is None else np.asarray(terms, dtype=arr.dtype)
    d = _noise["rng"].uniform(-_noise["unit"], _noise["unit"], size=arr.shape)
    with np.errstate(invalid="ignore", over="ignore"):
        return (arr + d * size).astype(arr.dtype)
