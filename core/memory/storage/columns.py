"""A memory's column values: built and checked before they are written."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from cairn.core.errors import InvalidInput
from cairn.core.memory.storage.records import SOURCE_TYPES, MemoryId, Source


def new_values(text: str, kind: str, source: Source, pinned: bool, now: float) -> dict[str, Any]:
    """Column values of a memory about to be stored (importance and strength come later)."""
    return {"uid": uuid.uuid4().hex, "text": text, "kind": kind, "created_at": now, "updated_at": now,
            "pinned": int(pinned), **source_columns(source)}


def source_columns(source: Source) -> dict[str, Any]:
    return {"source_type": source.type, "source_ref": source.ref,
            "source_turns": json.dumps(list(source.turns)), "source_time": source.time,
            "source_speaker": source.speaker}


def source_of(values: dict[str, Any]) -> Source:
    """The provenance held in a memory's column values."""
    return Source(values["source_type"], values["source_ref"], tuple(json.loads(values["source_turns"])),
                  values["source_time"], values["source_speaker"])


def check_kind(kind: str) -> str:
    kind = kind.strip() if isinstance(kind, str) else ""
    if not kind or len(kind) > 64:
        raise InvalidInput("A memory kind must be a word of 1 to 64 characters.")
    return kind


def check_source(source: Source) -> Source:
    if source.type not in SOURCE_TYPES:
        raise InvalidInput(f"Unknown source type {source.type!r}: use one of {', '.join(SOURCE_TYPES)}.")
    return source


def unique(ids: Iterable[int]) -> list[MemoryId]:
    """Each id once, in first-seen order."""
    return list(dict.fromkeys(MemoryId(int(i)) for i in ids))
