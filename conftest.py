"""pytest integration: `--backend`, Hypothesis profiles, capability skips, the report header.

The backend is chosen by `--backend NAME` or `GRADSPEC_BACKEND` (for CI matrices): a built-in
name (`torch`, `torch-cuda`, `reference`) or any importable `package.module:AdapterClass`.
"""
import os

import pytest
from hypothesis import HealthCheck, settings

from adapters.registry import BackendError, BackendUnavailable, load
from gradspec import backend as current, deviations

_COMMON = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much])
# ci: a fixed budget and derandomized (seeded from the test's name), so every run and every
# xdist worker explores the same programs and a failure replays from the test id alone.
settings.register_profile("ci", max_examples=60, derandomize=True, database=None, **_COMMON)
# dev: random exploration, failures saved to .hypothesis/ and replayed first next time.
settings.register_profile("dev", max_examples=100, **_COMMON)
settings.register_profile("thorough", max_examples=2000, **_COMMON)
settings.load_profile(os.environ.get("GRADSPEC_PROFILE", "ci"))


def pytest_addoption(parser):
    group = parser.getgroup("gradspec")
    group.addoption("--backend", default=None,
                    help="engine under test: torch (default), torch-cuda, reference, or "
                         "package.module:AdapterClass; also GRADSPEC_BACKEND")
    group.addoption("--deviations", default=None,
                    help="the backend's deviation file (default deviations/<backend>.py), or "
                         "'none' to report every difference as a failure")
    group.addoption("--gradspec-report", default=None, metavar="PATH",
                    help="write one JSON record per suite test (for the conformance matrix)")
    group.addoption("--max-examples", type=int, default=None,
                    help="override the Hypothesis profile's max_examples")


def _backend_spec(config):
    return config.getoption("--backend") or os.environ.get("GRADSPEC_BACKEND") or "torch"


def pytest_configure(config):
    config.addinivalue_line("markers", "needs(*capabilities): skip unless the backend has them")
    spec = _backend_spec(config)
    reference = load("reference")
    try:
        candidate = load(spec)
    except BackendError as exc:
        candidate = None
        config._gradspec_backend_error = str(exc)
        config._gradspec_unavailable = isinstance(exc, BackendUnavailable)
    dev_opt = config.getoption("--deviations")
    known = () if candidate is None or dev_opt == "none" else deviations.load(candidate.name, dev_opt)
    current.set_current(candidate, reference, known)
    report_path = config.getoption("--gradspec-report")
    if report_path:
        from gradspec.report import ReportPlugin
        config.pluginmanager.register(ReportPlugin(report_path, spec), "gradspec-report")
    n = config.getoption("--max-examples")
    if n:
        settings.register_profile("_cli", settings(settings.default, max_examples=n))
        settings.load_profile("_cli")


def pytest_report_header(config):
    cand = current.candidate()
    spec = _backend_spec(config)
    where = "--backend" if config.getoption("--backend") else (
        "GRADSPEC_BACKEND" if os.environ.get("GRADSPEC_BACKEND") else "default")
    lines = [f"gradspec backend: {spec} (from {where})"]
    if cand is None:
        lines.append(f"  NOT LOADED: {config._gradspec_backend_error}")
    else:
        lines.append(f"  {cand.describe()} [{type(cand).__module__}.{type(cand).__name__}]")
        lines.append(f"  capabilities: {', '.join(sorted(cand.capabilities))}")
        known = current.deviations()
        lines.append(f"  stated deviations: {', '.join(d.id for d in known) or 'none'}")
    prof = settings.default
    lines.append(f"hypothesis: max_examples={prof.max_examples} derandomize={prof.derandomize}"
                 f" (profile {os.environ.get('GRADSPEC_PROFILE', 'ci')}; "
                 f"GRADSPEC_PROFILE or --hypothesis-profile)")
    return lines


@pytest.fixture(scope="session")
def candidate(request):
    cand = current.candidate()
    if cand is None:
        pytest.skip(request.config._gradspec_backend_error)
    return cand


@pytest.fixture(scope="session")
def reference():
    return current.reference()


def pytest_collection_modifyitems(config, items):
    if current.candidate() is None:
        suites = [item for item in items if "suites" in str(item.fspath)]
        if getattr(config, "_gradspec_unavailable", False):
            for item in suites:  # a known backend that cannot run here: skipped, with why
                item.add_marker(pytest.mark.skip(reason=config._gradspec_backend_error))
        elif suites:
            raise pytest.UsageError(config._gradspec_backend_error)
        return
    caps = current.candidate().capabilities
    for item in items:
        for marker in item.iter_markers("needs"):
            missing = [c for c in marker.args if c not in caps]
            if missing:
                item.add_marker(pytest.mark.skip(
                    reason=f"{current.candidate().name} lacks {', '.join(missing)}"))
