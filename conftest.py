"""pytest integration: `--backend`, Hypothesis profiles, capability skips, the report header,
the example database (`--gradspec-db`) and shards (`--shard`).

The backend is chosen by `--backend NAME` or `GRADSPEC_BACKEND` (for CI matrices): a built-in
name (`torch`, `torch-cuda`, `reference`) or any importable `package.module:AdapterClass`.
"""
import os
import shlex
import sys

import pytest

from harness.pytest_private import import_hypothesis_unrewritten

import_hypothesis_unrewritten()  # before anything imports Hypothesis
from hypothesis import HealthCheck, settings  # noqa: E402

from adapters.registry import (BUILTIN, BackendError, BackendUnavailable, adapter_class,
                               engine_version, load)
from harness import deviations
from harness import backend as current, heap
from strategies.hypothesis_private import key_by_node, pin_constant_pool

_COMMON = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much])
# ci: a fixed budget and derandomized (seeded from the test's name), so every run and every
# xdist worker explores the same programs and a failure replays from the test id alone.
settings.register_profile("ci", max_examples=60, derandomize=True, database=None, **_COMMON)
# dev: random exploration, failures saved to .hypothesis/ and replayed first next time.
settings.register_profile("dev", max_examples=100, **_COMMON)
settings.register_profile("thorough", max_examples=2000, **_COMMON)
# soundness: what `python -m harness.soundness` explores with (random programs from the seed
# it passes, budget from --max-examples); no database, so each seed's run stands alone.
settings.register_profile("soundness", max_examples=100, database=None, **_COMMON)
# campaign: what HypoFuzz fuzzes (`python -m harness.campaign`); chosen by default under it.
settings.register_profile("campaign", max_examples=100, **_COMMON)


def _in_hypofuzz():
    detection = sys.modules.get("hypofuzz.detection")  # imported by Hypothesis when installed
    return detection is not None and detection.in_hypofuzz_run()


def _profile_name():
    return os.environ.get("GRADSPEC_PROFILE") or ("campaign" if _in_hypofuzz() else "ci")


settings.load_profile(_profile_name())
# A derandomized test's programs depend on the test alone, not on what else was imported.
pin_constant_pool()


def pytest_addoption(parser):
    group = parser.getgroup("gradspec")
    group.addoption("--backend", default=None,
                    help="engine under test: torch (default), torch-cuda, reference, or "
                         "package.module:AdapterClass; also GRADSPEC_BACKEND")
    group.addoption("--allow-unavailable", action="store_true", default=False,
                    help="a backend that cannot run here (package not installed or failing to "
                         "import, no GPU) skips its suites with the reason instead of failing "
                         "the run; also GRADSPEC_ALLOW_UNAVAILABLE=1")
    group.addoption("--isolate", action="store_true", default=False,
                    help="run the candidate in a worker process, so that a crash or a hang "
                         "fails the example instead of the run; also GRADSPEC_ISOLATE=1")
    group.addoption("--isolate-timeout", type=float, default=None, metavar="SECONDS",
                    help="with --isolate (implies it): an example that takes longer is a hang "
                         "(default 60)")
    group.addoption("--every-difference", action="store_true", default=False,
                    help="report one shrunk program for each distinct kind of difference a "
                         "test finds, not only the first (drafting a new engine's deviation "
                         "file); also GRADSPEC_EVERY_DIFFERENCE=1")
    group.addoption("--dtype", default=None, choices=("float32", "float64"),
                    help="draw programs in this dtype only (default: every dtype the backend "
                         "has); also GRADSPEC_DTYPE")
    group.addoption("--deviations", action="append", default=None, metavar="PATH[,PATH]",
                    help="deviation files judged with after the backend's own (default "
                         "deviations/<backend>.py, or its adapter's parent's), in order; "
                         "repeatable; 'none' drops the files before it; also "
                         "GRADSPEC_DEVIATIONS")
    group.addoption("--gradspec-report", default=None, metavar="PATH",
                    help="write one JSON record per suite test (for the conformance matrix)")
    group.addoption("--max-examples", type=int, default=None,
                    help="override the Hypothesis profile's max_examples")
    group.addoption("--gradspec-db", default=None, metavar="SPEC",
                    help="where failing examples are kept and replayed first: local, dir:PATH, "
                         "redis://HOST:PORT/N, ro:SPEC (read-only), A+B (both), none; also "
                         "GRADSPEC_DB (default: the profile's own)")
    group.addoption("--search", default=None, metavar="WAY[,WAY]",
                    help="how programs are searched for beyond plain random draws: swarm "
                         "(each program first draws which features it uses) and/or target "
                         "(Hypothesis's target() on structural features); not under the "
                         "derandomized ci profile; also GRADSPEC_SEARCH")
    group.addoption("--gradspec-campaign-seed", type=int, default=None, metavar="N",
                    help="seed the source every random test's seed is drawn from (a "
                         "repeatable plain-Hypothesis campaign round; unlike "
                         "--hypothesis-seed, each test draws its own and the example "
                         "database keeps what fails)")
    group.addoption("--shard", default=None, metavar="I/N",
                    help="run shard I of N (1-based) of the collected tests, split "
                         "deterministically by node id; also GRADSPEC_SHARD")


