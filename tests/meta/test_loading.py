"""Choosing a backend: every way of getting it wrong ends in one clear sentence, not a trace."""
import importlib.util
import os
import subprocess
import sys

import pytest

from gradspec.adapter import Adapter, check_adapter
from adapters.registry import BUILTIN, BackendError, BackendUnavailable, load

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BROKEN = "tests.mutants.zoo.broken"


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
    with pytest.raises(BackendError, match=r"gradspec\.reference_adapter.*has no 'Missing'"):
        load("gradspec.reference_adapter:Missing")


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


def test_an_inplace_capability_needs_its_method():
    with pytest.raises(BackendError, match="missing methods: inplace"):
        load(f"{BROKEN}:InplaceWithoutMethod")


@pytest.mark.parametrize("adapter, capability, an_op", [
    ("InplaceWithoutOps", "inplace", "masked_fill_"),
    ("MultiOutputWithoutOps", "multi_output", "max_dim"),
])
def test_a_capability_with_none_of_its_ops_is_refused(adapter, capability, an_op):
    """Its suite would draw no step of it, and pass having checked nothing."""
    with pytest.raises(BackendError) as info:
        load(f"{BROKEN}:{adapter}")
    message = str(info.value)
    assert f"capability {capability!r} without any of its ops" in message
    assert an_op in message


def _missing_engine_adapter(directory):
    """An adapter module whose engine package is not installed: importing it raises
    ModuleNotFoundError for the engine, not for the module itself."""
    (directory / "gradspec_fake_engine_adapter.py").write_text(
        "import gradspec_absent_engine  # noqa: F401 - not installed anywhere\n"
        "from gradspec.reference_adapter import ReferenceAdapter as Adapter\n")
    return "gradspec_fake_engine_adapter:Adapter"


