"""Where Hypothesis keeps failing examples and replays them first: `--gradspec-db SPEC` or
`GRADSPEC_DB=SPEC`.

    local                   .hypothesis/examples in the checkout (Hypothesis's own default)
    dir:PATH                a directory of your choosing
    redis://HOST:PORT/N     a Redis server shared by CI jobs, developers and campaign machines
                            (also rediss://... and unix:///path/to/redis.sock)
    ro:SPEC                 a read-only view of SPEC: replays its examples, never writes
                            (pull-request jobs: they must not pollute the shared database)
    A+B                     both: every example is saved to each and fetched from either
                            (local+redis://..., or local+ro:redis://... for a PR job)
    none                    no database

A shared database that cannot be reached at start is an error (`DatabaseError`, a clear
message naming the URL). One that stops answering during a run (the server killed, the
network gone) gives one `SharedDatabaseLost` warning and is left out for the rest of that run:
the run goes on with the other databases, and the local directory still holds every example
the run saved.
"""
import re
import urllib.parse
import warnings

from hypothesis import settings
from hypothesis.database import (DirectoryBasedExampleDatabase, ExampleDatabase,
                                 MultiplexedDatabase, ReadOnlyDatabase)

GRAMMAR = ("local, dir:PATH, redis://HOST:PORT/DB (or rediss://, unix://), none, "
           "ro:SPEC (read-only), or several joined with '+' (e.g. local+ro:redis://host:6379/0)")
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
# A '+' joins two specs only where a spec starts, so a '+' inside a path or password stays.
_JOIN = re.compile(r"\+(?=(?:ro:)?(?:local$|local\+|none$|dir:|redis://|rediss://|unix://))")


class DatabaseError(Exception):
    """A database spec that is malformed, or a shared database that cannot be reached."""


class SharedDatabaseLost(UserWarning):
    """A shared database stopped answering mid-run; the run goes on without it."""


def masked(url):
    """`url` with any password replaced by ***, for messages and report headers."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def describe(spec):
    """The spec as it may be printed (passwords masked)."""
    return "+".join(("ro:" if p.startswith("ro:") else "") + masked(p.removeprefix("ro:"))
                    for p in _JOIN.split(spec))


class ResilientDatabase(ExampleDatabase):
    """A shared database whose connection errors become one warning and an absent database:
    fetches find nothing and saves are dropped for the rest of the process."""

    def __init__(self, db, url, errors):
        super().__init__()
        self._db, self.url, self.label, self._errors = db, url, masked(url), errors
        self.lost = None  # the exception that took it out, once one has

    def __repr__(self):
        return f"ResilientDatabase({self.label})"

    def __eq__(self, other):
        # By URL: one server is one database, however many clients were opened on it (HypoFuzz
        # requires each test's database to equal the profile's, and its forked workers open
        # the profile again).
        return isinstance(other, ResilientDatabase) and other.url == self.url

    def __hash__(self):
        return hash(self.url)

    def _lose(self, exc):
        if self.lost is None:
            self.lost = exc
            warnings.warn(SharedDatabaseLost(
                f"gradspec: the shared example database {self.label} stopped answering "
                f"({type(exc).__name__}: {exc}). This run goes on without it: its failing "
                f"examples are kept by the local database only, and stored examples are not "
                f"replayed from the shared one. Restart the server and run again."),
                stacklevel=3)

    def _call(self, method, *args):
        if self.lost is not None:
            return None
        try:
            return getattr(self._db, method)(*args)
        except self._errors as exc:
            self._lose(exc)
            return None

    def fetch(self, key):
        if self.lost is not None:
            return []
        try:
            return list(self._db.fetch(key))  # a generator: errors come while iterating
        except self._errors as exc:
            self._lose(exc)
            return []

    def save(self, key, value):
        self._call("save", key, value)

    def delete(self, key, value):
        self._call("delete", key, value)

    def move(self, src, dest, value):
        self._call("move", src, dest, value)

    def _start_listening(self):
        self._call("add_listener", self._broadcast_change)

    def _stop_listening(self):
        self._call("remove_listener", self._broadcast_change)


def redis_database(url, check=True):
    """A RedisExampleDatabase on `url`, reached once now (unless not `check`), wrapped so that
    losing the server later is a warning."""
    try:
        import redis
        from hypothesis.extra.redis import RedisExampleDatabase
        from redis.backoff import ExponentialBackoff
        from redis.retry import Retry
    except ImportError as exc:
        raise DatabaseError(f"{masked(url)}: the 'redis' package is needed for a Redis "
                            f"example database (pip install redis): {exc}") from exc
    try:
        # A dead server should cost a second, not redis-py's default ten retries.
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10,
                                      retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), 2))
    except ValueError as exc:
        raise DatabaseError(f"{masked(url)}: not a Redis URL ({exc}); expected "
                            f"redis://HOST:PORT/DB, rediss://... or unix:///path") from exc
    if check:
        try:
            client.ping()
        except (redis.RedisError, OSError) as exc:
            raise DatabaseError(
                f"cannot reach the Redis example database {masked(url)} "
                f"({type(exc).__name__}: {exc}). Start the server or fix the URL, or choose "
                f"another database: GRADSPEC_DB=local") from exc
    return ResilientDatabase(RedisExampleDatabase(client), url, (redis.RedisError, OSError))


def _one(spec, check):
    if spec.startswith("ro:"):
        inner = spec.removeprefix("ro:")
        if inner in ("none", "") or inner.startswith("ro:"):
            raise DatabaseError(f"{spec!r}: ro: needs a database to view ({GRAMMAR})")
        return ReadOnlyDatabase(_one(inner, check))
    if spec == "local":
        return settings.get_profile("default").database  # Hypothesis's: .hypothesis/examples
    if spec.startswith("dir:"):
        path = spec.removeprefix("dir:")
        if not path:
            raise DatabaseError(f"{spec!r}: dir: needs a path ({GRAMMAR})")
        return DirectoryBasedExampleDatabase(path)
    if spec.startswith(REDIS_SCHEMES):
        return redis_database(spec, check)
    raise DatabaseError(f"unknown example database {describe(spec)!r}: use {GRAMMAR}")


def open_database(spec, check=True):
    """The ExampleDatabase (or None) that `spec` names; see the module docstring."""
    spec = (spec or "").strip()
    if not spec:
        raise DatabaseError(f"an empty example database spec: use {GRAMMAR}")
    if spec == "none":
        return None
    parts = _JOIN.split(spec)
    if len(parts) == 1:
        return _one(spec, check)
    if "none" in parts:
        raise DatabaseError(f"{describe(spec)!r}: 'none' cannot be joined with other databases")
    return MultiplexedDatabase(*(_one(p, check) for p in parts))


def shared_parts(db):
    """The ResilientDatabases inside `db` (through read-only and multiplexed views)."""
    if isinstance(db, ResilientDatabase):
        return [db]
    inner = getattr(db, "_wrapped", ())  # ReadOnlyDatabase: one; MultiplexedDatabase: a tuple
    inner = [inner] if isinstance(inner, ExampleDatabase) else list(inner)
    return [s for d in inner for s in shared_parts(d)]
