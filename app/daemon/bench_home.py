"""What every part of `cairn bench daemon` shares: a throwaway home with a short path (a Unix
socket path has at most ~104 bytes), a real daemon started in it and stopped (or killed) after,
and latency summaries."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from cairn.app.daemon import lifecycle
from cairn.core import Paths, StorageError, paths

Progress = Callable[[str, int, int], None]
HOME_ENV = "CAIRN_HOME"


def no_progress(_label: str, _done: int, _total: int) -> None:
    """The default progress callback: shows nothing."""


@contextlib.contextmanager
def fresh_home(embedder: str = "hashing") -> Iterator[Paths]:
    """A new private home in /tmp (short, for the socket) whose config names ``embedder``;
    removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="cb-", dir="/tmp"))
    root.chmod(0o700)
    (root / "config.toml").write_text(f'[memory]\nembedder = "{embedder}"\n')
    try:
        yield paths.resolve({HOME_ENV: str(root)})
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def home_env(where: Paths) -> Iterator[None]:
    """``CAIRN_HOME`` set to ``where`` in this process (the daemon inherits it), restored after."""
    before = os.environ.get(HOME_ENV)
    os.environ[HOME_ENV] = str(where.data_dir)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(HOME_ENV, None)
        else:
            os.environ[HOME_ENV] = before


class Daemon:
    """A daemon this benchmark started: stopped in order, or killed with SIGKILL."""

    def __init__(self, where: Paths) -> None:
        self.where = where
        with home_env(where):
            self.pid = lifecycle.start(where)
        self.killed = False

    def kill(self) -> None:
        """SIGKILL, as a power cut or the OOM killer would; waits until the process is gone."""
        os.kill(self.pid, signal.SIGKILL)
        self.killed = True
        reap(self.pid)

    def stop(self) -> None:
        if not self.killed:  # a killed daemon's PID may already belong to another process
            try:
                lifecycle.stop(self.where)
            except StorageError:  # it did not stop in time: the benchmark must not leave it running
                self.kill()
        reap(self.pid)


def reap(pid: int) -> None:
    """Wait for our child ``pid`` to exit (no zombie left behind); nothing if it is not ours."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


@contextlib.contextmanager
def running(where: Paths) -> Iterator[Daemon]:
    """A real daemon (``python -m cairn.app.daemon`` in the background) for the ``with`` block."""
    daemon = Daemon(where)
    try:
        yield daemon
    finally:
        daemon.stop()


def latency_ms(samples_s: list[float]) -> dict[str, float]:
    """Count, p50 and p95 in milliseconds of samples in seconds."""
    if not samples_s:
        return {"n": 0, "p50_ms": 0.0, "p95_ms": 0.0}
    ms = np.asarray(samples_s) * 1000.0
    return {"n": len(samples_s), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2)}
