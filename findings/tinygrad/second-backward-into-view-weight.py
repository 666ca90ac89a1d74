"""tinygrad: a second backward after a 0-d gradient weight that is a view fails to compute.

What is wrong: backward keeps the gradient weight itself as the root's .grad (`t.grad = g`).
When that weight is a view of a buffer (a 0-d tensor made by reshaping a 1-element one, as
any 0-d value computed from data is), the next backward's accumulation
`t.grad.assign(t.grad + g)` writes through the view, and realizing any gradient after it
fails inside tinygrad's scheduler:

    a = Tensor([1.0, 2.0, 3.0, 4.0])
    loss = a.sum()
    loss.backward(Tensor([-1.0]).reshape(()))   # an explicit 0-d weight, a view
    loss.backward()                              # implicit ones
    a.grad.numpy()    # AssertionError: attempting multiple stores: 4

Expected: a.grad == [0, 0, 0, 0] (-1 + 1 per element), as with the const weight
Tensor(-1.0), with which it is right. Actual: AssertionError from the scheduler. float32 and
float64 alike, for any shape of `a`.

Reproduces on tinygrad 0.14.0 (CPU device, clang).
Found by gradspec's soundness campaign (deviation `tinygrad-second-backward-into-view-weight`
in deviations/tinygrad.py).

Run: python findings/tinygrad/second-backward-into-view-weight.py - exits 1 while the bug
reproduces, 0 once fixed.
"""
import importlib.metadata
import sys

import numpy as np
from tinygrad import Tensor


def main():
    problems = []
    for dtype in (np.float64, np.float32):
        a = Tensor(np.array([1.0, 2.0, 3.0, 4.0], dtype=dtype))
        loss = a.sum()
        loss.backward(Tensor(np.array([-1.0], dtype=dtype)).reshape(()))
        loss.backward()
        try:
            got = a.grad.numpy()
        except AssertionError as exc:
            problems.append(f"{np.dtype(dtype).name}: reading a.grad raised AssertionError: {exc}")
            continue
        if np.any(np.abs(got) > 1e-6):
            problems.append(f"{np.dtype(dtype).name}: a.grad = {got.tolist()}, expected zeros")
    print(f"tinygrad {importlib.metadata.version('tinygrad')}")
    print("\n".join(problems) or "fixed: the second backward accumulates into .grad")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
