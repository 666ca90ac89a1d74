"""tensorflow: tf.nn.gelu in float64 is only float32-accurate: its constants go through float32.

What is wrong: tf.nn.gelu (tensorflow/python/ops/nn_ops.py) writes its constants as
`math_ops.cast(0.7071067811865476, features.dtype)` (exact form) and
`math_ops.cast(0.044715, features.dtype)` (approximate=True). `cast` first converts the Python
float to a tensor of the default float type, float32, and only then casts it to float64: the
constant is float32's rounding (1/sqrt(2) becomes 0.70710677...; 0.044715 becomes
0.0447150014...). So a float64 gelu, and its gradient, are off by up to ~4e-8 relative,
about 1e8 times float64's precision; torch.nn.functional.gelu, jax.nn.gelu and the formula in
float64 agree to ~1e-16.

    x = tf.constant([-1.38, 0.7], tf.float64)
    tf.nn.gelu(x)                       # [-0.11563478995, 0.53062544083]
    0.5 * x * (1 + erf(x / sqrt(2)))   # [-0.11563478493, 0.53062544344]

Expected: tf.nn.gelu(x) in float64 within a few float64 ulps of 0.5 x (1 + erf(x / sqrt(2)))
(approximate=True: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))), and its gradient
likewise. Actual: differences of ~1e-9 absolute (~1e-8 relative), in the value and in the
gradient. `tf.constant(0.7071067811865476, features.dtype)` would keep the constant exact.

Reproduces on tensorflow 2.21.0 (tensorflow-cpu, eager, float64). Found by gradspec
(deviation `tensorflow-gelu-float32-constant` in deviations/tensorflow.py).

Run: python findings/tensorflow/gelu-float32-constant.py - exits 1 while the bug
reproduces, 0 once fixed.
"""
import math
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

VALUES = [-1.38, -0.5, 0.7, 2.25]


def exact(v, approximate):
    """gelu and its derivative in float64 (math's erf and tanh)."""
    if approximate:
        c = math.sqrt(2.0 / math.pi)
        u = c * (v + 0.044715 * v ** 3)
        t = math.tanh(u)
        slope = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v)
        return 0.5 * v * (1 + t), slope
    cdf = 0.5 * (1 + math.erf(v / math.sqrt(2.0)))
    return v * cdf, cdf + v * math.exp(-v * v / 2) / math.sqrt(2 * math.pi)


def main():
    worst = 0.0
    for approximate in (False, True):
        x = tf.constant(VALUES, tf.float64)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.nn.gelu(x, approximate=approximate)
        g = tape.gradient(y, x)
        want = np.array([exact(v, approximate) for v in VALUES])
        rel_y = np.abs(y.numpy() - want[:, 0]) / np.abs(want[:, 0])
        rel_g = np.abs(g.numpy() - want[:, 1]) / np.abs(want[:, 1])
        print(f"approximate={approximate}: value rel err {rel_y.max():.2e}, "
              f"gradient rel err {rel_g.max():.2e}")
        worst = max(worst, rel_y.max(), rel_g.max())
    if worst > 1e-12:
        print(f"BUG: float64 tf.nn.gelu is off by {worst:.1e} relative (float32 constants)")
        return 1
    print("fixed: float64 tf.nn.gelu agrees with the float64 formula")
    return 0


if __name__ == "__main__":
    sys.exit(main())
