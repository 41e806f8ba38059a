"""A real daemon on a real socket, in a short home (a Unix socket path has at most ~104 bytes)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cairn.app.client import Client
from cairn.app.daemon import lifecycle
from cairn.core import Paths, paths

FAST_CONFIG = '[memory]\nembedder = "hashing"\n'


@pytest.fixture
def daemon_home(monkeypatch: pytest.MonkeyPatch, models_cache: Path) -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="cd-", dir="/tmp"))
    home.chmod(0o700)
    (home / "models" / "embedders").mkdir(parents=True, mode=0o700)
    (home / "models").chmod(0o700)
    (home / "models" / "embedders" / "all-minilm-l6-v2").symlink_to(
        models_cache / "embedders" / "all-minilm-l6-v2", target_is_directory=True)
    (home / "config.toml").write_text(FAST_CONFIG)
    monkeypatch.setenv("CAIRN_HOME", str(home))
    yield home
    lifecycle.stop(paths.resolve())
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def daemon_paths(daemon_home: Path) -> Paths:
    return paths.resolve()


@pytest.fixture
def daemon(daemon_paths: Paths) -> Iterator[Client]:
    """A running daemon (a background process, as `cairn daemon start` makes) and a client."""
    lifecycle.start(daemon_paths)
    with Client.for_paths(daemon_paths) as client:
        yield client
