"""Leaf values: a seed drawn by Hypothesis, expanded by NumPy.

Seed 0 (where shrinking goes) gives a simple, readable pattern; any other seed gives random
values. Values have two decimals so that printed programs stay readable, and are kept away
from zero (|v| >= 0.1) so that divisions and kinks are not hit by the leaves themselves.
"""
import numpy as np
from hypothesis import strategies as st

SEED_MAX = 2**32 - 1
SEEDS = st.integers(0, SEED_MAX)


def expand(seed, shape, positive=False, scale=1.0, salt=0):
    n = int(np.prod(shape)) if shape else 1
    if seed == 0:
        k = np.arange(n) + salt
        mag = 0.5 + 0.25 * (k % 5)
        sign = 1.0 if positive else np.where(k % 2 == 0, 1.0, -1.0)
        vals = sign * mag
    else:
        rng = np.random.default_rng(seed)
        mag = rng.uniform(0.1, 2.0, n)
        sign = 1.0 if positive else rng.choice([-1.0, 1.0], n)
        vals = sign * mag
    vals = np.round(vals * scale, 2)
    vals[vals == 0] = 0.01 if positive else 0.01
    return tuple(float(v) for v in vals)


def nested(flat, shape):
    """Flat values -> nested tuples (a gradient weight as stored in a plan)."""
    arr = np.array(flat, dtype=np.float64).reshape(shape)
    return _tuples(arr.tolist())


def _tuples(v):
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v
