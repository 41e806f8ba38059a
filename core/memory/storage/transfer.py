"""Export and import of a memory bank as JSON Lines, lossless for memories, their history and the
conversation log (format: :mod:`cairn.core.memory.storage.export_format`).

Vectors are derived data: import re-embeds with the bank's embedder, and the header records which
embedder the exporting bank used. Export reads one consistent snapshot (a read transaction), so the
counts in its header and end marker are those of the lines written. Import checks the whole file
first (end marker, checksum, every value), then adds everything in one transaction; it is
idempotent: memories whose uid the bank already has, and turns it already logged, are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TextIO

import numpy as np

from cairn.core.clock import iso
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.retrieval.vectors import key_text
from cairn.core.memory.storage import export_format as fmt
from cairn.core.memory.storage import store, store_retention, tables
from cairn.core.memory.storage.records import Memory

FORMAT, VERSION = fmt.FORMAT, fmt.VERSION


@dataclass(frozen=True)
class ImportReport:
    added: int
    skipped: int
    source_embedder: dict[str, Any] | None
    turns_added: int = 0
    verified: bool = True


@dataclass(frozen=True)
class ExportReport:
    memories: int
    turns: int


def export(bank: MemoryBank, out: TextIO) -> int:
    """Write every memory (live and forgotten) with its history, then the conversation log, then
    the end marker; returns how many memories."""
    return export_all(bank, out).memories


def export_all(bank: MemoryBank, out: TextIO) -> ExportReport:
    stored = bank.stored_embedder()
    with bank.db.reading() as conn:
        counts = store.count_memories(conn)
        records, turns = counts["live"] + counts["forgotten"], store_retention.count_turns(conn)
        digest = fmt.Checksum()
        embedder = {"id": stored[0], "dim": stored[1]} if stored else None
        out.write(digest.line(fmt.dump(fmt.header(iso(bank.clock.now()), embedder, records, turns))))
        uids: dict[int, str] = {}
        for memory in store.iter_memories(conn):
            uids[memory.id] = memory.uid
            out.write(digest.line(fmt.dump(_memory_record(conn, memory))))
        for turn in store_retention.iter_turns(conn):
            record = {"type": "turn", "conversation": turn.conversation, "turn": turn.turn, "speaker": turn.speaker,
                      "text": turn.text, "at": turn.at, "memory": uids.get(turn.memory_id) if turn.memory_id else None}
            out.write(digest.line(fmt.dump(record)))
        out.write(fmt.dump(fmt.end_marker(records, turns, digest.hexdigest())))
    return ExportReport(records, turns)


def _memory_record(conn: Any, memory: Memory) -> dict[str, Any]:
    record = memory.to_dict()
    del record["id"]
    if memory.replaced_by is not None:
        survivor = store.get_memory(conn, memory.replaced_by)
        record["replaced_by"] = survivor.uid if survivor else None
    record["history"] = [_history_record(h) for h in store.history(conn, memory.uid)]
    return record


def _history_record(entry: Any) -> dict[str, Any]:
    data: dict[str, Any] = entry.to_dict()
    del data["id"], data["memory_uid"]
    return data


def import_(bank: MemoryBank, lines: Iterable[bytes | str], allow_unverified: bool = False) -> ImportReport:
    """Read an export; add every memory and logged turn the bank lacks, in one transaction.
    Nothing is written unless the whole file checks out."""
    parsed = fmt.parse(lines, bank.settings.memory.max_text_bytes, allow_unverified)
    with bank.db.guard():
        fresh = [r for r in parsed.memories if store.get_by_uid(bank.db.conn, r["uid"]) is None]
    vectors: np.ndarray | list[np.ndarray] = (bank.embed_keys([key_text(r["text"], r["source"]["speaker"]) for r in fresh])
                                              if fresh else [])
    with bank.db.atomic() as conn:
        history: list[dict[str, Any]] = []
        for record, vector in zip(fresh, vectors, strict=False):
            if store.get_by_uid(conn, record["uid"]) is not None:
                continue  # imported by someone else meanwhile
            bank.insert_row(conn, _columns(record), vector)  # codes reach the in-memory index on its next load
            store.delete_history(conn, record["uid"])  # leftovers of an earlier purge of this memory
            history += [store.history_row(record["uid"], h["action"], h["at"], h["old"], h["new"], h["reason"])
                        for h in record["history"]]
        tables.insert_rows(conn, "history", history)
        _link_replacements(conn, fresh)
        turns = _add_turns(conn, parsed.turns)
    bank.vectors.invalidate()
    return ImportReport(len(fresh), len(parsed.memories) - len(fresh), parsed.header.get("embedder"), turns,
                        parsed.verified)


def _add_turns(conn: Any, turns: list[dict[str, Any]]) -> int:
    """The logged turns the bank lacks (each once), added in bulk; returns how many."""
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for t in turns:
        key = (t["conversation"], t["turn"], t["speaker"], t["text"], t["at"])
        if key in rows or store_retention.has_turn(conn, *key):
            continue
        memory = store.get_by_uid(conn, t["memory"]) if t["memory"] else None
        rows[key] = {"conversation": t["conversation"], "turn": t["turn"], "speaker": t["speaker"], "text": t["text"],
                     "at": t["at"], "memory_id": memory.id if memory is not None else None}
    return tables.insert_rows(conn, "conversation_log", rows.values())


def _link_replacements(conn: Any, records: list[dict[str, Any]]) -> None:
    """Merged memories point at their survivor by uid in the file, by local id in the bank."""
    for record in records:
        target = record.get("replaced_by")
        survivor = store.get_by_uid(conn, target) if isinstance(target, str) else None
        memory = store.get_by_uid(conn, record["uid"])
        if survivor is not None and memory is not None:
            store.update_memory(conn, memory.id, {"replaced_by": survivor.id})


def _columns(record: dict[str, Any]) -> dict[str, Any]:
    src = record["source"]
    return {"uid": record["uid"], "text": record["text"], "kind": record["kind"],
            "source_type": src["type"], "source_ref": src["ref"], "source_turns": json.dumps(src["turns"]),
            "source_time": src["time"], "source_speaker": src["speaker"],
            "created_at": record["created_at"], "updated_at": record["updated_at"],
            "pinned": int(record["pinned"]), "importance": record["importance"],
            "strength": record["strength"], "last_recalled_at": record["last_recalled_at"],
            "recall_count": record["recall_count"], "forgotten_at": record["forgotten_at"],
            "forgotten_by": record["forgotten_by"], "valid_from": record["valid_from"],
            "valid_to": record["valid_to"],
            "importance_parts": json.dumps(record["importance_parts"], sort_keys=True), "client": record["client"]}


def same_memory(a: Memory, b: Memory) -> bool:
    """Equal in everything but the local id (what a round trip must preserve)."""
    return {**a.to_dict(), "id": 0} == {**b.to_dict(), "id": 0}
