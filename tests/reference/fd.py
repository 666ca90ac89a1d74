"""A generic central-difference gradient: `numerical_grad(f, arrays, eps)`.

Why generic: `f` maps a list of NumPy arrays to a float, so any test (a module with its
parameters, a loop of cells, a custom loss) can be proven against calculus the same way,
without torch. Tolerance reasoning lives with the callers (see test_nn.py).
"""
import numpy as np


def numerical_grad(f, arrays, eps=1e-6):
    """d f(arrays) / d arrays[k] for every k, by (f(x+eps) - f(x-eps)) / (2 eps), in float64.

    `f` receives a list of float64 copies (perturbed one entry at a time) and must not keep it.
    """
    xs = [np.array(a, dtype=np.float64, copy=True) for a in arrays]
    grads = []
    for a in xs:
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            orig = a[idx]
            a[idx] = orig + eps
            plus = float(f(xs))
            a[idx] = orig - eps
            minus = float(f(xs))
            a[idx] = orig
            g[idx] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads
