from pathlib import Path

import pytest

from cairn.core import config
from cairn.core.errors import ConfigError


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    s = config.load(tmp_path / "none.toml")
    assert s == config.Settings()
    assert s.memory.max_text_bytes == 32 * 1024


def test_overrides_only_change_what_they_name(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text("[memory]\nmax_text_bytes = 1000\n[recall]\ndefault_k = 3\n")
    s = config.load(p)
    assert s.memory.max_text_bytes == 1000
    assert s.recall.default_k == 3
    assert s.memory.embedder == "auto" and s.storage == config.StorageSettings()


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text('[memory]\nmax_text_bytes = "big"\nembedder = "gpt"\ncolour = 1\n'
                 '[recall]\ndefault_k = 0\n[nonsense]\nx = 1\n')
    with pytest.raises(ConfigError) as info:
        config.load(p)
    problems = info.value.problems
    assert len(problems) == 5, problems
    text = str(info.value)
    for needle in ("memory.max_text_bytes", "memory.embedder", "memory.colour", "recall.default_k", "[nonsense]"):
        assert needle in text
    assert str(p) in text


def test_bad_toml_and_bad_utf8(tmp_path: Path) -> None:
    p = tmp_path / "c.toml"
    p.write_text("[memory\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(p)
    p.write_bytes(b"[memory]\n# \xff\n")
    with pytest.raises(ConfigError, match="UTF-8"):
        config.load(p)


def test_booleans_are_not_numbers() -> None:
    with pytest.raises(ConfigError, match="boolean"):
        config.from_mapping({"recall": {"default_k": True}})


def test_settings_are_frozen() -> None:
    s = config.Settings()
    with pytest.raises(AttributeError):
        s.memory.max_text_bytes = 3  # type: ignore[misc]
