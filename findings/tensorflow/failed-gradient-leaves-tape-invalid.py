"""tensorflow: after a gradient call of a non-persistent tape fails midway, the next call
raises InternalError ("Internal state of the gradient tape is invalid"), not the tape's
documented RuntimeError.

What is wrong: a non-persistent GradientTape answers one `gradient` call; a second one
raises RuntimeError ("A non-persistent GradientTape can only be used to compute one set of
gradients"). A non-persistent tape also releases what it recorded as the backward pass goes.
When the first call fails inside that pass (an op's gradient function raises, e.g. on an
output gradient of the wrong shape), the tape is not marked as used, but its records are
half released: the next call raises InternalError, TF's error for a broken invariant (or,
given output gradients, returns None).

    a = tf.constant(0.5, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(a)
        t1 = a + a
    tape.gradient(t1, a, output_gradients=tf.constant([0.5, -0.75], tf.float64))  # raises
    tape.gradient(t1, a)  # (with output_gradients=tf.ones_like(t1): None)
    # -> InternalError: Internal state of the gradient tape is invalid: failed to find
    #    operation producing a tensor

Expected: the RuntimeError of a second call (or, the first one having computed nothing, the
gradient). Actual: InternalError (implicit output gradients); with output_gradients given, None,
silently, as if the source were not connected, or a wrong value (t1 = -a, loss = sum(t1):
the gradient of [loss, t1] w.r.t. t1, weights -1 and [-1], is [-1.], not [-2.]). gradspec
also saw a later call on such a tape crash the process (SIGSEGV) in a larger graph.

Reproduces on tensorflow 2.21.0 (tensorflow-cpu, eager, float64). Found by gradspec
(deviation `tensorflow-failed-gradient-leaves-tape-invalid` in deviations/tensorflow.py).

Run: python findings/tensorflow/failed-gradient-leaves-tape-invalid.py - exits 1 while the
bug reproduces, 0 once fixed.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402


OPS = {"a + a": lambda a: a + a, "reduce_sum(a)": lambda a: tf.reduce_sum(a, axis=0)}


def second_call(op, explicit):
    a = tf.constant([[0.5]], tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(a)
        t1 = op(a)
    try:
        tape.gradient(t1, a, output_gradients=tf.constant([[0.5, -0.75]], tf.float64))
        return None  # the first call did not fail: nothing to show
    except tf.errors.InvalidArgumentError:
        pass
    try:
        g = tape.gradient(t1, a, output_gradients=tf.ones_like(t1) if explicit else None)
    except tf.errors.InternalError as e:
        return f"InternalError: {str(e).splitlines()[0]}"
    except RuntimeError:
        return None  # the documented error of a second call: fixed
    return "returned None (a no longer connected)" if g is None else None


def wrong_value():
    """t1 = -a, loss = sum(t1): after the failed call, d(loss + <t1, -1>)/dt1 is -1, not -2."""
    a = tf.constant([0.5], tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(a)
        t1 = -a
        loss = tf.reduce_sum(t1, axis=0)
    try:
        tape.gradient(loss, a, output_gradients=tf.constant([0.5, -0.75], tf.float64))
        return None
    except tf.errors.InvalidArgumentError:
        pass
    try:
        g = tape.gradient([loss, t1], [t1], output_gradients=[tf.constant(-1.0, tf.float64),
                                                             tf.constant([-1.0], tf.float64)])
    except RuntimeError:
        return None
    value = None if g[0] is None else float(g[0][0])
    return None if value == -2.0 else f"returned {value}, expected -2.0"


def main():
    problems = []
    wrong = wrong_value()
    print(f"[loss, t1] w.r.t. t1 after a failed call: {wrong or 'right'}")
    if wrong:
        problems.append("wrong value")
    for name, op in OPS.items():
        for explicit in (False, True):
            wrong = second_call(op, explicit)
            form = "with output_gradients" if explicit else "implicit"
            print(f"{name}: second call ({form}): {wrong or 'right'}")
            if wrong:
                problems.append(name)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
