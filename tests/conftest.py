"""Test isolation: every test gets its own CAIRN_HOME (and HOME/XDG dirs) under tmp_path.

Nothing here touches the network or the real home directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from cairn.core.clock import ManualClock
from cairn.core.config import Settings
from cairn.core.memory.bank import MemoryBank

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # Qt tests draw offscreen: no display needed


@pytest.fixture(scope="session")
def models_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real MiniLM embedder, converted once per test session from its bundled package."""
    from cairn.models.embedders import install_bundled

    models = tmp_path_factory.mktemp("models")
    install_bundled(models)
    return models


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, models_cache: Path) -> Path:
    home = tmp_path / "cairn-home"
    shared = models_cache / "embedders" / "all-minilm-l6-v2"
    for folder in (home, home / "models", home / "models" / "embedders"):  # as Cairn makes them: private
        folder.mkdir(mode=0o700)
        folder.chmod(0o700)
    (home / "models" / "embedders" / "all-minilm-l6-v2").symlink_to(shared, target_is_directory=True)
    monkeypatch.setenv("CAIRN_HOME", str(home))
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / "xdg" / var.lower()))
    monkeypatch.delenv("CAIRN_DEBUG", raising=False)
    return home


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_700_000_000.0)


@pytest.fixture
def bank(isolated_home: Path, clock: ManualClock):  # type: ignore[no-untyped-def]
    """A bank with the hashing embedder: fast and exact, for the bank's own logic."""
    b = MemoryBank.open(isolated_home / "memory.db", Settings(), clock=clock)
    yield b
    b.close()


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cairn(isolated_home: Path) -> Callable[..., Result]:
    """Run the real CLI in a subprocess, as a user would."""

    def run(*args: str, input: bytes | str | None = None, env: dict[str, str] | None = None,
            timeout: float = 60) -> Result:
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.run([sys.executable, "-m", "cairn.app.cli", *args], input=data,
                              capture_output=True, timeout=timeout, env={**os.environ, **(env or {})},
                              stdin=None if data is not None else subprocess.DEVNULL)
        return Result(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))

    return run
