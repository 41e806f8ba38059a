"""Running the daemon: in the foreground (what `cairn daemon run` and a service manager do), in
the background (`cairn daemon start`), stopping it, and where its files are.

One daemon per user: a lock file in the runtime folder (released by the OS however the process
ends), then the socket (a stale one is removed), then the PID file. Signals only record (uvicorn's
handlers set a flag); the server's loop then shuts down in order.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cairn.app.protocol import LOCK_NAME, PID_NAME, PORT_NAME, SOCKET_NAME, TOKEN_NAME, answers_at, tcp_endpoint, unix_transport
from cairn.core import FILE_MODE, FileLock, Paths, Settings, StorageError, ensure_dir

log = logging.getLogger(__name__)
LOG_NAME = "daemon.log"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Files:
    """Where one user's daemon keeps its socket, lock, PID, token and log."""

    run_dir: Path
    log_dir: Path

    @classmethod
    def of(cls, paths: Paths) -> Files:
        return cls(paths.run_dir, paths.log_dir)

    @property
    def address(self) -> str:
        """Where clients reach the daemon: its socket, or its loopback port (TCP-only)."""
        if unix_transport():
            return str(self.socket)
        found = tcp_endpoint(self.run_dir)
        return f"127.0.0.1:{found[0]} (token in {self.token})" if found else "loopback TCP (not listening)"

    @property
    def socket(self) -> Path:
        return self.run_dir / SOCKET_NAME

    @property
    def lock(self) -> Path:
        return self.run_dir / LOCK_NAME

    @property
    def pid(self) -> Path:
        return self.run_dir / PID_NAME

    @property
    def token(self) -> Path:
        return self.run_dir / TOKEN_NAME

    @property
    def port(self) -> Path:
        return self.run_dir / PORT_NAME

    @property
    def log(self) -> Path:
        return self.log_dir / LOG_NAME


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only its user can read (0600 from creation, replaced atomically)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def setup_log(files: Files, verbose: bool = False) -> None:
    """Log to the rotating daemon log (1 MB x 3 files, 0600), not to the terminal."""
    ensure_dir(files.log_dir)
    if not files.log.exists():
        os.close(os.open(files.log, os.O_CREAT | os.O_WRONLY, FILE_MODE))
    handler = logging.handlers.RotatingFileHandler(files.log, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True)


def _tcp_socket(port: int, files: Files) -> tuple[socket.socket, str, frozenset[str]]:
    """A loopback TCP listener (never 0.0.0.0) and its bearer token, written to a 0600 file."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    bound = sock.getsockname()[1]
    token = secrets.token_urlsafe(32)
    write_private(files.token, token)
    write_private(files.port, str(bound))
    return sock, token, frozenset({f"127.0.0.1:{bound}", f"localhost:{bound}"})


def serve(paths: Paths, settings: Settings, keep_alive_s: float = 300.0, tcp_port: int | None = None) -> None:
    """Run the daemon in this process until a signal stops it."""
    import uvicorn

    from cairn.app.daemon.engine import Engine
    from cairn.app.daemon.server import bind_unix, build_app

    files = Files.of(paths)
    ensure_dir(files.run_dir)
    lock = FileLock(files.lock)
    if not lock.acquire(blocking=False):
        raise StorageError("A Cairn daemon is already running for this user.", hint="`cairn daemon status`")
    sockets: list[socket.socket] = []
    try:
        if unix_transport():
            sockets.append(bind_unix(files.socket))
        elif tcp_port is None:
            tcp_port = 0  # no Unix sockets here: loopback TCP with a token, on a port the system picks
        token, hosts = None, frozenset[str]()
        if tcp_port is not None:
            tcp, token, hosts = _tcp_socket(tcp_port, files)
            sockets.append(tcp)
        write_private(files.pid, str(os.getpid()))
        requested = _record_signals()  # a stop asked for while the engine loads is not lost
        engine = Engine(settings, paths, keep_alive_s)
        app = build_app(engine, token, hosts)
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=10)
        log.info("listening on %s", " and ".join(str(s.getsockname()) for s in sockets))
        _Server(config, requested).run(sockets=sockets)
    finally:
        for s in sockets:
            s.close()
        for path in (files.socket, files.pid, files.token, files.port):
            path.unlink(missing_ok=True)
        lock.release()


def _record_signals() -> list[int]:
    """Handlers that only record SIGTERM/SIGINT (into the returned list)."""
    seen: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, _frame: seen.append(number))
    return seen


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server whose signal handlers only set ``should_exit`` (the loop then shuts
        down in order) and which, unlike uvicorn's, does not re-raise the signal afterwards: the
        caller still has its files to remove."""

        def __init__(self, config: uvicorn.Config, requested: list[int]) -> None:
            super().__init__(config)
            self.requested = requested

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGTERM, signal.SIGINT)}
            if self.requested:
                self.should_exit = True
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
    return Server


def _Server(config: Any, requested: list[int]) -> Any:  # noqa: N802 - reads as the class it makes
    return _server_class()(config, requested)


def read_pid(files: Files) -> int | None:
    try:
        pid = int(files.pid.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lock_free(files: Files) -> bool:
    """Whether no daemon holds the lock (one that exited released it, even as a zombie)."""
    lock = FileLock(files.lock)
    if lock.acquire(blocking=False):
        lock.release()
        return True
    return False


def start(paths: Paths, keep_alive_s: float | None = None, tcp_port: int | None = None) -> int:
    """Start the daemon in the background and wait until it answers; returns its PID."""
    files = Files.of(paths)
    ensure_dir(files.log_dir)
    argv = [sys.executable, "-m", "cairn.app.daemon"]
    if keep_alive_s is not None:
        argv += ["--keep-alive", str(keep_alive_s)]
    if tcp_port is not None:
        argv += ["--tcp", str(tcp_port)]
    with open(os.devnull, "rb") as null_in:
        proc = subprocess.Popen(argv, stdin=null_in, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True, env=os.environ.copy())
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = (proc.stderr.read().decode("utf-8", "replace") if proc.stderr else "").strip()
            raise StorageError(f"The Cairn daemon did not start: {err.splitlines()[-1] if err else 'it exited'}.",
                               hint=f"`cairn daemon logs` shows its log ({files.log}).")
        if answers_at(files.run_dir):
            if proc.stderr:
                proc.stderr.close()
            return proc.pid
        time.sleep(0.1)
    proc.kill()
    raise StorageError(f"The Cairn daemon did not answer within {START_TIMEOUT_S:.0f} s.",
                       hint=f"`cairn daemon logs` shows its log ({files.log}).")


def stop(paths: Paths, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
    """Ask the daemon to stop (SIGTERM) and wait until it has; returns its PID (None: not running)."""
    files = Files.of(paths)
    pid = read_pid(files)
    if pid is None:
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid) or _lock_free(files):
            return pid
        time.sleep(0.1)
    raise StorageError(f"The Cairn daemon (PID {pid}) did not stop within {timeout_s:.0f} s.",
                       hint=f"It may be finishing a long reply; `kill {pid}` again, or `kill -9 {pid}` as a last resort.")
