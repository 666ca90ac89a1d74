"""The garbage collector set for a long run of small examples.

Once the tests are collected the process holds some 200,000 objects that live until it exits
(torch, Hypothesis, NumPy, the tests themselves). CPython's full collection walks every one
of them, about 0.1 s each time, and the suites trigger one every few seconds: a tenth of a
serial run. `gc.freeze()` takes them out of the collector's sight. A larger first threshold
lets each example's short-lived objects (choices, tensors, graph nodes) die by reference
counting before a collection looks at them. Cycles (a tensor and its graph node) are still
collected, only less often: memory stays within a few MB of the default's.
"""
import gc

# Allocations between two young collections (CPython's default is 700): about one checked
# program's worth, so a collection runs once a program or so, not a dozen times.
YOUNG_THRESHOLD = 10_000


def settle():
    """Freeze what exists now and collect the young generation less often. Called once the
    long-lived objects are in place (after collection; the benchmark after its set-up)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


def before_exit():
    """Freeze what the run made too. The interpreter then shuts down without walking it in
    the collections it runs at exit (about half a second a process holding torch and an
    engine or two; under xdist the controller waits for every worker's exit). Nothing runs
    after this but pytest's wrap-up and the exit handlers, which do not need those
    collections: at-exit cleanups are atexit handlers and weakref finalizers, and an object in
    a cycle is not promised its __del__ at exit anyway."""
    gc.freeze()
