"""Plain values the memory bank hands out: memories, their provenance, history entries, hits."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, NewType

from cairn.core.clock import iso

MemoryId = NewType("MemoryId", int)  # a memory's row id: never a count, a position or a turn number

SOURCE_TYPES = ("manual", "conversation", "document", "import", "demo")
EDITABLE = ("text", "kind", "pinned", "source", "importance")


@dataclass(frozen=True)
class Source:
    """Where a memory came from: what kind of source, which one, which turns, when, and who said it."""

    type: str = "manual"
    ref: str | None = None
    turns: tuple[str, ...] = ()
    time: float | None = None
    speaker: str | None = None

    def describe(self) -> str:
        parts = [self.type]
        if self.ref:
            parts.append(self.ref)
        if self.speaker:
            parts.append(f"said by {self.speaker}")
        if self.turns:
            parts.append("turn " + ", ".join(self.turns))
        if self.time is not None:
            parts.append(iso(self.time) or "")
        return " · ".join(parts)


@dataclass(frozen=True)
class Memory:
    id: MemoryId
    uid: str
    text: str
    kind: str
    source: Source
    created_at: float
    updated_at: float
    pinned: bool
    importance: float
    strength: float
    last_recalled_at: float | None
    recall_count: int
    forgotten_at: float | None
    forgotten_by: str | None = None  # user, sweep (archived) or merged
    replaced_by: int | None = None  # the memory this one was merged into
    valid_from: float | None = None
    valid_to: float | None = None  # set when a newer memory superseded this one
    importance_parts: dict[str, float] = field(default_factory=dict)
    client: str | None = None  # the program that wrote it (an MCP client); None: the user

    @property
    def forgotten(self) -> bool:
        return self.forgotten_at is not None

    @property
    def archived(self) -> bool:
        return self.forgotten_by == "sweep"

    @property
    def age_anchor(self) -> float:
        """When the forgetting clock last started: the last recall, else creation."""
        return self.last_recalled_at if self.last_recalled_at is not None else self.created_at

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["source"]["turns"] = list(self.source.turns)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Memory:
        """The inverse of :meth:`to_dict` (a memory that travelled as JSON)."""
        src = data["source"]
        source = Source(src["type"], src.get("ref"), tuple(src.get("turns") or ()), src.get("time"), src.get("speaker"))
        return cls(**{**data, "id": MemoryId(int(data["id"])), "source": source,
                      "importance_parts": dict(data.get("importance_parts") or {})})


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    memory_uid: str
    action: str
    at: float
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HistoryEntry:
        return cls(**data)


@dataclass(frozen=True)
class Recalled:
    """One recall result: the memory, its fused score and what each retriever said."""

    memory: Memory
    score: float
    signals: dict[str, float] = field(default_factory=dict)
    why: tuple[tuple[str, float], ...] = ()  # what pushed its rank most, in plain words (learned ranking)

    def to_dict(self) -> dict[str, Any]:
        return {"memory": self.memory.to_dict(), "score": self.score, "signals": dict(self.signals),
                "why": [list(reason) for reason in self.why]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recalled:
        why = tuple((str(words), float(push)) for words, push in data.get("why") or ())
        return cls(Memory.from_dict(data["memory"]), float(data["score"]), dict(data.get("signals") or {}), why)


@dataclass(frozen=True)
class RecallFilters:
    kinds: tuple[str, ...] = ()
    source_types: tuple[str, ...] = ()
    source_ref: str | None = None
    since: float | None = None
    until: float | None = None
    pinned_only: bool = False

    @property
    def active(self) -> bool:
        return bool(self.kinds or self.source_types or self.source_ref or self.pinned_only
                    or self.since is not None or self.until is not None)


def snapshot(m: Memory, fields: tuple[str, ...] = EDITABLE) -> dict[str, Any]:
    """The user-visible values of a memory that history records."""
    full = m.to_dict()
    return {f: full[f] for f in fields}
