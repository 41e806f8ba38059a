"""Lazy public names for the ``cairn.core`` packages: a name is imported from its module the first
time it is used, so ``import cairn.core`` stays cheap (no model runtime, no embedder)."""

from __future__ import annotations

import importlib
from typing import Any


def lazy(package: str, names: dict[str, str]) -> Any:
    """A module ``__getattr__`` for ``package``: ``names`` maps each public name to the module
    (relative to the package) that defines it; a name mapped to "" is a submodule of the package,
    and a name its module does not define is a submodule of that module."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if module == "":
            return importlib.import_module(f"{package}.{name}")
        found = importlib.import_module(f"{package}.{module}")
        if hasattr(found, name):
            return getattr(found, name)
        return importlib.import_module(f"{found.__name__}.{name}")

    return __getattr__
