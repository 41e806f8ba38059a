"""The settings routes: ``GET /v1/settings`` (the settings the app lets people change, with the
value the daemon runs with, the value the settings file holds, the default, the allowed range or
choices and what each means) and ``PUT /v1/settings`` (several changes checked at once, then
written to the settings file).

The daemon builds its bank, its assistant and its idle unload from the settings when it starts, so
a saved change takes effect at the next start (``cairn daemon stop``, then start): every setting
here says ``"restart": true``, and a PUT names the changed ones in ``restart_needed``. Only the user,
never a client program (a request naming itself in ``x-cairn-client``), may see or change them.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from fastapi import APIRouter, Request
from pydantic import Field, StrictBool, StrictFloat, StrictInt, StrictStr

from cairn.app.daemon import settings_file
from cairn.app.daemon.engine import Engine, engine_of
from cairn.app.protocol import CLIENT_HEADER, Strict
from cairn.core import CairnError, InvalidInput, NotPermitted, Settings, config
from cairn.core import errors as core_errors

router = APIRouter(tags=["settings"])
# The settings the app offers, by section (the rest stay in the file, for people who edit it).
EDITABLE: dict[str, tuple[str, ...]] = {
    "llm": ("n_ctx", "kv_type", "eviction"),
    "retention": ("max_memories", "archive_below"),
    "gate": ("threshold",),
    "daemon": ("keep_alive_s",),
    "mcp": ("default_scope",),
}
LIVE: frozenset[str] = frozenset()  # keys the running daemon applies at once (none yet: all wait for a restart)
Value = StrictBool | StrictInt | StrictFloat | StrictStr


class SettingsIn(Strict):
    changes: dict[str, Value] = Field(min_length=1, max_length=64,
                                      description='{"section.key": value}, e.g. {"retention.max_memories": 5000}')




def _user_only(request: Request) -> None:
    if request.headers.get(CLIENT_HEADER) is not None:
        raise NotPermitted("Only you, not a client program, can see or change Cairn's settings.")


def _field(section: str, key: str) -> dataclasses.Field[Any]:
    cls = next(f.default_factory for f in dataclasses.fields(Settings) if f.name == section)
    return next(f for f in dataclasses.fields(cls) if f.name == key)  # type: ignore[arg-type]


def _running(engine: Engine, section: str, key: str) -> Any:
    if (section, key) == ("daemon", "keep_alive_s"):
        return engine.keep_alive_s  # `--keep-alive` may have overridden the file
    return getattr(getattr(engine.settings, section), key)


def _saved(engine: Engine) -> Settings:
    """What the settings file gives now (the running settings when it cannot be read)."""
    try:
        return config.from_mapping(settings_file.read(engine.paths.config_file), str(engine.paths.config_file))
    except CairnError:
        return engine.settings


def _entry(engine: Engine, saved: Settings, section: str, key: str) -> dict[str, Any]:
    spec = _field(section, key)
    meta = spec.metadata
    entry: dict[str, Any] = {"value": _running(engine, section, key), "saved": getattr(getattr(saved, section), key),
                             "default": spec.default, "type": type(spec.default).__name__, "doc": meta["doc"],
                             "restart": f"{section}.{key}" not in LIVE}
    for name, meta_key in (("min", "lo"), ("max", "hi")):
        if meta[meta_key] is not None:
            entry[name] = meta[meta_key]
    if meta["choices"]:
        entry["choices"] = list(meta["choices"])
    return entry


def describe(engine: Engine) -> dict[str, Any]:
    saved = _saved(engine)
    return {"settings": {section: {key: _entry(engine, saved, section, key) for key in keys}
                         for section, keys in EDITABLE.items()},
            "file": str(engine.paths.config_file)}


@router.get("/v1/settings", summary="The settings the app can change: running and saved values, ranges (you only)")
async def get_settings(request: Request) -> dict[str, Any]:
    _user_only(request)
    return await asyncio.to_thread(describe, engine_of(request))


def _parse(changes: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """``{"section.key": value}`` as tables, and a problem for each key that cannot be set here."""
    tables: dict[str, dict[str, Any]] = {}
    unknown = []
    for name, value in changes.items():
        section, _, key = name.partition(".")
        if key not in EDITABLE.get(section, ()):
            unknown.append(f"{name[:80]!r} is not a setting that can be changed here")
            continue
        if isinstance(_field(section, key).default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)  # 5 for a float setting is 5.0, so the file reads back as a float
        tables.setdefault(section, {})[key] = value
    return tables, unknown


def save(engine: Engine, changes: dict[str, Any]) -> list[str]:
    """Check every change at once against the file's whole content, write it; the changed keys
    whose saved value now differs from the running one (they wait for a restart)."""
    tables, unknown = _parse(changes)
    path = engine.paths.config_file

    def change(data: dict[str, Any]) -> dict[str, Any]:
        for section, values in tables.items():
            table = data.get(section, {})
            data[section] = {**table, **values} if isinstance(table, dict) else table
        if unknown:  # name the bad values too, not only the unknown keys
            try:
                config.from_mapping(data, str(path))
            except core_errors.ConfigError as exc:
                raise core_errors.ConfigError(unknown + exc.problems, str(path)) from exc
            raise core_errors.ConfigError(unknown, str(path))
        return data
    try:
        saved = settings_file.update(path, change)
    except core_errors.ConfigError as exc:
        known = ", ".join(f"{s}.{k}" for s, keys in EDITABLE.items() for k in keys)
        raise InvalidInput(f"The settings were not saved: {'; '.join(exc.problems)}.",
                           hint=f"Nothing was changed. The settings that can be changed here: {known}; "
                                "GET /v1/settings gives each one's range or choices.") from exc
    return [f"{section}.{key}" for section, values in tables.items() for key in values
            if f"{section}.{key}" not in LIVE and getattr(getattr(saved, section), key) != _running(engine, section, key)]


@router.put("/v1/settings", summary="Change settings ({\"changes\": {\"section.key\": value}}; you only)")
async def put_settings(request: Request, body: SettingsIn) -> dict[str, Any]:
    _user_only(request)
    engine = engine_of(request)
    restart = await asyncio.to_thread(save, engine, dict(body.changes))
    return {**await asyncio.to_thread(describe, engine), "restart_needed": restart}
