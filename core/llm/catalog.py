"""Known LLMs (``cairn/models/llms.json``) and the models installed under ``models/llm``.

Pulls download a pinned revision from the Hugging Face hub, resumably, check the file's sha256
from the catalog and move it into place atomically (:func:`cairn.core.download.fetch`). Imports
validate a local GGUF (header and tensor extents) before copying it in.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from cairn.core.download import Progress, fetch
from cairn.core.errors import InvalidInput, NotFound

HUB = "https://huggingface.co"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class ModelSpec:
    id: str
    name: str
    repo: str
    revision: str
    file: str
    sha256: str
    size_mb: int
    context: int
    licence: str
    note: str = ""

    def url(self, base: str = HUB) -> str:
        return f"{base}/{self.repo}/resolve/{self.revision}/{self.file}"


def catalog() -> dict[str, ModelSpec]:
    raw = json.loads(resources.files("cairn.models").joinpath("llms.json").read_text(encoding="utf-8"))
    return {key: ModelSpec(key, **value) for key, value in raw.items()}


def spec(name: str) -> ModelSpec:
    known = catalog()
    if name not in known:
        raise NotFound(f"No model called {name!r} in the catalog.", hint=f"Known: {', '.join(known)}.")
    return known[name]


def folder(models_dir: Path) -> Path:
    return models_dir / "llm"


def installed(models_dir: Path) -> dict[str, Path]:
    """Installed model name -> file."""
    where = folder(models_dir)
    return {p.stem: p for p in sorted(where.glob("*.gguf"))} if where.is_dir() else {}


def resolve(models_dir: Path, name_or_path: str) -> Path:
    """An installed model's file, or a path to a GGUF file."""
    found = installed(models_dir).get(name_or_path)
    if found is not None:
        return found
    path = Path(name_or_path).expanduser()
    if path.suffix == ".gguf" or path.exists():
        return path
    raise NotFound(f"No installed model called {name_or_path!r}.",
                   hint="`cairn models list` shows them; `cairn models pull NAME` installs one.")


def pull(models_dir: Path, model: str | ModelSpec, base_url: str = HUB, progress: Progress | None = None) -> Path:
    """Download a catalog model (pinned revision, sha256-checked, resumable) and install it."""
    s = spec(model) if isinstance(model, str) else model
    return fetch(s.url(base_url), folder(models_dir) / f"{s.id}.gguf", s.sha256, progress)


def import_file(models_dir: Path, source: Path, name: str, check: Any) -> Path:
    """Copy a local GGUF in under ``name`` after ``check(source)`` accepted it."""
    if not _NAME.match(name):
        raise InvalidInput(f"{name!r} is not a usable model name: use lower-case letters, digits, '.', '-', '_'.")
    check(source)
    dest = folder(models_dir) / f"{name}.gguf"
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    shutil.copyfile(source, part)
    os.replace(part, dest)
    return dest


def remove(models_dir: Path, name: str) -> Path:
    path = installed(models_dir).get(name)
    if path is None:
        raise NotFound(f"No installed model called {name!r}.", hint="`cairn models list` shows them.")
    path.unlink()
    return path
