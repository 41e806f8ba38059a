"""The model routes: /v1/models/catalog, pull (a background download with progress, cancellable),
import, and choosing the active chat model (written to the settings file, used from the next turn).

A pull runs core's resumable, sha256-checked download (:func:`cairn.core.llm.catalog.pull`) on its
own thread, never on the model worker or the event loop; a cancelled or failed pull leaves its
``.part`` file, which the next pull of that model resumes, and nothing under the model's real name.
Two environment variables point the daemon elsewhere: ``CAIRN_MODELS_HUB`` (a mirror of the
Hugging Face hub serving the catalog's pinned files) and ``CAIRN_MODELS_CATALOG`` (a JSON file of
extra entries in the ``models/llms.json`` format, offered beside the shipped catalog).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from pydantic import Field

from cairn.app.daemon import errors, settings_file
from cairn.app.daemon.engine import Engine, engine_of
from cairn.app.daemon.settings_file import dump_toml as dump_toml  # re-exported: its tests import it here
from cairn.app.protocol import Strict
from cairn.core import Assistant, InvalidInput, ModelLoadError, NotFound, StorageError, assistant, expand
from cairn.core import errors as core_errors
from cairn.core.llm import catalog, check_model_file

router = APIRouter(tags=["models"])
HUB_ENV, CATALOG_ENV = "CAIRN_MODELS_HUB", "CAIRN_MODELS_CATALOG"
CANCEL_WAIT_S = 2.0  # how long a cancel waits for the download thread to stop before it answers
JobId = Annotated[str, PathParam(min_length=1, max_length=64)]


class ModelRef(Strict):
    id: str = Field(min_length=1, max_length=128)


class ImportIn(Strict):
    path: str = Field(min_length=1, max_length=4096)
    name: str | None = Field(default=None, min_length=1, max_length=64)


class _Cancelled(Exception):
    """Raised from the progress callback to stop a download (its ``.part`` file stays)."""


@dataclasses.dataclass
class Job:
    """One pull; its fields are written by the download thread and read by the routes."""

    id: str
    model: str
    state: str = "running"  # running, done, failed, cancelled
    done_bytes: int = 0
    total_bytes: int | None = None
    error: dict[str, str] | None = None
    cancel: threading.Event = dataclasses.field(default_factory=threading.Event)

    def to_dict(self) -> dict[str, Any]:
        return {"job": self.id, "id": self.model, "state": self.state, "done_bytes": self.done_bytes,
                "total_bytes": self.total_bytes, "error": self.error, "cancelling": self.cancel.is_set()}




def _jobs(request: Request) -> dict[str, Job]:
    jobs: dict[str, Job] | None = getattr(request.app.state, "model_jobs", None)
    if jobs is None:
        jobs = request.app.state.model_jobs = {}
    return jobs


# ---- the catalog ---------------------------------------------------------------------------------

def known() -> dict[str, catalog.ModelSpec]:
    """The shipped catalog and the entries of ``$CAIRN_MODELS_CATALOG`` (which win on a clash)."""
    extra = os.environ.get(CATALOG_ENV)
    if not extra:
        return catalog.catalog()
    try:
        raw = json.loads(Path(extra).read_text(encoding="utf-8"))
        return catalog.catalog() | {key: catalog.ModelSpec(key, **value) for key, value in raw.items()}
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise StorageError(f"The extra model catalog {extra} (${CATALOG_ENV}) cannot be read: {exc}.",
                           hint=f"Fix the file or unset {CATALOG_ENV}.") from exc


def _active(setting: str, have: dict[str, Path]) -> str | None:
    """The installed model ``llm.model`` names (None: memory-only, or a GGUF path not installed)."""
    bundled = catalog.bundled_spec().id
    if setting == catalog.AUTO:
        return bundled if bundled in have else None
    if setting in have:
        return setting
    try:
        path = expand(setting).resolve()
    except (OSError, ValueError, RuntimeError):
        return None
    return next((name for name, file in have.items() if file.resolve() == path), None)


def rows(engine: Engine) -> list[dict[str, Any]]:
    """Every catalog model and every installed one, with what the daemon knows of each."""
    have = catalog.available(engine.paths.models_dir)
    active = _active(engine.settings.llm.model, have)
    specs = known()

    def row(name: str, spec: catalog.ModelSpec | None) -> dict[str, Any]:
        path = have.get(name)
        size = path.stat().st_size if path is not None else (spec.size_mb * 1_000_000 if spec else 0)
        source = "imported" if spec is None else "bundled" if spec.bundled else "catalog"
        return {"id": name, "name": spec.name if spec else name, "size_bytes": size,
                "licence": spec.licence if spec else "", "context": spec.context if spec else None,
                "note": spec.note if spec else "imported from a local GGUF file", "installed": path is not None,
                "active": name == active, "bundled": source == "bundled", "source": source,
                "path": str(path) if path is not None else None}
    return [row(n, s) for n, s in specs.items()] + [row(n, None) for n in have if n not in specs]


@router.get("/v1/models/catalog", summary="Catalog, bundled and installed models (size, licence, installed, active)")
async def catalog_route(request: Request) -> dict[str, Any]:
    engine = engine_of(request)
    return {"data": await asyncio.to_thread(rows, engine), "setting": engine.settings.llm.model}


# ---- pulls -----------------------------------------------------------------------------------------

@router.post("/v1/models/pull", status_code=202, summary="Start downloading a catalog model ({\"job\"})")
async def pull(request: Request, body: ModelRef) -> dict[str, str]:
    engine, jobs = engine_of(request), _jobs(request)
    spec = known().get(body.id)
    if spec is None:
        raise NotFound(f"No model called {body.id[:80]!r} in the catalog.", hint="GET /v1/models/catalog lists them.")
    if spec.bundled:
        raise InvalidInput(f"{spec.id} is bundled with Cairn, not downloaded.", hint=spec.install_hint)
    running = next((j for j in jobs.values() if j.model == spec.id and j.state == "running"), None)
    if running is not None:  # one download per file: the same job again
        return {"job": running.id}
    job = Job(uuid.uuid4().hex[:16], spec.id)
    jobs[job.id] = job
    threading.Thread(target=_download, args=(engine, job, spec), name=f"cairn-pull-{spec.id}", daemon=True).start()
    return {"job": job.id}


def _download(engine: Engine, job: Job, spec: catalog.ModelSpec) -> None:
    """The pull's thread: the download with progress, then the job's final state."""
    def progress(done: int, total: int | None) -> None:
        job.done_bytes, job.total_bytes = done, total
        if job.cancel.is_set() or engine.stopping.is_set():
            raise _Cancelled

    try:
        path = catalog.pull(engine.paths.models_dir, spec, os.environ.get(HUB_ENV) or catalog.HUB, progress)
    except _Cancelled:
        job.state = "cancelled"
        return
    except Exception as exc:  # noqa: BLE001 - the job reports every failure; a bug also goes to the log
        body: dict[str, str] = errors.body_of(exc)["error"]
        if isinstance(exc, core_errors.DownloadError):
            body["code"] = "download"
        job.error, job.state = body, "failed"
        return
    job.done_bytes = job.total_bytes = path.stat().st_size
    job.state = "done"


def _job(request: Request, job_id: str) -> Job:
    job = _jobs(request).get(job_id)
    if job is None:
        raise NotFound(f"No download job {job_id[:40]!r}.", hint="POST /v1/models/pull starts one.")
    return job


@router.get("/v1/models/jobs/{job}", summary="A download's state and progress")
async def job_state(request: Request, job: JobId) -> dict[str, Any]:
    return _job(request, job).to_dict()


@router.delete("/v1/models/jobs/{job}", summary="Cancel a download (its .part file stays; a new pull resumes it)")
async def cancel(request: Request, job: JobId) -> dict[str, Any]:
    found = _job(request, job)
    found.cancel.set()
    deadline = time.monotonic() + CANCEL_WAIT_S
    while found.state == "running" and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return found.to_dict()


# ---- imports ---------------------------------------------------------------------------------------

def _import(engine: Engine, body: ImportIn) -> str:
    source = Path(body.path)
    if not source.is_absolute():
        raise InvalidInput(f"{body.path[:200]!r} is not an absolute path.", hint="Send the file's full path.")
    if not source.is_file():
        raise InvalidInput(f"There is no file at {body.path[:200]}.", hint="Send the path of a .gguf model file.")
    try:
        check_model_file(source)
    except ModelLoadError as exc:
        raise InvalidInput(exc.message, hint=exc.hint or "Only GGUF model files can be imported.") from exc
    name = body.name or (re.sub(r"[^a-z0-9._-]+", "-", source.stem.lower()).strip("-._")[:64] or "imported")
    taken = set(catalog.available(engine.paths.models_dir)) | set(known()) | {catalog.AUTO, catalog.NONE}
    if name in taken:
        raise InvalidInput(f"A model called {name!r} exists already.", hint='Choose another "name".')
    return catalog.import_file(engine.paths.models_dir, source, name, check_model_file).stem


@router.post("/v1/models/import", status_code=201, summary="Install a local GGUF file (checked first)")
async def import_model(request: Request, body: ImportIn) -> dict[str, Any]:
    engine = engine_of(request)
    name = await asyncio.to_thread(_import, engine, body)
    return next(r for r in await asyncio.to_thread(rows, engine) if r["id"] == name)


# ---- the active model --------------------------------------------------------------------------

@router.put("/v1/models/active", summary="Make an installed model the chat model (saved in the settings file)")
async def set_active(request: Request, body: ModelRef) -> dict[str, Any]:
    engine = engine_of(request)
    await engine.ask(lambda a: _activate(engine, a, body.id))  # the model worker: one switch at a time
    return next(r for r in await asyncio.to_thread(rows, engine) if r["id"] == body.id)


def _activate(engine: Engine, a: Assistant, model: str) -> None:
    """On the model worker: check the model, write ``llm.model``, then free the current model so
    the next turn loads the new one."""
    models_dir = engine.paths.models_dir
    if model not in catalog.available(models_dir):
        raise NotFound(f"No installed model called {model[:80]!r}.",
                       hint="Pull or import it first; GET /v1/models/catalog lists the models.")
    try:
        path = catalog.chat_model(models_dir, model)  # the bundled model's sha256 is checked here
        if path is not None:
            check_model_file(path)
    except ModelLoadError as exc:
        raise InvalidInput(exc.message, hint=exc.hint) from exc
    write_model_setting(engine.paths.config_file, model)
    engine.settings = dataclasses.replace(engine.settings, llm=dataclasses.replace(engine.settings.llm, model=model))
    engine.save(a)
    a.use_model(assistant.model_slot(engine.settings, engine.paths))


def write_model_setting(path: Path, model: str) -> None:
    """Set ``llm.model`` in the TOML settings file, keeping every other setting it holds (its
    comments are not kept). A file Cairn would refuse to load is left as it is."""
    def change(data: dict[str, Any]) -> dict[str, Any]:
        llm = data.get("llm", {})
        data["llm"] = {**llm, "model": model} if isinstance(llm, dict) else llm
        return data
    try:
        settings_file.update(path, change, hint="Fix it, then choose the model again.")
    except core_errors.ConfigError as exc:
        raise StorageError(exc.message + "; it was left as it was.", hint=exc.hint) from exc
