"""The one place that knows where Cairn keeps its files, and who may read them.

``CAIRN_HOME`` overrides everything: when set, data, config, cache, logs and the runtime folder
all live under it (tests and the demo point it at a temporary folder). Otherwise the platform's
conventional user folders are used, via platformdirs.

Every folder Cairn creates is 0700 and every file that holds the user's data (database, WAL,
SHM, exports, snapshots) 0600, whatever the umask: :func:`ensure_dir` and :func:`private_file`
set the mode explicitly after creating, and :func:`tighten` narrows what an older install made.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from cairn.core.errors import StorageError

log = logging.getLogger(__name__)
APP_NAME = "cairn"
HOME_ENV = "CAIRN_HOME"
DIR_MODE = 0o700
FILE_MODE = 0o600


@dataclass(frozen=True)
class Paths:
    """Resolved locations of every file Cairn owns."""

    data_dir: Path
    config_dir: Path
    cache_dir: Path
    log_dir: Path
    runtime_dir: Path | None = None  # the daemon's socket and lock (None: under data_dir)

    @property
    def database(self) -> Path:
        return self.data_dir / "memory.db"

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def run_dir(self) -> Path:
        return self.runtime_dir or self.data_dir / "run"

    def folders(self) -> list[Path]:
        """Cairn's own top-level folders (each private to the user)."""
        return list(dict.fromkeys([self.data_dir, self.config_dir, self.cache_dir, self.log_dir, self.run_dir]))


def expand(path: str | Path) -> Path:
    """``~`` and ``~user`` expanded as a shell would; a ``~name`` of no known user stays as written
    (``Path.expanduser`` raises RuntimeError there)."""
    try:
        return Path(path).expanduser()
    except RuntimeError:
        return Path(path)


def resolve(env: dict[str, str] | None = None) -> Paths:
    """Return Cairn's paths, honouring ``CAIRN_HOME`` in ``env`` (default: ``os.environ``)."""
    env = dict(os.environ) if env is None else env
    home = env.get(HOME_ENV, "").strip()
    if home:
        root = expand(home).absolute()
        return Paths(root, root, root / "cache", root / "logs", root / "run")
    # Linux without XDG_RUNTIME_DIR (a root shell, a container): platformdirs would fall back to a
    # folder in /tmp, with a warning; the data folder's run/ is private instead.
    has_runtime = os.name == "posix" and (not sys.platform.startswith("linux") or bool(env.get("XDG_RUNTIME_DIR")))
    runtime = platformdirs.user_runtime_dir(APP_NAME, appauthor=False) if has_runtime else None
    return Paths(
        data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        cache_dir=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        log_dir=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
        runtime_dir=Path(runtime) if runtime else None,
    )


def ensure_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents, each 0700 whatever the umask; a clear error if
    that is impossible. Folders that already exist are left as they are (see :func:`tighten`)."""
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    try:
        for folder in reversed(missing):
            try:
                folder.mkdir(mode=DIR_MODE)
            except FileExistsError:
                continue  # made by another process meanwhile
            os.chmod(folder, DIR_MODE)
        if not path.is_dir():
            raise StorageError(f"Cannot use {path} as a folder: a file of that name is in the way.")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise StorageError(
            f"Cannot create the Cairn folder {path}: {reason}.",
            hint=f"Make it writable, or point {HOME_ENV} at a folder you can write to.",
        ) from exc
    return path


def private_file(path: Path) -> None:
    """Make ``path`` (when it exists) readable and writable by its owner only."""
    tighten(path, FILE_MODE)


def tighten(path: Path, mode: int) -> bool:
    """Remove group and other permissions from ``path`` if it has any; logs a note when it did.
    Returns whether anything changed."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise StorageError(f"Cannot check the permissions of {path}: {exc.strerror or exc}.") from exc
    if current & 0o077 == 0:
        return False
    try:
        os.chmod(path, mode)
    except OSError as exc:
        raise StorageError(f"{path} can be read by other users (mode {current:o}) and Cairn cannot change that: "
                           f"{exc.strerror or exc}.", hint=f"Run: chmod {mode:o} '{path}'") from exc
    log.warning("made %s private to you (mode %o, was %o): it holds your memories", path, mode, current)
    return True


def secure(paths: Paths) -> None:
    """Tighten an existing install: Cairn's folders 0700, its data files 0600."""
    for folder in paths.folders():
        tighten(folder, DIR_MODE)
    for folder in (paths.data_dir / "kv", paths.models_dir, paths.data_dir / "exports"):
        tighten(folder, DIR_MODE)
    for suffix in ("", "-wal", "-shm", "-journal"):
        private_file(paths.database.with_name(paths.database.name + suffix))
