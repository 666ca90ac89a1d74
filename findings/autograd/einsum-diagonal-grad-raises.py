"""HIPS autograd: the gradient of np.einsum raises where an operand's subscript repeats a
letter (a diagonal, or a trace).

What is wrong: np.einsum("ii->", x) (the trace), np.einsum("ij,jj->i", a, b) and the like
are valid einsums whose forward autograd computes, but their vjp w.r.t. the operand with the
repeated letter (grad_einsum in autograd/numpy/numpy_vjps.py) is another einsum whose output
subscript is that operand's, "...->ii": NumPy's einsum rejects an output letter twice.

    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    autograd.grad(lambda x: np.einsum("ii->", x))(x)

Expected: [[1., 0.], [0., 1.]] (the gradient of the trace, as autograd gives for
np.trace(x) or np.sum(np.diag(x))).
Actual: ValueError: einstein sum subscripts string includes output subscript 'i' multiple
times.

Reproduces on autograd 1.9.1 (NumPy 2.4, float32 and float64). Reported upstream as
HIPS/autograd#115 (2016, labelled bug) and #510 (2019), both open.
Found by gradspec (deviation `autograd-einsum-diagonal-grad-raises` in
deviations/autograd.py).

Run: python findings/autograd/einsum-diagonal-grad-raises.py - exits 1 while the bug
reproduces, 0 once fixed.
"""
import sys
from importlib.metadata import version

import autograd
import autograd.numpy as np


def main():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    expected = autograd.grad(lambda x: np.sum(np.diag(x)))(x)
    print(f"autograd {version('autograd')}")
    print(f"expected (np.sum(np.diag(x))): {expected.tolist()}")
    try:
        actual = autograd.grad(lambda x: np.einsum("ii->", x))(x)
    except ValueError as exc:
        print(f"BUG: the gradient of np.einsum('ii->', x) raises: {exc}")
        return 1
    print(f"fixed: {actual.tolist()}")
    return 0 if np.array_equal(actual, expected) else 1


if __name__ == "__main__":
    sys.exit(main())
