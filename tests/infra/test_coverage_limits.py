"""What HypoFuzz traces (harness/coverage_limits.py): `none` collects nothing, `limited`
only the call edges inside the checkout's reference, gradspec and adapters, and `full` is
HypoFuzz's own. Skipped without HypoFuzz."""
import sys

import pytest

hypofuzz_coverage = pytest.importorskip("hypofuzz.coverage", reason="HypoFuzz is not installed")

from harness import coverage_limits  # noqa: E402


@pytest.fixture
def collector(monkeypatch):
    """HypoFuzz's CoverageCollector, restored after the test (limit() patches the class)."""
    cls = hypofuzz_coverage.CoverageCollector
    for name in ("__enter__", "__exit__", "trace_pre_312"):
        monkeypatch.setattr(cls, name, cls.__dict__[name])
    monkeypatch.setattr(hypofuzz_coverage, "should_trace", hypofuzz_coverage.should_trace)
    monkeypatch.delattr(cls, "gradspec_coverage", raising=False)
    return cls


def _branches(cls):
    from gradspec.reference_adapter import ReferenceAdapter
    from gradspec.program import Backward, Leaf, Op, Program
    program = Program(dtype="float64", leaves=(Leaf("a", (2,), (0.5, -1.0)),),
                      steps=(Op("t1", "sin", ("a",)),
                             Op("loss", "sum", ("t1",), (("dim", (0,)), ("keepdim", False)))),
                      plan=(Backward(("loss",), (None,)),))
    from gradspec.interpreter import run
    c = cls()
    with c:
        run(program, ReferenceAdapter())
    return c.branches


def test_none_collects_nothing(collector):
    coverage_limits.limit("none")
    assert _branches(collector) == set()


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12+ limits should_trace instead")
def test_limited_collects_call_edges_inside_the_checkout_only(collector):
    full = _branches(collector)  # line to line, in every file HypoFuzz does not exclude
    coverage_limits.limit("limited")
    limited = _branches(collector)
    assert limited, "no edge of the reference's call graph was recorded"
    for b in limited:
        for loc in (b.start, b.end):
            assert loc.filename.startswith(coverage_limits.TRACED), loc
    # A call edge ends at the first line of the function called; line events are gone.
    assert len(limited) < len(full) / 2, (len(limited), len(full))


def test_an_unknown_level_is_refused():
    with pytest.raises(ValueError, match="coverage must be one of full, limited, none"):
        coverage_limits.limit("some")
