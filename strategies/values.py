"""Leaf values: a seed drawn by Hypothesis, expanded by NumPy.

Seed 0 (where shrinking goes) gives a simple, readable pattern; any other seed gives random
values. Values have two decimals so that printed programs stay readable, and are kept away
from zero (|v| >= 0.1 before `scale`) so that divisions and kinks are not hit by the leaves
themselves. One seed per leaf: Hypothesis draws one choice, not one per element, and each
leaf shrinks to the simple pattern on its own.
"""
import math

import numpy as np
from hypothesis import strategies as st

SEED_MAX = 2**32 - 1
SEEDS = st.integers(0, SEED_MAX)

# SplitMix64 (Steele, Lea, Flood 2014) over the counter seed*n + i: a full-quality 64-bit hash
# per element, vectorized, with none of a seeded Generator's set-up cost (~15 us a leaf).
GAMMA, M1, M2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_GAMMA, _M1, _M2 = np.uint64(GAMMA), np.uint64(M1), np.uint64(M2)


def _bits(seed, n):
    z = (np.arange(1, n + 1, dtype=np.uint64) + np.uint64(seed) * np.uint64(n + 1)) * _GAMMA
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


_MASK = 2**64 - 1
SMALL = 16  # elements up to which Python ints beat NumPy's per-call cost (most leaves)


def _small_cents(seed, n):
    """`_bits`' cents and signs for a few elements, in Python ints (the same numbers)."""
    out, base = [], seed * (n + 1)
    for i in range(1, n + 1):
        z = ((base + i) * GAMMA) & _MASK
        z = ((z ^ (z >> 30)) * M1) & _MASK
        z = ((z ^ (z >> 27)) * M2) & _MASK
        z ^= z >> 31
        out.append((10 + (z >> 33) % 191, z & 1))
    return out


def expand(seed, shape, positive=False, scale=1.0, salt=0):
    """The values (flat, two decimals) of a leaf of `shape` drawn with `seed`."""
    n = math.prod(shape)
    if seed != 0 and n <= SMALL and scale == 1.0:
        return tuple((c if positive or not odd else -c) / 100 for c, odd in _small_cents(seed, n))
    return _expand(seed, n, positive, scale, salt)


def _expand(seed, n, positive, scale, salt):
    """`expand` with NumPy, for any size."""
    if seed == 0:
        k = np.arange(salt, salt + n)
        cents = 50 + 25 * (k % 5)  # 0.5, 0.75, 1.0, 1.25, 1.5
        odd = k % 2 == 1
    else:
        z = _bits(seed, n)
        cents = (10 + (z >> np.uint64(33)) % np.uint64(191)).astype(np.int64)  # 0.10 .. 2.00
        odd = (z & np.uint64(1)).astype(bool)
    if not positive:
        cents = np.where(odd, -cents, cents)
    if scale != 1.0:
        cents = np.rint(cents * scale)
        cents[cents == 0] = 1
    return tuple((cents / 100).tolist())


def nested(flat, shape):
    """Flat values -> nested tuples (a gradient weight as stored in a plan)."""
    arr = np.array(flat, dtype=np.float64).reshape(shape)
    return _tuples(arr.tolist())


def _tuples(v):
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v
