"""Crash isolation (`--isolate`, harness/isolate.py): an engine that aborts, segfaults, exits
or hangs fails one example, reported with its program and standalone script, never the run;
an engine that works gives, through its worker, exactly the traces it gives in process.

The engines that crash are in tests/meta/crashing.py. The whole-run checks start pytest in a
subprocess (marked slow), serial and under `-n 2`, and then look for leftover workers."""
import dataclasses
import os
import pathlib
import pickle
import subprocess
import sys
import uuid

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from gradspec.reference_adapter import ReferenceAdapter
from harness.check import judge
from gradspec.interpreter import run
from harness.isolate import IsolatedCandidate, IsolationError, WorkerCrash, portable
from gradspec.program import Backward, Leaf, Op, Program
from strategies import Config, programs

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
CRASHING = "tests.meta.crashing"
SUM = (("dim", (0,)), ("keepdim", False))


def _program(op, n):
    """`op` of a leaf of `n` elements, summed, backwarded."""
    return Program(dtype="float64", leaves=(Leaf("a", (n,), tuple(0.25 * i for i in range(n))),),
                   steps=(Op("t", op, ("a",)), Op("s", "sum", ("t",), SUM)),
                   plan=(Backward(("s",), (None,)),))


def same(a, b):
    """Traces equal to the bit: the same fields, arrays of the same shape and values."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and \
            a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    if dataclasses.is_dataclass(a):
        return type(a) is type(b) and all(same(getattr(a, f.name), getattr(b, f.name))
                                          for f in dataclasses.fields(a))
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    return a == b


@pytest.fixture
def runner(request):
    made = []

    def make(spec, timeout=10.0):
        made.append(IsolatedCandidate(spec, timeout))
        return made[-1]
    yield make
    for r in made:
        r.close()


# ----- the runner itself --------------------------------------------------------------------
def test_a_program_travels_without_the_session_the_strategies_attached():
    program = _program("exp", 2)
    object.__setattr__(program, "_built", object())  # as Session.attach_to does
    sent = portable(program)
    assert "_built" in vars(program) and "_built" not in vars(sent)  # the original keeps it
    assert pickle.loads(pickle.dumps(sent)) == program


def test_the_reference_through_its_worker_gives_the_in_process_trace(runner):
    isolated, program = runner("reference"), _program("tanh", 3)
    assert same(isolated.run(program), run(program, ReferenceAdapter(), strict=False))
    assert isolated.starts == 1


def test_an_abort_is_a_crash_and_the_next_program_gets_a_new_worker(runner):
    isolated = runner(f"{CRASHING}:AbortingAdapter")
    assert isolated.run(_program("exp", 1)).actions[0].error is None  # one element: no abort
    with pytest.raises(WorkerCrash) as crash:
        isolated.run(_program("exp", 2))
    assert "killed by SIGABRT (signal 6) while running this program" in str(crash.value)
    details = "\n".join(crash.value.details)
    assert "Fatal Python error: Aborted" in details and "crashing.py" in details, details
    assert isolated.run(_program("exp", 1)).actions[0].grads["a"] is not None
    assert isolated.starts == 2


def test_a_hang_is_killed_at_the_timeout_and_shows_where_it_hung(runner):
    isolated = runner(f"{CRASHING}:HangingAdapter", timeout=0.5)
    with pytest.raises(WorkerCrash) as crash:
        isolated.run(_program("tanh", 2))
    assert "hung: no answer within 0.5 s (--isolate-timeout)" in str(crash.value)
    details = "\n".join(crash.value.details)
    assert "in die" in details and "crashing.py" in details, details  # its Python stack
    assert isolated.run(_program("tanh", 1)).actions[0].error is None


def test_a_crash_is_judged_a_crash_of_the_candidate(runner):
    isolated = runner(f"{CRASHING}:SegfaultingAdapter")
    j = judge(_program("exp", 2), ReferenceAdapter(), ReferenceAdapter(), isolated=isolated)
    assert not j.conforms and j.actual is None
    assert "killed by SIGSEGV (signal 11)" in j.crash and "(the reference: ran without " \
        "errors)" in j.crash and "Fatal Python error: Segmentation fault" in j.crash, j.crash


def test_an_exception_outside_the_steps_comes_back_as_in_process(runner):
    from tests.meta.crashing import RaisingAdapter
    program = _program("exp", 2)
    in_process = judge(program, RaisingAdapter(), ReferenceAdapter())
    isolated = judge(program, RaisingAdapter(), ReferenceAdapter(),
                     isolated=runner(f"{CRASHING}:RaisingAdapter"))
    assert isolated.crash == in_process.crash
    assert in_process.crash.startswith("raising raised ValueError: no values today")


def test_a_backend_the_worker_cannot_load_stops_with_the_reason(runner):
    isolated = runner(f"{CRASHING}:NoSuchAdapter")
    for _ in range(2):  # not retried: the second call answers at once, alike
        with pytest.raises(IsolationError, match="cannot load backend .*has no 'NoSuchAdapter'"):
            isolated.run(_program("exp", 1))
    assert isolated.starts == 1


def test_closing_ends_the_worker(runner):
    isolated = runner("reference")
    isolated.run(_program("exp", 1))
    proc = isolated._proc
    isolated.close()
    assert proc.returncode is not None and isolated._proc is None


def test_a_test_that_installs_another_candidate_runs_it_in_process():
    """The worker stands for the candidate it was set with (a broken engine or a mutant
    installed by a meta test must not be answered by the backend's worker)."""
    from harness import backend
    saved = dict(backend._current)
    try:
        first, other, runner = ReferenceAdapter(), ReferenceAdapter(), object()
        backend.set_current(first, ReferenceAdapter())
        backend.set_isolated(runner)
        assert backend.isolated() is runner
        backend.set_current(other, ReferenceAdapter())
        assert backend.isolated() is None
    finally:
        backend._current.clear()
        backend._current.update(saved)


# ----- without crashes nothing changes: torch through its worker, on drawn programs -----------
@pytest.fixture(scope="module")
def torch_pair():
    pytest.importorskip("torch")
    from adapters.torch_adapter import TorchAdapter
    isolated = IsolatedCandidate("torch")
    yield TorchAdapter(), isolated
    isolated.close()


@pytest.mark.slow  # a fresh interpreter loads torch
def test_torch_through_its_worker_gives_the_in_process_traces(torch_pair):
    torch, isolated = torch_pair

    @settings(max_examples=25, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(program=programs(Config(), torch))
    def same_traces(program):
        sent = isolated.run(program)  # first: the program still carries its reference Session
        assert same(sent, run(program, torch, strict=False)), program.to_source()
    same_traces()
    assert isolated.starts == 1


# ----- whole runs, in a subprocess --------------------------------------------------------------
def _pytest(*args, workers=None):
    """pytest on the broadcasting suite (and `args`), in a subprocess tagged with a marker in
    its environment, which every process it starts inherits: afterwards, none may be left."""
    marker = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GRADSPEC_", "PYTEST_ADDOPTS"))}
    env.update(GRADSPEC_ISOLATE_TEST_MARKER=marker,
               HYPOTHESIS_STORAGE_DIRECTORY=str(ROOT / ".hypothesis" / "isolate-meta"))
    dist = ("-p", "no:xdist") if workers is None else ("-n", str(workers))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly", *dist,
                           "suites/test_broadcasting.py", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert not _processes_marked(marker), "workers left running after pytest exited"
    return proc, proc.stdout + proc.stderr


def _processes_marked(marker):
    found = []
    for environ in pathlib.Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes():
                found.append(environ.parent.name)
        except OSError:  # gone, or not ours to read
            pass
    return found


def _failed_cleanly(proc, output):
    assert proc.returncode == 1, output  # tests failed: not an internal error, not a usage one
    for bad in ("INTERNALERROR", "node down", "Traceback (most recent call last)",
                "worker crashed", "replacing crashed worker"):
        assert bad not in output, output
    assert "Program(" in output and "Falsifying example" in output, output


@pytest.mark.slow
@pytest.mark.parametrize("adapter, signal_name", [("AbortingAdapter", "SIGABRT"),
                                                  ("SegfaultingAdapter", "SIGSEGV")])
def test_a_crashing_engine_fails_the_example_with_a_shrunk_report(adapter, signal_name):
    proc, output = _pytest("--backend", f"{CRASHING}:{adapter}", "--isolate",
                           "--isolate-timeout", "2", "--max-examples", "20")
    _failed_cleanly(proc, output)
    assert "isolation: the candidate runs in a worker process, 2 s an example" in output
    assert f"killed by {signal_name}" in output and "1 failed" in output, output
    assert "---- standalone" in output and "t1 = torch.exp(a)" in output, output
    # Shrunk: one leaf of two elements, exp, the sum Hypothesis cannot take away.
    assert "Leaf(name='a', shape=(2,)" in output and "Leaf(name='b'" not in output, output


@pytest.mark.slow
def test_a_hanging_engine_fails_the_example_at_the_timeout():
    """Without shrinking: every attempt that still hangs would cost the timeout again."""
    proc, output = _pytest("--backend", f"{CRASHING}:HangingAdapter", "--isolate-timeout",
                           "0.5", "--max-examples", "20", "-p", "tests.meta.no_shrinking",
                           "--hypothesis-profile", "no-shrinking")
    _failed_cleanly(proc, output)
    assert "hung: no answer within 0.5 s (--isolate-timeout)" in output, output
    assert "in die" in output and "torch.tanh(" in output, output


@pytest.mark.slow
def test_under_xdist_each_worker_isolates_its_engine():
    """Two workers, each with its own engine worker: the crashes fail their tests, the other
    test (a worked example: fixed programs, no exp) passes, no xdist worker goes down."""
    proc, output = _pytest("suites/test_ops.py::test_op[exp]",
                           "suites/test_worked_examples.py::test_one_weight_used_twice",
                           "--backend", f"{CRASHING}:AbortingAdapter", "--isolate",
                           "--max-examples", "20", workers=2)
    _failed_cleanly(proc, output)
    assert "2 failed, 1 passed" in output and "killed by SIGABRT" in output, output


@pytest.mark.slow
def test_a_working_engine_passes_isolated_as_in_process():
    proc, output = _pytest("--backend", "reference", "--isolate", "--max-examples", "30",
                           workers=2)
    assert proc.returncode == 0 and "1 passed" in output, output
    assert "isolation: the candidate runs in a worker process, 60 s an example" in output
    proc, output = _pytest("--backend", "reference", "--max-examples", "30")
    assert proc.returncode == 0 and "1 passed" in output, output
    assert "isolation: off" in output, output