def test_a_missing_engine_package_makes_the_backend_unavailable(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(BackendUnavailable) as info:
        load(_missing_engine_adapter(tmp_path))
    message = str(info.value)
    assert "needs the 'gradspec_absent_engine' package, which is not installed" in message
    assert "gradspec_fake_engine_adapter" in message


def test_an_engine_whose_import_fails_is_named_with_the_exception():
    """A broken install (the constructor's `import engine` raises) is one sentence naming the
    backend and the exception, not a traceback; anything else the constructor raises is a
    BackendError that no option skips."""
    with pytest.raises(BackendUnavailable) as info:
        load(f"{BROKEN}:EngineImportFails")
    message = str(info.value)
    assert f"backend '{BROKEN}:EngineImportFails' cannot run here" in message
    assert "ImportError: simulated broken install" in message
    with pytest.raises(BackendError) as info:
        load(f"{BROKEN}:EngineStartFails")
    assert not isinstance(info.value, BackendUnavailable)
    assert "EngineStartFails raised RuntimeError: simulated crash" in str(info.value)


def test_torch_cuda_without_cuda_is_a_backend_error():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(BackendUnavailable, match="CUDA"):
        load("torch-cuda")


def _env(**extra):
    """This process's environment without the variables that choose the backend's handling."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("GRADSPEC_BACKEND", "GRADSPEC_ALLOW_UNAVAILABLE")}
    return {**env, **extra}


def _pytest(*args, env=None, workers=None):
    dist = ("-p", "no:xdist") if workers is None else ("-n", str(workers))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", *dist, *args],
                          cwd=ROOT, env=env or _env(), capture_output=True, text=True,
                          timeout=300)


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
    proc = _pytest("suites/test_broadcasting.py", "--backend", spec, workers=2)
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
    assert "[gradspec.reference_adapter.ReferenceAdapter], loaded by each xdist worker" \
        in output, output
    assert "capabilities: " in output and "stated deviations (no file): none" in output, output
    assert f"scheduling tests via {scheduler}" in output, output


def test_the_environment_variable_is_read_too():
    env = dict(os.environ, GRADSPEC_BACKEND="nonsense")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist",
                           "suites/test_broadcasting.py"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "unknown backend 'nonsense'" in proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("spec", [s for s, (_, _, kwargs) in BUILTIN.items() if not kwargs])
def test_the_header_an_xdist_controller_prints_is_the_loaded_adapters(spec):
    """The controller describes a built-in backend from its class: the class must say what an
    instance says (name and capabilities). In a fresh interpreter: some engines cannot share
    one (tensorflow then paddle segfaults)."""
    code = ("import sys\n"
            "from adapters.registry import BackendUnavailable, adapter_class, load\n"
            f"try:\n    adapter = load({spec!r})\n"
            "except BackendUnavailable as exc:\n    print(exc); sys.exit(3)\n"
            f"cls, _ = adapter_class({spec!r})\n"
            f"assert ({spec!r}, cls.capabilities) == (adapter.name, adapter.capabilities), "
            "(adapter.name, cls.capabilities ^ adapter.capabilities)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=ROOT))
    if proc.returncode == 3:
        pytest.skip(proc.stdout.strip())
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


# ----- a backend that cannot run here: the run fails unless skips are asked for ------------
def _not_silent(proc, *expected):
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    for text in expected:
        assert text in output, output
    assert "INTERNALERROR" not in output and " passed" not in output, output
    assert " skipped" not in output, output


def _skipped(proc, *expected):
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "1 skipped" in output and " passed" not in output, output
    for text in expected:
        assert text in output, output


@pytest.mark.parametrize("workers", [None, pytest.param(2, marks=pytest.mark.slow)],
                         ids=["serial", "xdist"])
def test_a_backend_whose_package_is_missing_fails_the_run(tmp_path, workers):
    spec = _missing_engine_adapter(tmp_path)
    env = _env(PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    proc = _pytest("suites/test_broadcasting.py", "--backend", spec, env=env, workers=workers)
    _not_silent(proc, "needs the 'gradspec_absent_engine' package", "--allow-unavailable")
    assert "Traceback" not in proc.stdout + proc.stderr
    # Skips asked for: today's behaviour, each suite test skipped with the reason.
    proc = _pytest("suites/test_broadcasting.py", "--backend", spec, "-rs",
                   "--allow-unavailable", env=env, workers=workers)
    _skipped(proc, "needs the 'gradspec_absent_engine' package")
    proc = _pytest("suites/test_broadcasting.py", "--backend", spec, "-rs",
                   env={**env, "GRADSPEC_ALLOW_UNAVAILABLE": "1"}, workers=workers)
    _skipped(proc, "needs the 'gradspec_absent_engine' package")


def _broken_jax(directory):
    """A `jax` package, first on the path, whose import fails as a broken install's does:
    `find_spec("jax")` finds it, so only constructing the adapter (in each xdist worker for a
    built-in backend) meets the failure."""
    (directory / "jax").mkdir()
    (directory / "jax" / "__init__.py").write_text(
        'raise ImportError("simulated broken install: libjax.so: cannot open shared object")\n')
    return _env(PYTHONPATH=os.pathsep.join([str(directory), os.environ.get("PYTHONPATH", "")]))


@pytest.mark.parametrize("workers", [None, pytest.param(2, marks=pytest.mark.slow)],
                         ids=["serial", "xdist"])
def test_a_built_in_engine_whose_import_fails_fails_the_run(tmp_path, workers):
    env = _broken_jax(tmp_path)
    proc = _pytest("suites/test_broadcasting.py", "--backend", "jax", env=env, workers=workers)
    _not_silent(proc, "backend 'jax' cannot run here: importing its engine (package 'jax') "
                      "failed: ImportError: simulated broken install")
    proc = _pytest("suites/test_broadcasting.py", "--backend", "jax", "-rs",
                   "--allow-unavailable", env=env, workers=workers)
    _skipped(proc, "ImportError: simulated broken install")


def test_the_matrix_asks_for_skips(tmp_path, monkeypatch):
    """A matrix cell says "skip: reason" for an engine not installed here: its pytest runs
    are given --allow-unavailable."""
    from harness import matrix
    commands = []

    def fake_run(cmd, **kwargs):
        commands.append(cmd)
        path = next(a for a in cmd if a.startswith("--gradspec-report=")).split("=", 1)[1]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "w").close()
        return subprocess.CompletedProcess(cmd, 0, "", "")
    monkeypatch.setattr(matrix.subprocess, "run", fake_run)
    matrix.run_backend("torch-cuda", str(tmp_path), "2", 5)
    assert "--allow-unavailable" in commands[0] and "--backend=torch-cuda" in commands[0]
