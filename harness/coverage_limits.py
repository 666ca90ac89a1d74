"""What HypoFuzz traces for coverage, limited (`python -m harness.campaign --coverage ...`).

HypoFuzz steers by branch coverage. On Python 3.11 it collects it with `sys.settrace`, one
call into Python for every line of every frame: torch's, NumPy's and Hypothesis's own
generation included, which costs the campaign most of its speed. What pays for an autograd
suite is coverage of the code that decides what a program does: the reference (the oracle's
own branches), the interpreter and the adapters. `limited` keeps a coarser signal from
those files alone, at a fraction of the cost: on Python 3.11 the edges of their call graph
(which line called which function; no line events), on 3.12+ their branches (sys.monitoring
is cheap there). `none` traces nothing: HypoFuzz then mutates without coverage feedback.

Installed by conftest.py in each fuzzing process (GRADSPEC_CAMPAIGN_COVERAGE), before
HypoFuzz starts collecting.
"""
import os
import sys
from functools import lru_cache

ENV = "GRADSPEC_CAMPAIGN_COVERAGE"
LEVELS = ("full", "limited", "none")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The files "limited" traces: where a program's meaning is decided, not where it is drawn.
TRACED = tuple(os.path.join(ROOT, d) + os.sep for d in ("reference", "gradspec", "adapters"))


@lru_cache(maxsize=None)
def traced(filename):
    return filename.startswith(TRACED)


def limit(level):
    """Patch HypoFuzz's CoverageCollector to trace `level` ("full": as it is)."""
    if level not in LEVELS:
        raise ValueError(f"coverage must be one of {', '.join(LEVELS)}, not {level!r}")
    if level == "full":
        return
    from hypofuzz import coverage
    collector = coverage.CoverageCollector
    if getattr(collector, "gradspec_coverage", None) == level:
        return
    if level == "none":
        def enter(self):
            self.last, self.branches = None, set()
            return self

        def exit_(self, *exc):
            return None
        collector.__enter__, collector.__exit__ = enter, exit_
    else:
        original_should_trace = coverage.should_trace
        # 3.12+: sys.monitoring asks should_trace once per code object, then disables it.
        coverage.should_trace = lambda fname: traced(fname) and original_should_trace(fname)

        def trace_pre_312(self, frame, event, arg):
            # Called once per call (the global trace function); returning None asks for no
            # line events in the frame. A call of our code from our code is one edge of the
            # call graph: the caller's line to the function called.
            code = frame.f_code
            if event == "call" and traced(code.co_filename):
                caller = frame.f_back
                if caller is not None and traced(caller.f_code.co_filename):
                    self.branches.add(coverage.Branch.make(
                        coverage.Location(caller.f_code.co_filename, caller.f_lineno, None),
                        coverage.Location(code.co_filename, code.co_firstlineno, None)))
            return None
        if sys.version_info[:2] < (3, 12):
            collector.trace_pre_312 = trace_pre_312
    collector.gradspec_coverage = level


def install_from_env():
    level = os.environ.get(ENV, "").strip()
    if level:
        limit(level)
