"""The conformance report: one JSON record per suite test (a pytest plugin), and the
feature × backend matrix built from such records.

Each record: backend, test id, feature (the test function), outcome (pass / deviation /
skip / fail), the skip reason or failure summary, programs checked, and the deviations
that explained differences. Parts written by different processes or machines merge as long as
no test appears twice for a backend (a duplicate or a missing part is an error).
"""
import json
import os

import pytest

from . import backend as current


# A failure's report (Hypothesis's falsifying example, gradspec's report with its standalone
# script) is kept whole up to this many characters, its tail if longer.
MAX_REPORT = 20000


def classify(exc):
    """What one failure is, for the soundness campaign: each exception it raised (Hypothesis
    groups several distinct bugs) filed as the arbitration's ruling (engine bug, oracle gap,
    tolerance, neither, not arbitrated), 'crash' (the candidate raised or died outside a
    step), or 'gradspec error' (anything else: the reference, the strategies, the report)."""
    from .arbitrate import UNARBITRATED
    from .check import ConformanceFailure
    errors = list(exc.exceptions) if isinstance(exc, BaseExceptionGroup) else [exc]
    kinds = []
    for e in errors:
        if isinstance(e, ConformanceFailure):
            kinds.append("crash" if e.crash else
                         e.verdict.kind if e.verdict is not None else UNARBITRATED)
        else:
            kinds.append("gradspec error")
    return {"kinds": kinds, "exception": type(exc).__name__}


def feature_of(nodeid):
    """`suites/test_ops.py::test_op[exp]` -> `test_ops::test_op`: one matrix row per test
    function (parametrized cases are aggregated)."""
    path, _, name = nodeid.partition("::")
    module = os.path.splitext(os.path.basename(path))[0]
    return f"{module}::{name.split('[')[0]}"


class ReportPlugin:
    def __init__(self, path, backend_name):
        self.path, self.backend = path, backend_name
        self.records = {}

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        current.reset_tally()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if report.when == "call" or (report.when == "setup" and report.skipped):
            report.user_properties.append(("gradspec", current.tally()))
        if report.failed and call.excinfo is not None:
            report.user_properties.append(("gradspec_failure", classify(call.excinfo.value)))

    def pytest_runtest_logreport(self, report):
        if "suites/" not in report.nodeid.replace(os.sep, "/"):
            return
        if report.when == "setup" and not report.skipped:
            if report.failed:
                self._record(report, "fail", {})
            return
        if report.when != "call" and not (report.when == "setup" and report.skipped):
            return
        tally = dict(report.user_properties).get("gradspec", {"programs": 0, "deviations": {}})
        if report.skipped:
            status = "skip"
        elif report.failed:
            status = "fail"
        else:
            status = "deviation" if tally["deviations"] else "pass"
        self._record(report, status, tally)

    def _record(self, report, status, tally):
        detail = ""
        if status == "skip":
            longrepr = report.longrepr
            detail = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
            detail = detail.removeprefix("Skipped: ")
        elif status == "fail":
            detail = str(report.longrepr).strip().splitlines()[-1][:300]
        self.records[report.nodeid] = {
            "backend": self.backend, "test": report.nodeid, "feature": feature_of(report.nodeid),
            "status": status, "detail": detail, "programs": tally.get("programs", 0),
            "deviations": tally.get("deviations", {})}
        if status == "fail":  # what harness.soundness files it under, and the whole report
            failure = dict(report.user_properties).get("gradspec_failure",
                                                       {"kinds": ["gradspec error"]})
            self.records[report.nodeid]["failure"] = dict(
                failure, report=report.longreprtext[-MAX_REPORT:])

    def pytest_sessionfinish(self, session):
        if hasattr(session.config, "workerinput"):
            return  # xdist workers: the controller gets their reports and writes the file
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        # Which shard this part is, and the suite it was cut from (harness/shards.py), so
        # that a merge can tell a missing or duplicate shard from a smaller suite.
        collection = getattr(session.config, "_gradspec_collection", None) or {}
        with open(self.path, "w") as f:
            json.dump({"backend": self.backend, "shard": collection.get("shard"),
                       "suite": collection.get("suite"), "selected": collection.get("selected"),
                       "records": sorted(self.records.values(), key=lambda r: r["test"])},
                      f, indent=1)
