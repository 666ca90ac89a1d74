"""tensorflow: tape.gradient crashes the process (SIGSEGV) where the gradients summed at an
intermediate (non-leaf) source have different shapes, instead of raising.

What is wrong: tape.gradient takes any recorded tensor as a source; the gradients reaching
it from its uses are summed (AddN). Where that sum fails (two gradients of different
shapes: a wrongly shaped output gradient, or a custom_gradient returning one), the same
failure at a watched leaf, or anywhere else in the graph, raises InvalidArgumentError
("Inputs to operation AddN of type AddN must have the same size and shape"); at an
intermediate source (a target among the sources included) the process is killed by SIGSEGV
inside imperative_grad.

    a = tf.constant([0.5], tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(a)
        t1 = -a
        t2 = -t1
    tape.gradient([t2, t1], [t1], output_gradients=[tf.constant([-1.0], tf.float64),
                                                   tf.constant([[0.5, -0.75]], tf.float64)])
    # -> Segmentation fault

Expected: InvalidArgumentError (as for the same targets w.r.t. `a`).
Actual: the process is killed by SIGSEGV (also for [t1, t1] w.r.t. [t1], and for a
custom_gradient f(t1, t1) whose grad_fn returns gradients of different shapes, w.r.t. t1).

Reproduces on tensorflow 2.21.0 (tensorflow-cpu, eager, float64). Found by gradspec
(deviation `tensorflow-aggregation-at-source-segfault` in deviations/tensorflow.py; its
adapter rejects such calls to keep its workers alive).

Run: python findings/tensorflow/aggregation-at-source-segfault.py - exits 1 while the bug
reproduces, 0 once fixed (each case runs in a child process, as the crash kills it).
"""
import subprocess
import sys

CASES = {
    "[t2, t1] w.r.t. t1": "[t2, t1], [t1], output_gradients=[w, wide]",
    "[t1, t1] w.r.t. t1": "[t1, t1], [t1], output_gradients=[wide, w]",
}
CHILD = """
import os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
a = tf.constant([0.5], tf.float64)
with tf.GradientTape() as tape:
    tape.watch(a)
    t1 = -a
    t2 = -t1
w, wide = tf.constant([-1.0], tf.float64), tf.constant([[0.5, -0.75]], tf.float64)
try:
    tape.gradient({call})
    print("no error")
except tf.errors.InvalidArgumentError as e:
    print("InvalidArgumentError")
"""


def main():
    problems = []
    for name, call in CASES.items():
        proc = subprocess.run([sys.executable, "-c", CHILD.format(call=call)],
                              capture_output=True, text=True, timeout=120)
        out = proc.stdout.strip()
        if proc.returncode < 0:
            problems.append(f"{name}: the process was killed by signal {-proc.returncode}")
        elif proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["?"])[-1]
            problems.append(f"{name}: raised {last}")
        elif out != "InvalidArgumentError":
            problems.append(f"{name}: {out}, expected InvalidArgumentError")
        else:
            print(f"{name}: InvalidArgumentError (right)")
    print("\n".join(problems) or "fixed: the failed sum at a source raises")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