def _backend_spec(config):
    return config.getoption("--backend") or os.environ.get("GRADSPEC_BACKEND") or "torch"


def _skips_unavailable(config):
    """Does the backend's failure to load skip its suites (a backend that cannot run here,
    skips asked for) rather than stop the run?"""
    allowed = config.getoption("--allow-unavailable") or \
        os.environ.get("GRADSPEC_ALLOW_UNAVAILABLE", "").strip() not in ("", "0")
    return getattr(config, "_gradspec_unavailable", False) and allowed


def _backend_failure(config):
    """Why the run stops: the backend's error, and for one that cannot run here, how to skip."""
    message = config._gradspec_backend_error
    if getattr(config, "_gradspec_unavailable", False):
        message += (" (pass --allow-unavailable or set GRADSPEC_ALLOW_UNAVAILABLE=1 to skip "
                    "its suites instead)")
    return message


def _deviation_paths(config):
    """GRADSPEC_DEVIATIONS's files, then --deviations' (each comma-separated)."""
    return deviations.split_paths([os.environ.get(deviations.ENV, "")]
                                  + (config.getoption("--deviations") or []))


@pytest.hookimpl(trylast=True)  # after Hypothesis's plugin has loaded --hypothesis-profile
def pytest_configure(config):
    config.addinivalue_line("markers", "needs(*capabilities): skip unless the backend has them")
    config.addinivalue_line("markers", "needs_any(*capabilities): skip unless the backend has "
                            "one of them (the strategies draw only what it has)")
    config.addinivalue_line("markers", "slow: takes a second or more (fresh interpreters, an "
                            "engine's compiler); run first under -n (harness/schedule.py)")
    controller = _xdist_controller(config)
    if controller and config.option.dist == "load" and not _dist_given(config):
        # `-n N` alone: idle workers take half of a busy one's queue. With `load`, the queue
        # a worker was sent last could hold long suite tests while the other sat idle (28 s
        # of a 123 s run on a 2-core machine); `--dist` on the command line still decides.
        config.option.dist = "worksteal"
    spec = _backend_spec(config)
    reference = load("reference")
    candidate = name = None
    try:
        if controller and spec in BUILTIN and not BUILTIN[spec][2]:
            # The workers load the backend and run every test; the controller only prints
            # the header and gathers their results. Loading the engine here (torch: about
            # 1.5 s) would hold back every worker's start. A built-in adapter is complete,
            # and whether its package is installed is known without importing it; any other
            # adapter is loaded and checked here, so that a bad one stops the run, and so is
            # torch-cuda, whose GPU only torch can find.
            config._gradspec_loaded_by_workers, _ = adapter_class(spec)
            name = spec
        else:
            candidate = load(spec)
            name = candidate.name
    except BackendError as exc:
        config._gradspec_backend_error = str(exc)
        config._gradspec_unavailable = isinstance(exc, BackendUnavailable)
        if controller and not _skips_unavailable(config):
            # A worker stopping at collection would crash it (xdist: INTERNALERROR): the
            # controller stops the run first, with the message.
            raise pytest.UsageError(_backend_failure(config)) from None
    known, config._gradspec_deviation_files = (), []
    if name is not None:
        cls = getattr(config, "_gradspec_loaded_by_workers", None) or type(candidate)
        try:
            config._gradspec_deviation_files, known = deviations.for_backend(
                name, cls, _deviation_paths(config))
        except deviations.DeviationFileError as exc:
            raise pytest.UsageError(f"--deviations / {deviations.ENV}: {exc}") from None
    current.set_current(candidate, reference, known)
    current.set_dtypes(_dtypes(config))
    current.set_every_difference(config.getoption("--every-difference")
                                 or os.environ.get("GRADSPEC_EVERY_DIFFERENCE") == "1")
    _set_search(config)
    _start_isolation(config, spec, candidate, controller)
    report_path = config.getoption("--gradspec-report")
    if report_path:
        from harness.report import ReportPlugin
        config.pluginmanager.register(ReportPlugin(report_path, spec), "gradspec-report")
    from harness import shards
    shard_spec = config.getoption("--shard") or os.environ.get("GRADSPEC_SHARD") or "1/1"
    try:
        config.pluginmanager.register(shards.ShardPlugin(*shards.parse(shard_spec)),
                                      "gradspec-shards")
    except shards.ShardError as exc:
        raise pytest.UsageError(f"--shard / GRADSPEC_SHARD: {exc}") from None
    from harness.schedule import SlowFirst  # under xdist: the slow tests first
    config.pluginmanager.register(SlowFirst(config), "gradspec-order")
    _override_profile(config)


