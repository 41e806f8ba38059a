"""Lazy public names for the ``cairn.core`` packages: a name is imported from its module the first
time it is used, so ``import cairn.core`` stays cheap (no model runtime, no embedder)."""

from __future__ import annotations

import importlib
from typing import Any


def lazy(package: str, names: dict[str, str]) -> Any:
    """A module ``__getattr__`` for ``package``: ``names`` maps each public name to the module
    (relative to the package) that defines it; a name mapped to "" is a submodule."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if module == "":
            return importlib.import_module(f"{package}.{name}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return __getattr__
