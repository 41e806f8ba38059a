"""Persona sets for the retrieval gate: a person's own bank and the questions they ask of it.

The shipped file (``cairn/models/gate_personas.json``, written for Cairn) holds several personas;
each has memories (diary notes, chat turns, documents, with who said them and when) and four kinds
of labelled messages: personal questions (must search the bank), world questions and tasks that
name the bank's own entities (must not), chit-chat (must not), and follow-ups whose label depends
on the previous turn. Another file in the same format can be given to ``cairn bench gate
--personas`` (the format is in ``docs/api.md``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from cairn.core.clock import ManualClock, parse_when
from cairn.core.errors import InvalidInput
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.storage.records import Source

SOURCE_TYPES = {"diary": "manual", "note": "manual", "chat": "conversation", "document": "document"}


@dataclass(frozen=True)
class Note:
    text: str
    source: str
    speaker: str
    ref: str
    when: float


@dataclass(frozen=True)
class Item:
    """One labelled message; ``previous`` is the turn before it (follow-ups only)."""

    text: str
    retrieve: bool
    kind: str
    form: str = ""
    previous: str | None = None
    previous_retrieve: bool = False


@dataclass(frozen=True)
class Persona:
    id: str
    user: str
    notes: tuple[Note, ...]
    items: tuple[Item, ...]


def shipped() -> Path:
    return Path(str(resources.files("cairn.models").joinpath("gate_personas.json")))


def load(path: Path | None = None) -> list[Persona]:
    """The personas in ``path`` (the shipped set by default); a clear error names what is wrong."""
    path = path or shipped()
    try:
        data = json.loads(Path(path).read_bytes())
        personas = [_persona(p) for p in data["personas"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"{path} is not a persona file ({{\"personas\": [{{id, user, memories, personal, "
                           f"world, chitchat, follow_ups}}]}}): {exc!r}.") from exc
    if not personas:
        raise InvalidInput(f"{path} holds no personas.")
    return personas


def _persona(p: dict[str, Any]) -> Persona:
    notes = tuple(Note(str(m["text"]), str(m.get("source", "note")), str(m.get("speaker") or "user"),
                       str(m.get("ref") or m.get("source", "note")), parse_when(str(m["when"]))) for m in p["memories"])
    items = [Item(str(q["q"]), kind == "personal", kind, str(q.get("form", "")))
             for kind in ("personal", "world", "chitchat") for q in p.get(kind, [])]
    items += [Item(str(f["q"]), bool(f["retrieve"]), "follow_ups", "follow_up", str(f["previous"]),
                   bool(f["previous_retrieve"])) for f in p.get("follow_ups", [])]
    return Persona(str(p["id"]), str(p.get("user", "user")), notes, tuple(items))


def ingest(bank: MemoryBank, clock: ManualClock, persona: Persona) -> None:
    """Remember the persona's notes in time order, each with its source, speaker and time. The
    user's own notes are stored under the speaker name ``user``, as ``cairn`` stores them."""
    for note in sorted(persona.notes, key=lambda n: n.when):
        clock.set(note.when)
        source = Source(SOURCE_TYPES.get(note.source, "manual"), note.ref, (), note.when, note.speaker)
        bank.remember(note.text, kind=note.source, source=source)