def _set_search(config):
    spec = config.getoption("--search") or os.environ.get("GRADSPEC_SEARCH", "")
    ways = tuple(w.strip() for w in spec.split(",") if w.strip())
    unknown = [w for w in ways if w not in current.SEARCH_WAYS]
    if unknown:
        raise pytest.UsageError(f"--search / GRADSPEC_SEARCH: unknown way {unknown[0]!r} "
                                f"(known: {', '.join(current.SEARCH_WAYS)})")
    current.set_search(ways)


def _dtypes(config):
    """The dtypes programs are drawn in (--dtype, GRADSPEC_DTYPE), or () for the backend's own."""
    dtype = config.getoption("--dtype") or os.environ.get("GRADSPEC_DTYPE", "").strip()
    if dtype and dtype not in ("float32", "float64"):
        raise pytest.UsageError(f"GRADSPEC_DTYPE must be float32 or float64, not {dtype!r}")
    return (dtype,) if dtype else ()


def _isolation(config):
    """(on, seconds an example) from --isolate, --isolate-timeout and GRADSPEC_ISOLATE."""
    from harness.isolate import DEFAULT_TIMEOUT
    timeout = config.getoption("--isolate-timeout")
    if timeout is not None and timeout <= 0:
        raise pytest.UsageError(f"--isolate-timeout must be positive, not {timeout:g}")
    on = config.getoption("--isolate") or timeout is not None or \
        os.environ.get("GRADSPEC_ISOLATE", "").strip() not in ("", "0")
    return on, timeout or DEFAULT_TIMEOUT


def _start_isolation(config, spec, candidate, controller):
    """Under --isolate, each process that runs tests (not the xdist controller) gets its own
    worker; it starts loading the engine now, while the tests are collected."""
    on, timeout = _isolation(config)
    if on and candidate is not None and not controller:
        from harness.isolate import IsolatedCandidate
        runner = config._gradspec_isolated = IsolatedCandidate(spec, timeout, candidate.name)
        current.set_isolated(runner)
        if not config.option.collectonly:
            runner.start()


