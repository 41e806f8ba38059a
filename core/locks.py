"""Advisory file locks that die with their process: single-instance checks and stale-work cleanup.

A lock is held on an open file descriptor (``flock`` on POSIX, ``msvcrt.locking`` on Windows), so
the operating system releases it when its process exits, however it exits. Whoever gets a lock
that guards some work may therefore treat leftovers of that work as abandoned.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import TracebackType

from cairn.core.errors import StorageError
from cairn.core.paths import FILE_MODE, ensure_dir

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt
else:
    import fcntl


class FileLock:
    """An exclusive lock on ``path`` (created 0600 if missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock; with ``blocking=False``, return False at once if another process has it."""
        ensure_dir(self.path.parent)
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, FILE_MODE)
        except OSError as exc:
            raise StorageError(f"Cannot open the lock file {self.path}: {exc.strerror or exc}.") from exc
        if not _lock(fd, blocking):
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            _unlock(self._fd)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def _lock(fd: int, blocking: bool) -> bool:
    try:
        if sys.platform == "win32":  # pragma: no cover
            msvcrt.locking(fd, msvcrt.LK_LOCK if blocking else msvcrt.LK_NBLCK, 1)
        else:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except (BlockingIOError, PermissionError):
        return False
    except OSError as exc:
        if blocking:
            raise StorageError(f"Cannot lock {fd}: {exc.strerror or exc}.") from exc
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
