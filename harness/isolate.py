"""Crash isolation (`pytest --isolate`): the candidate's side of each program runs in a worker
process, so that an engine that segfaults, aborts or hangs fails one example, which Hypothesis
shrinks and reports like a wrong gradient, instead of killing pytest (or an xdist worker) or
hanging the run.

The worker is a fresh interpreter, `python -m harness.isolate` (never a fork of this process:
forking once torch has started its threads is unsafe). It loads the same backend spec
(`torch`, `package.module:Class`), then answers `interpreter.run(program, adapter,
strict=False)` with the Trace, pickled over a pair of pipes. It is started once and serves
every example; only a crash or a timeout costs a new one. This process keeps its own adapter
for what does not run the engine: capabilities, ops, the standalone script of a report.
"""
import atexit
import copy
import os
import pickle
import selectors
import signal
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# An example runs in milliseconds, and the slowest engine's first call (tinygrad compiling its
# kernels) in seconds: a minute is far past anything still working, yet short enough that
# shrinking a hang (each attempt that still hangs waits this long) ends in minutes.
DEFAULT_TIMEOUT = 60.0
# Loading the engine (torch: 1.5 s; jax, tinygrad: a few) has its own, longer limit.
START_TIMEOUT = 120.0
TAIL_LINES = 25  # of the worker's stderr, shown with a crash
_HEADER = struct.Struct("!Q")


class WorkerCrash(Exception):
    """The candidate's worker died (a signal, an exit) or hung while it ran a program: a
    finding about the engine. `str()` is one line; `details` the worker's last stderr lines."""

    def __init__(self, message, details=()):
        super().__init__(message)
        self.details = list(details)


class IsolationError(RuntimeError):
    """The worker could not start or could not load the backend: a set-up problem, not a
    finding. It is not retried: every example would fail the same way."""


class WorkerRaised(Exception):
    """An exception the worker raised outside the interpreter's steps whose object could not
    be sent back: its type's name and message."""


class _Gone(Exception):
    """The worker's end of the pipe closed: it exited or was killed."""


class _Late(Exception):
    """No answer before the deadline."""


def portable(program):
    """`program` without the reference Session the strategies attach to it
    (`Session.attach_to`): that holds engine objects, which must not travel."""
    if "_built" not in vars(program):
        return program
    clone = copy.copy(program)
    del vars(clone)["_built"]  # a frozen dataclass: only setattr is refused
    return clone


