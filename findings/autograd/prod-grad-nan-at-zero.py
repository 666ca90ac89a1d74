"""HIPS autograd: the gradient of np.prod is NaN where a factor is exactly zero.

What is wrong: autograd's vjp of np.prod (grad_np_prod in autograd/numpy/numpy_vjps.py) is
`g * prod(x) / x`: where a factor x[i] is 0 this is 0 / 0, NaN, in place of the product of
the other factors (itself 0 where another factor is zero too); the slice's other entries
get 0 / x[j] = 0, which is right. The same holds along an axis, slice by slice.

    x = np.array([0.0, 2.0, 3.0])
    autograd.grad(np.prod)(x)

Expected: [6., 0., 0.] (d/dx0 of x0 * x1 * x2 is x1 * x2, as autograd gives for the
product written out, x[0] * x[1] * x[2]).
Actual: [nan, 0., 0.] (with "RuntimeWarning: invalid value encountered in divide").

Reproduces on autograd 1.9.1 (NumPy 2.4, float32 and float64). Reported upstream as
HIPS/autograd#93 (2016) and #378 (2018), both open.
Found by gradspec (deviation `autograd-prod-grad-nan-at-zero` in deviations/autograd.py).

Run: python findings/autograd/prod-grad-nan-at-zero.py - exits 1 while the bug reproduces,
0 once fixed.
"""
import sys
import warnings
from importlib.metadata import version

import autograd
import autograd.numpy as np


def main():
    x = np.array([0.0, 2.0, 3.0])
    expected = autograd.grad(lambda v: v[0] * v[1] * v[2])(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        actual = autograd.grad(np.prod)(x)
    print(f"autograd {version('autograd')}")
    print(f"expected (x[0] * x[1] * x[2]): {expected.tolist()}")
    print(f"actual (np.prod):              {actual.tolist()}")
    if not np.array_equal(actual, expected):
        print("BUG: the gradient of np.prod is wrong where a factor is zero")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
