"""The user's settings file (``config.toml``), rewritten by the daemon: one read-modify-write at a
time, checked with :func:`cairn.core.config.from_mapping` before anything is written, and a small
TOML writer for what settings hold (tables of strings, numbers and booleans; comments are not kept).
"""

from __future__ import annotations

import json
import math
import re
import threading
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cairn.app.daemon.lifecycle import write_private
from cairn.core import Settings, StorageError, config, ensure_dir

Data = dict[str, Any]
_lock = threading.Lock()  # one read-modify-write of the settings file at a time
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _target(path: Path) -> Path:
    return path.resolve() if path.is_symlink() else path  # a linked dotfile: write its target


def read(path: Path, hint: str = "Fix it, then try again.") -> Data:
    """The file's tables ({} when there is none); a file that cannot be read is a StorageError."""
    target = _target(path)
    try:
        return tomllib.loads(target.read_text(encoding="utf-8")) if target.exists() else {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise StorageError(f"The settings file {path} cannot be read ({exc}); it was left as it was.",
                           hint=hint) from exc


def update(path: Path, change: Callable[[Data], Data], hint: str = "Fix it, then try again.") -> Settings:
    """Apply ``change`` to the file's content, check the result (a :class:`ConfigError` names every
    problem and leaves the file as it was), write it (mode 0600) and return the settings it gives."""
    with _lock:
        data = change(read(path, hint))
        settings = config.from_mapping(data, str(path))
        target = _target(path)
        ensure_dir(target.parent)
        write_private(target, dump_toml(data))
        return settings


def dump_toml(data: dict[str, dict[str, Any]]) -> str:
    """TOML for settings: tables of strings, numbers and booleans (what :func:`config.load` reads)."""
    tables = []
    for name, table in data.items():
        lines = [f"[{_toml_key(name)}]"] + [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items()]
        tables.append("\n".join(lines) + "\n")
    return "\n".join(tables)


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_string(key)


def _toml_string(text: str) -> str:
    # JSON's escapes (\" \\ \n \t \uXXXX for control characters) are TOML's; DEL must be escaped too
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return ("nan" if math.isnan(value) else "inf" if value > 0 else "-inf") if not math.isfinite(value) \
            else repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    raise TypeError(f"a settings value of type {type(value).__name__} cannot be written")
