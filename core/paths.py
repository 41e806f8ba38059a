"""The one place that knows where Cairn keeps its files.

``CAIRN_HOME`` overrides everything: when set, data, config, cache and logs all live under it
(tests and the demo point it at a temporary folder). Otherwise the platform's conventional
user folders are used, via platformdirs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from cairn.core.errors import StorageError

APP_NAME = "cairn"
HOME_ENV = "CAIRN_HOME"


@dataclass(frozen=True)
class Paths:
    """Resolved locations of every file Cairn owns."""

    data_dir: Path
    config_dir: Path
    cache_dir: Path
    log_dir: Path

    @property
    def database(self) -> Path:
        return self.data_dir / "memory.db"

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"


def resolve(env: dict[str, str] | None = None) -> Paths:
    """Return Cairn's paths, honouring ``CAIRN_HOME`` in ``env`` (default: ``os.environ``)."""
    env = os.environ if env is None else env
    home = env.get(HOME_ENV, "").strip()
    if home:
        root = Path(home).expanduser().absolute()
        return Paths(root, root, root / "cache", root / "logs")
    return Paths(
        data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        cache_dir=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        log_dir=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
    )


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (private to the user) if needed; a clear error if that is impossible."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise StorageError(f"Cannot use {path} as a folder: a file of that name is in the way.") from exc
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise StorageError(
            f"Cannot create the Cairn folder {path}: {reason}.",
            hint=f"Make it writable, or point {HOME_ENV} at a folder you can write to.",
        ) from exc
    return path
