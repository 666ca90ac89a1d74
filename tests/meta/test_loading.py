"""Choosing a backend: every way of getting it wrong ends in one clear sentence, not a trace."""
import importlib.util
import os
import subprocess
import sys

import pytest

from adapters.base import Adapter, check_adapter
from adapters.registry import BUILTIN, BackendError, BackendUnavailable, adapter_class, load

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BROKEN = "tests.meta.broken"


def test_builtin_backends_load_and_pass_the_adapter_check():
    reference = load("reference")
    assert isinstance(reference, Adapter) and reference.name == "reference"
    check_adapter(reference)
    if importlib.util.find_spec("torch") is not None:
        assert load("torch").name == "torch"


def test_an_unknown_name_lists_the_valid_ones():
    with pytest.raises(BackendError) as info:
        load("nonsense")
    message = str(info.value)
    assert "'nonsense'" in message
    for name in BUILTIN:
        assert name in message
    assert "package.module:AdapterClass" in message


def test_a_missing_class_is_named():
    with pytest.raises(BackendError, match=r"adapters\.reference_adapter.*has no 'Missing'"):
        load("adapters.reference_adapter:Missing")


def test_a_missing_module_is_named():
    with pytest.raises(BackendError, match=r"cannot import 'no_such_package\.adapter'"):
        load("no_such_package.adapter:Adapter")


def test_a_missing_method_is_named():
    with pytest.raises(BackendError) as info:
        load(f"{BROKEN}:NoBackward")
    message = str(info.value)
    assert "missing methods: backward" in message
    assert "NoBackward" in message


def test_methods_a_capability_needs_are_named():
    with pytest.raises(BackendError) as info:
        load(f"{BROKEN}:NoHookMethod")
    message = str(info.value)
    for method in ("register_hook", "make_layer", "call_layer"):
        assert method in message
    assert "backward" not in message.replace("register_hook", "")


def test_an_unknown_capability_is_named_with_the_known_ones():
    with pytest.raises(BackendError, match=r"unknown capabilities: time_travel \(known: .*"
                                           r"custom_function"):
        load(f"{BROKEN}:UnknownCapability")


def test_an_adapter_without_ops_is_refused():
    with pytest.raises(BackendError, match="`ops` is empty"):
        load(f"{BROKEN}:NoOps")


def test_torch_cuda_without_cuda_is_a_backend_error():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(BackendUnavailable, match="CUDA"):
        load("torch-cuda")


def _pytest(*args):
    env = {k: v for k, v in os.environ.items() if k != "GRADSPEC_BACKEND"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("spec, expected", [
    ("nonsense", "unknown backend 'nonsense': use one of "),
    (f"{BROKEN}:NoBackward", "missing methods: backward"),
])
def test_pytest_with_a_bad_backend_stops_with_the_message(spec, expected):
    proc = _pytest("suites/test_broadcasting.py", "--backend", spec)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert expected in output, output
    assert "Traceback" not in output and "INTERNALERROR" not in output, output
    assert " passed" not in output and " failed" not in output, output


@pytest.mark.parametrize("spec, expected", [
    ("nonsense", "unknown backend 'nonsense': use one of "),
    (f"{BROKEN}:NoBackward", "missing methods: backward"),
])
@pytest.mark.slow
def test_under_xdist_a_bad_backend_stops_before_the_workers(spec, expected):
    """A worker stopping at collection would crash (INTERNALERROR): the controller stops."""
    env = {k: v for k, v in os.environ.items() if k != "GRADSPEC_BACKEND"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2",
                           "suites/test_broadcasting.py", "--backend", spec],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 4, output  # pytest's usage error
    assert expected in output, output
    assert "Traceback" not in output and "INTERNALERROR" not in output, output


@pytest.mark.parametrize("dist, scheduler", [((), "WorkStealingScheduling"),
                                              (("--dist", "load"), "LoadScheduling")])
@pytest.mark.slow
def test_the_xdist_controller_leaves_a_built_in_engine_to_its_workers(dist, scheduler):
    """...and `-n N` alone steals work (idle workers take from busy ones), while an explicit
    `--dist` is kept."""
    env = {k: v for k, v in os.environ.items() if k not in ("GRADSPEC_BACKEND", "PYTEST_ADDOPTS")}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-v", "-n", "2", *dist,
                           "suites/test_broadcasting.py", "--backend", "reference"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "[adapters.reference_adapter.ReferenceAdapter], loaded by each xdist worker" \
        in output, output
    assert "capabilities: " in output and "stated deviations: none" in output, output
    assert f"scheduling tests via {scheduler}" in output, output


def test_the_environment_variable_is_read_too():
    env = dict(os.environ, GRADSPEC_BACKEND="nonsense")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist",
                           "suites/test_broadcasting.py"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "unknown backend 'nonsense'" in proc.stdout + proc.stderr


@pytest.mark.parametrize("spec", [s for s, (_, _, kwargs) in BUILTIN.items() if not kwargs])
def test_the_header_an_xdist_controller_prints_is_the_loaded_adapters(spec):
    """The controller describes a built-in backend from its class: the class must say what an
    instance says (name and capabilities)."""
    try:
        adapter = load(spec)
    except BackendUnavailable as exc:
        pytest.skip(str(exc))
    cls, _ = adapter_class(spec)
    assert (spec, cls.capabilities) == (adapter.name, adapter.capabilities)