class IsolatedCandidate:
    """The candidate `spec` (a registry spec, as given to `--backend`) run in a worker process.

    `run(program)` returns what `interpreter.run(program, candidate, strict=False)` would, or
    raises what it would raise (UnsupportedProgram, an exception outside the steps), or
    WorkerCrash when the engine crashed or hung (the worker is then replaced)."""

    def __init__(self, spec, timeout=DEFAULT_TIMEOUT, name=None):
        self.spec, self.timeout = spec, float(timeout)
        self.name = name or spec
        self.starts = 0  # workers started: 1 unless something crashed
        self.child_cpu = 0.0  # CPU seconds the workers spent, as they reported it
        self._proc = None
        self._failed = None  # the IsolationError of a start that failed
        atexit.register(self.close)

    # ----- the worker's life ----------------------------------------------------------------
    def start(self):
        """Start a worker unless one is running; it loads the engine while this process goes
        on (`run` waits for it)."""
        if self._proc is not None or self._failed is not None:
            return
        to_child, from_parent = os.pipe()  # (read, write)
        from_child, to_parent = os.pipe()
        self._stderr = tempfile.TemporaryFile(prefix="gradspec-isolate-")  # already unlinked
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "harness.isolate", str(to_child), str(to_parent),
                 str(os.getpid())],
                stdin=subprocess.DEVNULL, stdout=self._stderr, stderr=self._stderr, env=env,
                pass_fds=(to_child, to_parent),
                start_new_session=True)  # its own process group: killed as a whole
        except OSError as exc:
            self._stderr.close()
            os.close(from_parent)
            os.close(from_child)
            self._failed = IsolationError(f"cannot start the isolated worker for "
                                          f"{self.spec!r}: {exc}")
            raise self._failed from exc
        finally:
            os.close(to_child)
            os.close(to_parent)
        self.starts += 1
        self._send_fd, self._recv_fd = from_parent, from_child
        self._selector = selectors.DefaultSelector()
        self._selector.register(from_child, selectors.EVENT_READ)
        self._ready, self._cpu_seen = False, 0.0
        try:
            self._send({"spec": self.spec, "sys_path": list(sys.path)})
        except _Gone:  # it died at once: `_await_ready` says how
            pass

    def _await_ready(self):
        limit = max(START_TIMEOUT, self.timeout)
        try:
            kind, detail = self._receive(limit)
        except (_Gone, _Late) as exc:
            how = self._end(kill=isinstance(exc, _Late))
            what = f"did not start within {limit:g} s" if isinstance(exc, _Late) \
                else f"{how} while starting"
            self._failed = IsolationError("\n".join(
                [f"the isolated worker for backend {self.spec!r} {what}; its stderr:",
                 *self._last_tail]))
            raise self._failed from None
        if kind != "ready":
            self._end(kill=True)
            self._failed = IsolationError(f"the isolated worker cannot load backend "
                                          f"{self.spec!r}: {detail}")
            raise self._failed
        self._ready = True

    def close(self):
        """Stop the worker (it exits when its pipe closes; killed if it does not at once)."""
        if self._proc is not None:
            self._end(kill=False)

    def _end(self, kill):
        """Close the pipes and reap the worker (its whole process group is killed first if
        `kill`, or if it does not exit by itself); keep the tail of its stderr. Returns how
        it ended, in words."""
        proc = self._proc
        self._proc = None
        self._selector.close()
        os.close(self._send_fd)
        os.close(self._recv_fd)
        if not kill:
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                kill = True
        if kill:
            try:  # not reaped yet, so its process group id is still its own
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        proc.wait()
        self._last_tail = _tail(self._stderr)
        self._stderr.close()
        return _how(proc.returncode)

    # ----- one program --------------------------------------------------------------------
    def run(self, program):
        if self._failed is not None:
            raise self._failed
        self.start()
        if not self._ready:
            self._await_ready()
        try:
            self._send(portable(program))
            kind, payload, cpu = self._receive(self.timeout)
        except _Gone:
            how = self._end(kill=True)  # the group: whatever the engine started goes too
            crash = WorkerCrash(f"{self.name} crashed: its worker process (--isolate) {how} "
                                f"while running this program", _labelled(self._last_tail))
            self.start()  # the next one loads while Hypothesis draws the next program
            raise crash from None
        except _Late:
            self._dump_stacks()
            self._end(kill=True)
            crash = WorkerCrash(f"{self.name} hung: no answer within {self.timeout:g} s "
                                f"(--isolate-timeout); its worker process was killed",
                                _labelled(self._last_tail))
            self.start()
            raise crash from None
        except BaseException:  # interrupted, or an answer that does not unpickle: the pipes
            self._end(kill=True)  # may hold half a message, so this worker is done
            raise
        self.child_cpu += cpu - self._cpu_seen
        self._cpu_seen = cpu
        if kind == "ok":
            return payload
        if kind == "unsupported":
            from gradspec.adapter import UnsupportedProgram
            raise UnsupportedProgram(payload)
        raise _revive(*payload)

    def _dump_stacks(self):
        """Ask the hung worker for its Python stacks (faulthandler, on SIGUSR1), so that the
        report shows where it hung; wait until it has written them (a second at most)."""
        try:
            os.kill(self._proc.pid, signal.SIGUSR1)
        except ProcessLookupError:
            return
        size, deadline = -1, time.monotonic() + 1.0
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now = os.fstat(self._stderr.fileno()).st_size
            if now == size and size > 0:
                return
            size = now

    # ----- the pipes ----------------------------------------------------------------------
    def _send(self, obj):
        try:
            _write(self._send_fd, obj)
        except BrokenPipeError:
            raise _Gone from None

    def _receive(self, timeout):
        deadline = time.monotonic() + timeout
        size, = _HEADER.unpack(self._read(_HEADER.size, deadline))
        return pickle.loads(self._read(size, deadline))

    def _read(self, n, deadline):
        chunks = []
        while n:
            left = deadline - time.monotonic()
            if left <= 0 or not self._selector.select(left):
                raise _Late
            chunk = os.read(self._recv_fd, min(n, 1 << 20))
            if not chunk:
                raise _Gone
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)


