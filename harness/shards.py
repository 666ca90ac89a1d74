"""Deterministic shards of a pytest run: `--shard I/N` or `GRADSPEC_SHARD=I/N` (1 <= I <= N).

The collected tests (after -k, -m and every other deselection) are sorted by node id and dealt
round-robin: the k-th (from 0) goes to shard k mod N + 1. The split depends on the collected
set only, which is the same on every machine for one checkout, one backend and the same
pytest arguments; so N machines started with 1/N ... N/N run every test exactly once, and the
xdist workers of one machine all compute the same split.

Every run also notes the suite it was cut from (how many suite tests were collected before
the split, and a digest of their ids) and how many this shard kept; the report part
(`--gradspec-report`) records them, so that `python -m harness.matrix --merge` refuses a
missing, duplicate or mismatched shard instead of printing a smaller matrix.
"""
import hashlib
import os

import pytest


class ShardError(ValueError):
    pass


def parse(spec):
    """'2/4' -> (2, 4); anything else is a ShardError saying what is expected."""
    text = str(spec).strip()
    index, sep, count = text.partition("/")
    try:
        if not sep:
            raise ValueError
        index, count = int(index), int(count)
    except ValueError:
        raise ShardError(f"shard {spec!r}: expected INDEX/COUNT, e.g. 2/4 (the second of four "
                         f"shards; INDEX counts from 1)") from None
    if count < 1:
        raise ShardError(f"shard {spec!r}: the count must be at least 1")
    if not 1 <= index <= count:
        raise ShardError(f"shard {spec!r}: the index must be between 1 and {count} "
                         f"(it counts from 1)")
    return index, count


def select(nodeids, index, count):
    """The node ids of shard `index` of `count` (1-based), in sorted order."""
    return [n for k, n in enumerate(sorted(nodeids)) if k % count == index - 1]


def is_suite(nodeid):
    return "suites/" in nodeid.replace(os.sep, "/")


def digest(nodeids):
    return hashlib.sha256("\n".join(sorted(nodeids)).encode()).hexdigest()[:16]


class ShardPlugin:
    """Keeps the tests of one shard (all of them for 1/1) and notes what was kept, as
    `config._gradspec_collection`: {"shard": [I, N], "suite": {"total", "digest"},
    "selected"} (suite tests only). Under xdist each worker computes it and the controller
    gets it with the worker's output."""

    def __init__(self, index=1, count=1):
        self.index, self.count = index, count

    @pytest.hookimpl(trylast=True)  # after -k / -m deselection: shard what would run
    def pytest_collection_modifyitems(self, config, items):
        keep = set(select([item.nodeid for item in items], self.index, self.count))
        kept = [item for item in items if item.nodeid in keep]
        dropped = [item for item in items if item.nodeid not in keep]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept
        suite = [item.nodeid for item in kept + dropped if is_suite(item.nodeid)]
        config._gradspec_collection = {
            "shard": [self.index, self.count],
            "suite": {"total": len(suite), "digest": digest(suite)},
            "selected": sum(1 for item in kept if is_suite(item.nodeid))}

    def pytest_sessionfinish(self, session):
        info = getattr(session.config, "_gradspec_collection", None)
        if hasattr(session.config, "workeroutput") and info is not None:
            session.config.workeroutput["gradspec_collection"] = info

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error):  # xdist controller
        info = getattr(node, "workeroutput", {}).get("gradspec_collection")
        if info is not None:
            node.config._gradspec_collection = info

    def pytest_report_header(self, config):
        if self.count > 1:
            return [f"gradspec shard: {self.index}/{self.count} of the collected tests "
                    f"(sorted by node id, dealt round-robin)"]
        return []