def _xdist_controller(config):
    """Will this process be pytest-xdist's controller (`-n N`), which collects and runs no
    test itself? (xdist's own condition for starting workers; never under --collect-only.)"""
    option = config.option
    return (getattr(option, "dist", "no") != "no" and bool(getattr(option, "tx", None))
            and not option.collectonly and not hasattr(config, "workerinput"))


def _dist_given(config):
    """Did the command line (or PYTEST_ADDOPTS) choose xdist's --dist?"""
    args = [*config.invocation_params.args, *shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))]
    return any(a in ("--dist", "-d") or a.startswith("--dist=") for a in args)


def _db_spec(config):
    spec = config.getoption("--gradspec-db") or os.environ.get("GRADSPEC_DB") or ""
    return spec.strip() or None  # blank (e.g. a CI variable left empty): the profile's own


def _override_profile(config):
    """Command-line overrides of the loaded profile: --max-examples and the database."""
    overrides = {}
    n = config.getoption("--max-examples")
    if n:
        overrides["max_examples"] = n
    db_spec = _db_spec(config)
    if db_spec:
        from harness.database import DatabaseError, open_database
        try:
            overrides["database"] = open_database(db_spec)
        except DatabaseError as exc:
            raise pytest.UsageError(f"--gradspec-db / GRADSPEC_DB: {exc}") from None
        # Hypothesis uses no database when derandomized: with one chosen, the ci profile
        # keeps its budget but draws random programs, after replaying the stored failures.
        overrides["derandomize"] = False
    if overrides:
        settings.register_profile("_cli", settings(settings.default, **overrides))
        settings.load_profile("_cli")
    if current.search() and settings.default.derandomize:
        raise pytest.UsageError(
            f"--search {','.join(current.search())}: the derandomized profile "
            f"{_profile_name()!r} keeps CI's programs fixed; choose a random profile "
            f"(--hypothesis-profile dev, or a campaign)")
    if _in_hypofuzz() and settings.default.derandomize:
        raise pytest.UsageError(
            f"HypoFuzz cannot fuzz the derandomized profile {_profile_name()!r}: unset "
            f"GRADSPEC_PROFILE (the campaign profile is the default under HypoFuzz)")
    if _in_hypofuzz():  # HypoFuzz runs the tests itself: pyproject's filterwarnings, again
        import warnings
        warnings.filterwarnings("ignore", "Full backward hook is firing", UserWarning)
    if os.environ.get("GRADSPEC_CAMPAIGN_COUNTS"):  # under a campaign (harness/campaign.py)
        from harness.campaign import install_counter  # programs/s for the campaign's summary
        install_counter(os.environ["GRADSPEC_CAMPAIGN_COUNTS"])
    if os.environ.get("GRADSPEC_CAMPAIGN_FAILURES"):  # its plain-Hypothesis rounds
        from harness.fuzzers import install_failure_log
        install_failure_log(config, os.environ["GRADSPEC_CAMPAIGN_FAILURES"])
    seed = config.getoption("--gradspec-campaign-seed")
    if seed is not None:
        from strategies.hypothesis_private import seed_test_seeds
        seed_test_seeds(seed)
    if _in_hypofuzz():
        from harness.coverage_limits import install_from_env
        install_from_env()  # what HypoFuzz traces (--coverage)


