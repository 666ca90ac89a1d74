"""Under xdist the slow tests run first, a share to each worker (harness/schedule.py); a
serial run keeps file order."""
import os
import re
import subprocess
import sys
import textwrap

import pytest

from harness.schedule import is_slow, worksteal_order

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Item:
    def __init__(self, name, slow):
        self.name, self.slow = name, slow

    def get_closest_marker(self, name):
        return object() if self.slow and name == "slow" else None

    def __repr__(self):
        return self.name


def _items(n, slow_at):
    return [Item(f"t{i}", i in slow_at) for i in range(n)]


def _slices(items, workers):  # as xdist's work stealing first hands them out
    out, rest = [], list(items)
    for i in range(workers):
        size = len(rest) // (workers - i)
        out.append(rest[:size])
        rest = rest[size:]
    return out


@pytest.mark.parametrize("n, slow_at, workers", [
    (10, {8, 9}, 2), (11, {0, 5, 10}, 2), (13, {3, 4, 11, 12}, 3), (7, set(), 2),
    (9, {1, 2, 3, 4, 5, 6}, 4), (630, set(range(600, 630)), 2), (5, {4}, 1)])
def test_each_slice_starts_with_its_share_of_the_slow_tests(n, slow_at, workers):
    items = _items(n, slow_at)
    ordered = worksteal_order(items, workers)
    assert sorted(ordered, key=lambda i: int(i.name[1:])) == items  # each test once
    fast = [i for i in items if not is_slow(i)]
    assert [i for i in ordered if not is_slow(i)] == fast  # fast tests keep their order
    slices = _slices(ordered, workers)
    counts = [sum(map(is_slow, s)) for s in slices]
    assert max(counts) - min(counts) <= 1, slices
    for s, count in zip(slices, counts):
        assert all(map(is_slow, s[:count])), s  # the slow ones at the front of each slice


def test_more_slow_tests_than_a_slice_holds_run_first():
    items = _items(6, {1, 2, 3, 4, 5})
    ordered = worksteal_order(items, 4)  # slices of 1, 1, 2, 2: shares of 2, 1, 1, 1
    assert [i.name for i in ordered] == ["t1", "t2", "t3", "t4", "t5", "t0"]


CONFTEST = """
def pytest_configure(config):  # as the project's conftest.py registers it
    from harness.schedule import SlowFirst
    config.pluginmanager.register(SlowFirst(config), "gradspec-order")
"""
TESTS = "import pytest\n" + "".join(
    f"\n{'@pytest.mark.slow' if i in (5, 6, 7) else ''}\ndef test_{i}():\n    pass\n"
    for i in range(8))


def _run(tmp_path, *args):
    (tmp_path / "conftest.py").write_text(textwrap.dedent(CONFTEST))
    (tmp_path / "test_order.py").write_text(TESTS)
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("PYTEST_ADDOPTS", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:randomly",
                           "-p", "no:cacheprovider", *args, "test_order.py"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.slow
def test_under_xdist_each_worker_starts_with_slow_tests(tmp_path):
    out = _run(tmp_path, "-n", "2", "--dist", "worksteal")
    ran = {}  # worker -> tests in the order it ran them
    for worker, test in re.findall(r"\[(gw\d)\].*?PASSED test_order.py::(test_\d)", out):
        ran.setdefault(worker, []).append(test)
    assert sorted(sum(ran.values(), [])) == [f"test_{i}" for i in range(8)], out
    firsts = sorted(tests[0] for tests in ran.values())
    assert set(firsts) <= {"test_5", "test_6", "test_7"} and len(firsts) == 2, out


def test_a_serial_run_keeps_file_order(tmp_path):
    out = _run(tmp_path, "-p", "no:xdist")
    assert re.findall(r"test_order.py::(test_\d) PASSED", out) == \
        [f"test_{i}" for i in range(8)], out
