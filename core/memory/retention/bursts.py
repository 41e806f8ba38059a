"""Bursts: a thought split over several messages is one memory.

In real chats people send one thought as several short messages in a row ("guess what", "I got
the job", "starting in March!"). Stored one by one, each is a fragment: its vector means little,
and the message that answers a later question is rarely the one that matches it. A conversation
message therefore *continues* the memory of the message just before it when

* both come from the same conversation (source reference) and the same speaker, and nobody
  spoke in between (the memory of the previous message is the newest of the conversation);
* it was sent at most ``retention.burst_seconds`` after that previous message;
* the memory stays within ``retention.burst_chars`` characters (well inside what the embedder
  reads; a long monologue still becomes several memories).

The continued memory gains the message's text and turn; the message keeps its own row, hidden
and pointing at the memory it joined (provenance and history, restorable like a merge).
"""

from __future__ import annotations

from typing import Any

from cairn.core.config import RetentionSettings
from cairn.core.memory.storage import store
from cairn.core.memory.storage.columns import source_of
from cairn.core.memory.storage.records import Memory

JOIN = " "  # between the messages of one memory
CONTINUED = "continued"  # the reason recorded in both histories (history action: merge)


def continued(conn: Any, values: dict[str, Any], settings: RetentionSettings) -> tuple[Memory, float] | None:
    """The live memory a new message (its column values) continues, with the seconds since the
    previous message; None when it starts a memory of its own."""
    source = source_of(values)
    if settings.burst_seconds <= 0 or source.type != "conversation" or not source.ref or not source.speaker:
        return None
    last = store.previous_in_source(conn, source.ref)
    if last is None or last.source.speaker != source.speaker:
        return None
    gap = when(values) - (last.source.time if last.source.time is not None else last.created_at)
    if not 0.0 <= gap <= settings.burst_seconds:
        return None
    target = last if last.replaced_by is None else store.get_memory(conn, last.replaced_by)
    if target is None or target.forgotten or target.kind != values["kind"] or target.source.ref != source.ref:
        return None
    if target.id != last.id and store.neighbours(conn, [target.id]).get(target.id, (None, None))[1] is not None:
        return None  # the previous message merged into an older memory, not the newest one
    if len(target.text) + len(JOIN) + len(values["text"]) > settings.burst_chars:
        return None
    return target, gap


def when(values: dict[str, Any]) -> float:
    """A new memory's date (its column values): its source time, else when it is stored."""
    time = values.get("source_time")
    return float(time) if time is not None else float(values["created_at"])
