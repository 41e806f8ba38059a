"""Facts about this installation for `cairn doctor` (and later the daemon's status route)."""

from __future__ import annotations

import platform
import sys
from dataclasses import asdict, dataclass
from typing import Any

from cairn.core import config
from cairn.core.errors import CairnError
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.retrieval.embed import make_embedder
from cairn.core.memory.storage import db as dbmod
from cairn.core.memory.storage import tables
from cairn.core.paths import Paths


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_checks(paths: Paths) -> list[Check]:
    """Every check, in reading order; a failing one explains itself and never raises."""
    checks = [Check("python", sys.version_info >= (3, 11), f"{platform.python_version()} on {platform.platform()}")]
    checks += _sqlite_checks()
    checks += [Check("data folder", True, str(paths.data_dir)), Check("config file", True, _exists(paths.config_file))]
    try:
        settings = config.load(paths.config_file)
        checks.append(Check("settings", True, "valid"))
    except CairnError as exc:
        return checks + [Check("settings", False, exc.message)]
    return checks + [_embedder_check(paths, settings), _llm_check(paths, settings)] + _bank_checks(paths, settings)


def _embedder_check(paths: Paths, settings: config.Settings) -> Check:
    try:
        embedder = make_embedder(settings, paths.models_dir)
    except CairnError as exc:
        return Check("embedder model", False, exc.message)
    where = getattr(embedder, "folder", None)
    return Check("embedder model", True, f"{embedder.id} (dim {embedder.dim})" + (f" from {where}" if where else
                                                                                 " (built in, no model files)"))


def _llm_check(paths: Paths, settings: config.Settings) -> Check:
    """llama.cpp's build and the chat model (none at all is fine: memory-only mode)."""
    from cairn.core.llm import catalog, native
    from cairn.core.llm.modelfile import check_model_file

    build = f"llama.cpp {native.library_version()} ({native.system_info()})"
    try:
        path = catalog.chat_model(paths.models_dir, settings.llm.model)
        if path is None:
            why = "llm.model is none" if settings.llm.model == catalog.NONE else \
                f"the bundled model is not installed ({catalog.bundled_spec().install_hint})"
            installed = ", ".join(catalog.available(paths.models_dir)) or "none installed"
            return Check("chat model", True, f"memory-only mode: {why}; models: {installed}; {build}")
        size = check_model_file(path)
    except CairnError as exc:
        return Check("chat model", False, exc.message)
    bundled = " (bundled)" if path == catalog.bundled_file() else ""
    return Check("chat model", True, f"{path}{bundled} ({size / 1e6:.0f} MB); {build}")


def _exists(path: Any) -> str:
    return f"{path}" + ("" if path.exists() else " (not created yet)")


def _sqlite_checks() -> list[Check]:
    try:
        version, vec, name = dbmod.capabilities()
    except CairnError as exc:
        return [Check("sqlite extensions", False, exc.message)]
    how = "stdlib sqlite3" if name == "sqlite3" else "sqlean (this Python's sqlite3 cannot load extensions)"
    return [Check("sqlite", True, f"SQLite {version} via {how}"),
            Check("extension loading", True, f"sqlite-vec {vec} loaded"),
            Check("fts5", True, "available")]


def table_summary(paths: Paths) -> list[tables.TableInfo]:
    """The memory database's tables with their row counts and meaning, read without writing."""
    with dbmod.open_readonly(paths.database) as db, db.guard():
        return tables.tables(db.conn)


def _bank_checks(paths: Paths, settings: config.Settings) -> list[Check]:
    if not paths.database.exists():
        return [Check("memory database", True, _exists(paths.database))]
    try:
        with MemoryBank.open(paths.database, settings, models_dir=paths.models_dir) as bank:
            stats = bank.stats()
            integrity = bank.db.quick_check()
    except CairnError as exc:
        return [Check("memory database", False, exc.message)]
    stored = stats["embedder"]["stored"]
    configured = stats["embedder"]["configured"]
    mismatch = stored is not None and stored != configured
    counts = stats["memories"]
    return [
        Check("memory database", integrity == "ok",
              f"{paths.database}: schema {stats['schema_version']}, {counts['live']} live and "
              f"{counts['forgotten']} forgotten memories, integrity {integrity}"),
        Check("embedder", not mismatch,
              f"configured {configured[0]} (dim {configured[1]}); vectors from "
              + (f"{stored[0]} (dim {stored[1]})" if stored else "none yet")
              + (" - run `cairn reindex`" if mismatch else "")),
    ]
