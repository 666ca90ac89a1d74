"""tinygrad: the full sum of a tensor concatenated with itself is wrong.

What is wrong: for a = [[0.5, -0.75], [1.0, -1.25]] (sum -0.5), a.cat(a, dim=0).sum() is
-2.0; the right value is -1.0, twice a's sum. float32 and float64 alike; dim=1 too, and
mean() and logsumexp over all axes, and a.cat(a).exp().sum(). The same cat reduced along one
dim (sum(axis=0)), cat(a, b) of another tensor with a's values, and the cat realized first
(.contiguous()) are right; so is the gradient of the sum itself (2 everywhere), but anything
computed from the wrong value is wrong with it (exp(sum)'s gradient is exp(-2) * 2 per
element, not exp(-1) * 2).

tinygrad builds a cat of equal-sized pieces as stack(...).flatten(dim, dim + 1); a reduction
over the flattened dims of a stack of one tensor twice miscounts (3-d inputs are off by more:
a (2, 2, 2) tensor cat with itself sums to 4x the right value).

Expected: -1.0. Actual: -2.0.
Reproduces on tinygrad 0.14.0 (CPU device, clang).
Found by gradspec (deviation `tinygrad-cat-of-itself-sum` in deviations/tinygrad.py).

Run: python findings/tinygrad/cat-of-itself-sum.py - exits 1 while the bug reproduces, 0 once
fixed.
"""
import importlib.metadata
import sys

import numpy as np
from tinygrad import Tensor


def main():
    values = np.array([[0.5, -0.75], [1.0, -1.25]])
    problems = []
    for dtype in (np.float64, np.float32):
        a = Tensor(values.astype(dtype))
        for dim in (0, 1):
            got = a.cat(a, dim=dim).sum().item()
            if abs(got - 2 * values.sum()) > 1e-6:
                problems.append(f"{np.dtype(dtype).name}: a.cat(a, dim={dim}).sum() = {got}, "
                                f"expected {2 * values.sum()}")
    print(f"tinygrad {importlib.metadata.version('tinygrad')}")
    print("\n".join(problems) or "fixed: the sum of a.cat(a) is twice a's sum")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
