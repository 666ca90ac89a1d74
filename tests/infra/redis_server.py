"""A real, throwaway `redis-server` for the infrastructure tests (Debian's redis-server
package; .ci/run installs it). Each test gets its own server on a free TCP port, without
persistence, killed at the end."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self, workdir):
        self.workdir = workdir
        self.proc = self.port = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, attempts=5):
        exe = shutil.which("redis-server")
        for _ in range(attempts):  # another process may take the free port first: try another
            self.port = free_port()
            self.proc = subprocess.Popen(
                [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.workdir)],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if self._ready():
                return self
            self.stop()
        raise RuntimeError(f"redis-server did not start after {attempts} attempts")

    def _ready(self, timeout=10.0):
        import redis
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.5).ping()
                return True
            except redis.ConnectionError:
                time.sleep(0.05)
        return False

    def client(self):
        import redis
        return redis.Redis(port=self.port, socket_connect_timeout=2)

    def snapshot(self):
        """Every key and its members: what the server holds."""
        c = self.client()
        return {k: sorted(c.smembers(k)) for k in c.keys("*") if c.type(k) == b"set"}

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)
            self.proc.stdout.close()


@pytest.fixture
def redis_server(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed here (apt-get install redis-server; "
                    ".ci/run installs it)")
    pytest.importorskip("redis", reason="the redis client is a dependency: pip install .")
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def run_python(code, env=None, timeout=120):
    """Run `code` in a fresh interpreter in the checkout; (returncode, stdout + stderr)."""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ, **(env or {})))
    return proc.returncode, proc.stdout + proc.stderr


def run_pytest(*args, env=None, timeout=300):
    """pytest in a fresh process in the checkout; (returncode, stdout + stderr)."""
    from harness.campaign import fresh_env
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=fresh_env(**(env or {})))
    return proc.returncode, proc.stdout + proc.stderr
