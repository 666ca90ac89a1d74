"""tensorflow: a None entry in tape.gradient's output_gradients aborts the process, raises, or
is taken as "no gradient", instead of meaning the default (ones) for that target.

What is wrong: GradientTape.gradient keeps None entries of `output_gradients` as they are
(`[None if x is None else ops.convert_to_tensor(x) ...]`), and pywrap_tfe.h documents
TFE_Py_TapeGradient's `output_gradients` as "either None or a python list of either Tensor or
None"; the C++ tape starts a target whose output gradient is null from ones. But the Python
None reaches the tape as a Py_None object, not a null: it is aggregated or handed to gradient
functions as if it were a tensor. Depending on the graph the process aborts
(`Check failed: gradient_tensors[i] != Py_None`, pywrap_tfe_src.cc), a gradient function
raises (TypeError / ValueError on None), or the gradient is silently None.

    a = tf.constant(0.5, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(a)
        y = -a
    tape.gradient([y, y], a, output_gradients=[tf.constant(-1.0, tf.float64), None])
    # -> process aborted (SIGABRT)

Expected: each None entry means ones_like(target), as output_gradients=None does for all of
them: here -1 * -1 + 1 * -1 = 0.0; for [None] on y alone, -1.0 (same as no output_gradients).
Actual: SIGABRT for a target listed twice or reached through another target; for `y` alone,
TypeError (bad operand type for unary -: 'NoneType'); for a target that is the source itself,
None.

Reproduces on tensorflow 2.21.0 (tensorflow-cpu, eager, float64). Found by gradspec
(deviation `tensorflow-none-output-gradient` in deviations/tensorflow.py; its adapter rejects
such programs to keep its workers alive).

Run: python findings/tensorflow/none-output-gradient.py - exits 1 while the bug reproduces, 0
once fixed (each case runs in a child process, as the abort kills the process).
"""
import subprocess
import sys

CASES = {
    "y twice, [w, None]": ("[y, y]", "[tf.constant(-1.0, tf.float64), None]", 0.0),
    "y alone, [None]": ("[y]", "[None]", -1.0),
    "the source, [None]": ("[a]", "[None]", 1.0),
}
CHILD = """
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
a = tf.constant(0.5, tf.float64)
with tf.GradientTape() as tape:
    tape.watch(a)
    y = -a
g = tape.gradient({targets}, a, output_gradients={weights})
print(None if g is None else float(g))
"""


def main():
    problems = []
    for name, (targets, weights, expected) in CASES.items():
        proc = subprocess.run([sys.executable, "-c", CHILD.format(targets=targets,
                                                                weights=weights)],
                              capture_output=True, text=True, timeout=120)
        out = proc.stdout.strip()
        if proc.returncode < 0:
            problems.append(f"{name}: the process was killed by signal {-proc.returncode}")
        elif proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            problems.append(f"{name}: raised {last}")
        elif out == "None" or float(out) != expected:
            problems.append(f"{name}: returned {out}, expected {expected}")
        else:
            print(f"{name}: {expected} (right)")
    print("\n".join(problems) or "fixed: a None entry means ones for its target")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
