"""tensorflow: tape.gradient raises SystemError when aggregating a target's output gradients
fails and the target is the output of a tf.custom_gradient.

What is wrong: a target listed twice in tape.gradient (or a tensor reached twice) has its
output gradients summed (AddN). When that sum fails, here on two output gradients of
different shapes, the InvalidArgumentError raised inside the aggregation is not propagated
when the op that consumes it is a tf.custom_gradient (whatever its grad_fn returns): the C++
tape goes on with the Python error indicator still set, and the next call into Python fails
with

    SystemError: <method-wrapper '__getattribute__' of EnumType object at 0x...> returned a
    result with an exception set

a CPython-level error that says nothing about the cause (the real error is only logged by
local_rendezvous.cc). The same tape.gradient through tf.identity or an op such as
`x * 2.0` raises the InvalidArgumentError as it should.

    a = tf.constant([0.5, -0.75], tf.float64)

    @tf.custom_gradient
    def f(x):
        return tf.sign(x), lambda g: None

    with tf.GradientTape() as tape:
        tape.watch(a)
        y = f(a)
    tape.gradient([y, y], a, output_gradients=[tf.ones([2], tf.float64),
                                               tf.ones([2, 2], tf.float64)])

Expected: tf.errors.InvalidArgumentError ("Inputs to operation AddN of type AddN must have
the same size and shape"), as with `y = tf.identity(a)`.
Actual: SystemError ("... returned a result with an exception set").

Reproduces on tensorflow 2.21.0 (tensorflow-cpu, eager, float64; float32 alike). Found by
gradspec (deviation `tensorflow-systemerror-on-failed-aggregation` in deviations/tensorflow.py).

Run: python findings/tensorflow/systemerror-on-failed-aggregation.py - exits 1 while the bug
reproduces, 0 once fixed.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402


def gradient(through):
    a = tf.constant([0.5, -0.75], tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(a)
        y = through(a)
    return tape.gradient([y, y], a, output_gradients=[tf.ones([2], tf.float64),
                                                      tf.ones([2, 2], tf.float64)])


@tf.custom_gradient
def returns_none(x):
    return tf.sign(x), lambda g: None


@tf.custom_gradient
def returns_zeros(x):
    return tf.sign(x), lambda g: tf.zeros_like(x)


def main():
    problems = []
    for name, through in (("tf.identity", tf.identity), ("x * 2.0", lambda x: x * 2.0),
                          ("custom_gradient -> None", returns_none),
                          ("custom_gradient -> zeros", returns_zeros)):
        try:
            result = gradient(through)
            problems.append(f"{name}: no error, returned {result}")
        except tf.errors.InvalidArgumentError:
            print(f"{name}: InvalidArgumentError (right)")
        except SystemError as exc:
            problems.append(f"{name}: SystemError: {exc}")
    print(f"tensorflow {tf.__version__}")
    print("\n".join(problems) or "fixed: every case raises InvalidArgumentError")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
