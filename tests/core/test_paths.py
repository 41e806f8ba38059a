from pathlib import Path

import pytest

from cairn.core import paths
from cairn.core.errors import StorageError


def test_cairn_home_overrides_everything(tmp_path: Path) -> None:
    p = paths.resolve({"CAIRN_HOME": str(tmp_path / "h")})
    for d in (p.data_dir, p.config_dir, p.cache_dir, p.log_dir):
        assert str(d).startswith(str(tmp_path / "h"))
    assert p.database == tmp_path / "h" / "memory.db"
    assert p.config_file == tmp_path / "h" / "config.toml"


def test_platform_dirs_without_override(tmp_path: Path) -> None:
    # conftest points HOME and XDG_* at tmp_path, so platformdirs resolves there.
    p = paths.resolve({})
    assert "cairn" in str(p.data_dir)
    assert p.data_dir != p.cache_dir


def test_ensure_dir_is_private_and_explains_failure(tmp_path: Path) -> None:
    d = paths.ensure_dir(tmp_path / "a" / "b")
    assert d.is_dir() and (d.stat().st_mode & 0o777) == 0o700
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="file of that name"):
        paths.ensure_dir(blocker)
    with pytest.raises(StorageError, match="Cannot create"):
        paths.ensure_dir(blocker / "sub")


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="XDG_RUNTIME_DIR is a Linux convention")
def test_no_runtime_dir_in_tmp_without_xdg_runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    p = paths.resolve({})  # no XDG_RUNTIME_DIR: not platformdirs' /tmp fallback (and its warning)
    assert p.runtime_dir is None and p.run_dir == p.data_dir / "run"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "xdg-run"))
    assert paths.resolve({"XDG_RUNTIME_DIR": str(tmp_path / "xdg-run")}).runtime_dir == tmp_path / "xdg-run" / "cairn"


def test_expand_leaves_an_unknown_users_tilde_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert paths.expand("~/x") == tmp_path / "x"
    assert paths.expand("~0") == Path("~0")  # no user "0": Path.expanduser would raise
    assert paths.expand("~no-such-user-here/m.gguf") == Path("~no-such-user-here/m.gguf")
