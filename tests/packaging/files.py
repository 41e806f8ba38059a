"""Helpers for the packaging tests: load the scripts in packaging/ by path (its name would clash with
the PyPI `packaging` library)."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from tests.conftest import ROOT

PACKAGING = ROOT / "packaging"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"cairn_packaging_{name}", PACKAGING / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def text(relative: str) -> str:
    return (PACKAGING / relative).read_text(encoding="utf-8")


__all__ = ["PACKAGING", "load", "text"]
