"""The example database (harness/database.py) against a real redis-server: a failure found by
one process replays first in another; a read-only view replays without writing; a server lost
mid-run is one clear warning, and the local database keeps the example; bad specs and an
unreachable server at start are clear errors (through pytest's options too)."""
import json
import re
import socket

import pytest
from hypothesis.database import (DirectoryBasedExampleDatabase, MultiplexedDatabase,
                                 ReadOnlyDatabase)

from harness.database import (DatabaseError, ResilientDatabase, SharedDatabaseLost, describe,
                               open_database, shared_parts)
from tests.infra.redis_server import redis_server, run_pytest, run_python  # noqa: F401

# A tiny Hypothesis test, run in a fresh process: it fails for n >= 1000 (shrinking to 1000)
# and prints every n it tried; with KILL set, its first example kills the Redis server first.
PROGRAM = """
import json, os, signal, socket, sys, time, warnings
from hypothesis import given, settings, strategies as st
from harness.database import open_database

db = open_database(os.environ["DB"])
tried = []

def wait_until_refused(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            time.sleep(0.02)
        except OSError:
            return

@settings(database=db, max_examples=200, deadline=None)
@given(st.integers(0, 10**6))
def property_(n):
    if not tried and os.environ.get("KILL"):
        os.kill(int(os.environ["KILL"]), signal.SIGKILL)
        wait_until_refused(int(os.environ["PORT"]))
    tried.append(n)
    assert n < 1000

warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    try:
        property_()
        failed = False
    except AssertionError:
        failed = True
print(json.dumps({"failed": failed, "tried": tried,
                  "warnings": [str(w.message) for w in caught]}))
"""


def run_program(db, **env):
    code, out = run_python(PROGRAM, env=dict(DB=db, **{k: str(v) for k, v in env.items()}))
    assert code == 0, out
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_failure_written_by_one_process_replays_first_in_another(redis_server, tmp_path):
    first = run_program(f"dir:{tmp_path / 'machine1'}+{redis_server.url}")
    assert first["failed"] and first["tried"][-1] == 1000  # found, shrunk, saved
    assert redis_server.snapshot(), "nothing reached the shared database"
    # Another machine (its own empty local directory), read-only like a pull-request job:
    stored = redis_server.snapshot()
    second = run_program(f"dir:{tmp_path / 'machine2'}+ro:{redis_server.url}")
    assert second["failed"]
    assert second["tried"][0] == 1000, "the stored failure was not replayed first"
    assert set(second["tried"]) == {1000}  # and nothing else was needed (Hypothesis runs
    # the failing example once more to report it)
    assert redis_server.snapshot() == stored, "a read-only view wrote to the shared database"
    # ... which it now also keeps locally.
    third = run_program(f"dir:{tmp_path / 'machine2'}")
    assert third["tried"][0] == 1000


@pytest.mark.slow
def test_losing_the_server_mid_run_warns_and_loses_no_local_example(redis_server, tmp_path):
    local = f"dir:{tmp_path / 'local'}"
    run = run_program(f"{local}+{redis_server.url}", KILL=redis_server.proc.pid,
                      PORT=redis_server.port)
    assert redis_server.proc.wait(timeout=10) is not None  # the server really died
    assert run["failed"] and run["tried"][-1] == 1000  # the run went on: found and shrunk
    lost = [w for w in run["warnings"] if "stopped answering" in w]
    assert len(lost) == 1, run["warnings"]  # one clear warning, not one per call
    assert redis_server.url in lost[0] and "goes on without it" in lost[0]
    replay = run_program(local)  # the local database alone has the example
    assert replay["tried"][0] == 1000


@pytest.mark.slow
def test_pytest_replays_from_redis_through_the_option(redis_server, tmp_path):
    """The whole path: --gradspec-db wires the database into the suites' profile; a failure a
    broken engine shows on one machine replays first on the next."""
    args = ["suites/test_gradient_weights.py::test_nonscalar_backward_with_weights",
            "--backend=tests.mutants.zoo.broken:IgnoresGradientWeights", "--hypothesis-show-statistics"]
    code, out = run_pytest(*args, f"--gradspec-db=dir:{tmp_path / 'a'}+{redis_server.url}")
    assert code == 1 and "1 failed" in out, out[-3000:]
    assert f"example database: dir:{tmp_path / 'a'}+{redis_server.url}" in out
    code, out = run_pytest(*args, env={
        "GRADSPEC_DB": f"dir:{tmp_path / 'b'}+ro:{redis_server.url}"})
    assert code == 1, out[-3000:]
    reuse = out.split("during reuse phase", 1)[1].split("during", 1)[0]
    # "1 failing examples" (Hypothesis 6.155) or "1 failing, and 0 invalid test cases" (6.170)
    assert re.search(r"\b1 failing\b", reuse), out[-3000:]


def test_specs():
    assert open_database("none") is None
    local = open_database("local")
    assert isinstance(local, DirectoryBasedExampleDatabase)
    assert str(local.path).endswith(".hypothesis/examples")
    both = open_database("local+ro:dir:/tmp/x+y")
    assert isinstance(both, MultiplexedDatabase)
    assert isinstance(both._wrapped[1], ReadOnlyDatabase)
    assert str(both._wrapped[1]._wrapped.path) == "/tmp/x+y"  # a '+' inside a path stays
    assert describe("local+ro:redis://:hunter2@db:6379/0") == "local+ro:redis://:***@db:6379/0"


def test_shared_parts_are_resilient(redis_server, tmp_path):
    db = open_database(f"dir:{tmp_path}+ro:{redis_server.url}")
    (shared,) = shared_parts(db)
    assert isinstance(shared, ResilientDatabase)
    # One server is one database, however many clients: HypoFuzz needs each test's database
    # to equal the profile's, and its forked workers open the profile again.
    assert open_database(f"dir:{tmp_path}+ro:{redis_server.url}") == db
    redis_server.stop()
    with pytest.warns(SharedDatabaseLost):
        assert list(db.fetch(b"key")) == []
    db.save(b"key", b"value")  # no second warning, no exception
    assert shared.lost is not None
    assert list(db.fetch(b"key")) == [b"value"]  # the local part still works


@pytest.mark.parametrize("spec, message", [
    ("ftp://somewhere", "unknown example database 'ftp://somewhere'"),
    ("", "empty example database spec"),
    ("local+none", "'none' cannot be joined"),
    ("ro:none", "ro: needs a database"),
    ("dir:", "dir: needs a path"),
    ("redis://host:notaport/0", "not a Redis URL"),
])
def test_bad_specs_are_clear_errors(spec, message):
    with pytest.raises(DatabaseError, match=message):
        open_database(spec)


@pytest.mark.slow
def test_an_unreachable_server_at_start_is_a_clear_error():
    with socket.socket() as s:  # bound, never listening: connections are refused
        s.bind(("127.0.0.1", 0))
        url = f"redis://:secret@127.0.0.1:{s.getsockname()[1]}/0"
        with pytest.raises(DatabaseError) as info:
            open_database(f"local+{url}")
        assert "cannot reach the Redis example database" in str(info.value)
        assert "secret" not in str(info.value) and ":***@127.0.0.1" in str(info.value)
        code, out = run_pytest("suites/test_broadcasting.py", "--backend=reference", "--co",
                               env={"GRADSPEC_DB": url})
    assert code == 4, out  # a usage error, before any test runs
    assert "GRADSPEC_DB: cannot reach the Redis example database" in out
    assert "Traceback" not in out
