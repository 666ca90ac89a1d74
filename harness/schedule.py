"""The order tests run in under pytest-xdist: the slow ones first, a share to each worker.

Most tests take milliseconds; about twenty take a second or more (they start fresh interpreters,
or compile an engine's kernels) and are marked `slow`. In file order a slow test can come last
in a worker's queue and keep that worker busy while the other has nothing left: 3 s of a 40 s
`-n 2` run. xdist's work stealing (`worksteal`, our default) first hands each worker one
contiguous slice of the collection and later moves tests from the back of a busy worker's
queue to an idle one; so each slice here starts with its share of the slow tests, and what is
left to steal at the end is short. Under `--dist load`, which hands out small batches from the
front, the slow tests simply come first. A serial run keeps file order.

Every worker computes the same order from the same collection (xdist requires it), and the
derandomized profile draws the same programs in any order (tests/meta/test_determinism.py).
"""
import pytest

MARKER = "slow"


def is_slow(item):
    return item.get_closest_marker(MARKER) is not None


def _split(items):
    """(the slow tests, the others), each in collection order."""
    slow = [item for item in items if is_slow(item)]
    return slow, [item for item in items if not is_slow(item)]


def worksteal_order(items, workers):
    """`items` laid out as xdist's work stealing will first slice them among `workers`, each
    slice starting with its round-robin share of the slow tests, then fast tests in order."""
    slow, fast = _split(items)
    sizes, left = [], len(items)
    for i in range(workers):  # as WorkStealingScheduling.check_schedule splits `pending`
        sizes.append(left // (workers - i))
        left -= sizes[-1]
    shares = [slow[i::workers] for i in range(workers)]
    if any(len(share) > size for share, size in zip(shares, sizes)):
        return slow + fast  # more slow tests than a slice holds: just run them first
    out, taken = [], 0
    for share, size in zip(shares, sizes):
        out += share + fast[taken:taken + size - len(share)]
        taken += size - len(share)
    return out


class SlowFirst:
    """Registered in every pytest process. The xdist controller tells each worker the
    scheduling mode (a worker's own `--dist` option is reset to "no"); each worker orders its
    collection; a serial run (no workers) leaves it as it is."""

    def __init__(self, config):
        workerinput = getattr(config, "workerinput", {})
        self.workers = workerinput.get("workercount", 1)
        self.dist = workerinput.get("gradspec_dist")

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node):  # the controller, for each worker it starts
        node.workerinput["gradspec_dist"] = node.config.option.dist

    @pytest.hookimpl(hookwrapper=True)
    def pytest_collection_modifyitems(self, config, items):
        yield  # after deselection (-k, -m) and sharding: order what will run
        if self.dist == "worksteal":
            items[:] = worksteal_order(items, self.workers)
        elif self.dist == "load":
            slow, fast = _split(items)
            items[:] = slow + fast