def pytest_report_header(config):
    cand = current.candidate()
    spec = _backend_spec(config)
    where = "--backend" if config.getoption("--backend") else (
        "GRADSPEC_BACKEND" if os.environ.get("GRADSPEC_BACKEND") else "default")
    lines = [f"gradspec backend: {spec} (from {where})"]
    by_workers = getattr(config, "_gradspec_loaded_by_workers", None)
    if cand is None and by_workers is None:
        lines.append(f"  NOT LOADED: {config._gradspec_backend_error}")
    else:
        cls = by_workers or type(cand)
        if cand is not None:
            lines.append(f"  {cand.describe()} [{cls.__module__}.{cls.__name__}]")
        else:
            version = engine_version(spec)
            lines.append(f"  {spec}{f' {version}' if version else ''} "
                         f"[{cls.__module__}.{cls.__name__}], loaded by each xdist worker")
        lines.append(f"  capabilities: {', '.join(sorted(cls.capabilities))}")
        known = current.deviations()
        files = ", ".join(map(deviations.shown, config._gradspec_deviation_files))
        lines.append(f"  stated deviations ({files or 'no file'}): "
                     f"{', '.join(d.id for d in known) or 'none'}")
    on, timeout = _isolation(config)
    lines.append(f"isolation: the candidate runs in a worker process, {timeout:g} s an example "
                 f"(--isolate, --isolate-timeout)" if on else
                 "isolation: off (--isolate runs the candidate in a worker process: a crash or "
                 "a hang fails one example)")
    prof = settings.default
    lines.append(f"hypothesis: max_examples={prof.max_examples} derandomize={prof.derandomize}"
                 f" (profile {config.getoption('--hypothesis-profile') or _profile_name()}; "
                 f"GRADSPEC_PROFILE or --hypothesis-profile)")
    db_spec = _db_spec(config)
    if db_spec:
        from harness.database import describe
        lines.append(f"example database: {describe(db_spec)} (from "
                     f"{'--gradspec-db' if config.getoption('--gradspec-db') else 'GRADSPEC_DB'})"
                     f"; failures stored there are replayed first")
    else:
        lines.append(f"example database: {prof.database!r} (the profile's own; "
                     f"--gradspec-db or GRADSPEC_DB)")
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


def pytest_runtest_setup(item):
    if getattr(item.config, "_gradspec_fail_suites", False) and _is_conformance(item):
        pytest.fail(_backend_failure(item.config), pytrace=False)


def _is_conformance(item):
    """A suite test, or one of the campaign's op targets (suites/campaign_targets.py)."""
    path = str(item.fspath)
    return "suites" in path or path.endswith("campaign_targets.py")


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    heap.settle()  # what is collected lives until exit: out of the collector's walks


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    runner = getattr(config, "_gradspec_isolated", None)
    if runner is not None:  # no worker outlives the run
        runner.close()
    heap.before_exit()  # the run is over: exit without walking its objects


def pytest_collection_modifyitems(config, items):
    if not settings.default.derandomize:
        # One example-database key per test node, as HypoFuzz keys what it finds and as
        # Hypothesis already keys parametrized cases: a failure found by a campaign then
        # replays under plain pytest. (Derandomized runs use no database; their seeds, which
        # the key would change, stay as they are.)
        key_by_node(items)
    if current.candidate() is None:
        suites = [item for item in items if _is_conformance(item)]
        if _skips_unavailable(config):
            for item in suites:  # a known backend that cannot run here: skipped, with why
                item.add_marker(pytest.mark.skip(reason=config._gradspec_backend_error))
        elif suites and hasattr(config, "workerinput"):
            # Found by the workers only (a built-in engine whose import fails): stopping a
            # worker here would crash it (INTERNALERROR); each suite test fails with the reason.
            config._gradspec_fail_suites = True
        elif suites:
            raise pytest.UsageError(_backend_failure(config))
        return
    caps = current.candidate().capabilities
    for item in items:
        for marker in item.iter_markers("needs"):
            missing = [c for c in marker.args if c not in caps]
            if missing:
                item.add_marker(pytest.mark.skip(
                    reason=f"{current.candidate().name} lacks {', '.join(missing)}"))
        for marker in item.iter_markers("needs_any"):
            if not set(marker.args) & set(caps):
                item.add_marker(pytest.mark.skip(
                    reason=f"{current.candidate().name} lacks all of {', '.join(marker.args)}"))