def _how(returncode):
    if returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name} (signal {-returncode})"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"


def _tail(file):
    """The last TAIL_LINES lines of the worker's stderr (and stdout)."""
    fd = file.fileno()
    size = os.fstat(fd).st_size
    text = os.pread(fd, 8192, max(0, size - 8192)).decode("utf-8", "replace")
    return text.splitlines()[-TAIL_LINES:]


def _labelled(tail):
    if not tail:
        return ["(it wrote nothing to stderr)"]
    return ["its last lines of stderr:", *(f"  | {line}" for line in tail)]


def _revive(exc_bytes, type_name, message):
    """The exception the worker raised: itself if it pickles, else its name and message."""
    if exc_bytes is not None:
        try:
            return pickle.loads(exc_bytes)
        except Exception:  # noqa: BLE001 - e.g. a class this process cannot import
            pass
    return WorkerRaised(f"{type_name}: {message}")


# ----- both ends: length-prefixed pickles -----------------------------------------------------
def _write(fd, obj):
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _read_blocking(fd, n):
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _receive_blocking(fd):
    header = _read_blocking(fd, _HEADER.size)
    if header is None:
        return None
    data = _read_blocking(fd, _HEADER.unpack(header)[0])
    return None if data is None else pickle.loads(data)


# ----- the worker ---------------------------------------------------------------------------
def _die_with_parent(parent_pid):
    """Linux: be killed when the parent dies (else a hung worker would outlive a killed
    pytest; one that is waiting for a program exits anyway when its pipe closes)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # it died before prctl
        os._exit(0)


def _portable_exception(exc):
    try:
        data = pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - an exception holding engine objects
        data = None
    return data, type(exc).__name__, str(exc)


def serve(recv_fd, send_fd):
    """The worker's loop: load the backend named by the first message, then answer each
    program with its trace until the pipe closes."""
    import faulthandler
    import warnings
    faulthandler.enable(all_threads=True)  # a crash's Python stack goes to the report
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # so does a hang's
    init = _receive_blocking(recv_fd)
    if init is None:
        return 0
    sys.path[:] = init["sys_path"] + [p for p in sys.path if p not in init["sys_path"]]
    # As pyproject's filterwarnings does under pytest (expected when a hooked module's inputs
    # need no grad).
    warnings.filterwarnings("ignore", "Full backward hook is firing", UserWarning)
    try:
        from adapters.registry import load
        adapter = load(init["spec"])
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which stops
        _write(send_fd, ("error", f"{type(exc).__name__}: {exc}"))
        return 1
    _write(send_fd, ("ready", adapter.describe()))
    from gradspec.adapter import UnsupportedProgram
    from gradspec.interpreter import run
    while True:
        program = _receive_blocking(recv_fd)
        if program is None:
            return 0
        try:
            reply = ("ok", run(program, adapter, strict=False))
        except UnsupportedProgram as exc:
            reply = ("unsupported", str(exc))
        except Exception as exc:  # noqa: BLE001 - the parent judges it, as in process
            reply = ("raised", _portable_exception(exc))
        try:
            _write(send_fd, (*reply, time.process_time()))
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            error = RuntimeError(f"the worker could not send its trace back: {exc}")
            _write(send_fd, ("raised", _portable_exception(error), time.process_time()))


def main(argv):
    recv_fd, send_fd, parent_pid = (int(a) for a in argv)
    _die_with_parent(parent_pid)
    return serve(recv_fd, send_fd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
