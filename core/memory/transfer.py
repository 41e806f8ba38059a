"""Export and import of a memory bank as JSON Lines, lossless for memories and their history.

Line 1 is a header (format, version, embedder); each further line is one memory with its whole
history. Vectors are derived data: import re-embeds with the bank's embedder, and the header
records which embedder the exporting bank used. Import is all-or-nothing and idempotent:
memories whose uid the bank already has are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TextIO

from cairn.core.clock import iso
from cairn.core.errors import InvalidInput
from cairn.core.memory import store
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.records import Memory
from cairn.core.memory.textcheck import check_text, decode_utf8

FORMAT = "cairn-export"
VERSION = 2  # 2 added forgotten_by, replaced_by (a uid), valid_from/valid_to, importance_parts
_REQUIRED = ("uid", "text", "kind", "source", "created_at", "updated_at", "pinned", "importance",
             "strength", "last_recalled_at", "recall_count", "forgotten_at")


@dataclass(frozen=True)
class ImportReport:
    added: int
    skipped: int
    source_embedder: dict[str, Any] | None


def export(bank: MemoryBank, out: TextIO) -> int:
    """Write every memory (live and forgotten) with its history; returns how many."""
    stored = bank.stored_embedder()
    header = {"format": FORMAT, "version": VERSION, "exported_at": iso(bank.clock.now()),
              "embedder": {"id": stored[0], "dim": stored[1]} if stored else None}
    out.write(json.dumps(header, ensure_ascii=False) + "\n")
    count = 0
    with bank.db.guard():
        for memory in store.iter_memories(bank.db.conn):
            record = memory.to_dict()
            del record["id"]
            if memory.replaced_by is not None:
                survivor = store.get_memory(bank.db.conn, memory.replaced_by)
                record["replaced_by"] = survivor.uid if survivor else None
            record["history"] = [_history_record(h) for h in store.history(bank.db.conn, memory.uid)]
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def _history_record(entry: Any) -> dict[str, Any]:
    data = entry.to_dict()
    del data["id"], data["memory_uid"]
    return data


def import_(bank: MemoryBank, lines: Iterable[bytes | str]) -> ImportReport:
    """Read an export; add every memory the bank lacks, in one transaction."""
    header, records = parse(lines, bank.settings.memory.max_text_bytes)
    with bank.db.guard():
        fresh = [r for r in records if store.get_by_uid(bank.db.conn, r["uid"]) is None]
    vectors = bank.embedder.embed([r["text"] for r in fresh]) if fresh else []
    with bank.db.atomic() as conn:
        for record, vector in zip(fresh, vectors):
            values = _columns(record)
            if store.get_by_uid(conn, values["uid"]) is not None:
                continue  # imported by someone else meanwhile
            bank.insert_row(conn, values, vector)  # codes reach the in-memory index on its next load
            store.delete_history(conn, values["uid"])  # leftovers of an earlier purge of this memory
            for h in record["history"]:
                store.add_history(conn, values["uid"], h["action"], h["at"], h.get("old"), h.get("new"),
                                  h.get("reason"))
        _link_replacements(conn, fresh)
    bank.vectors.invalidate()
    return ImportReport(len(fresh), len(records) - len(fresh), header.get("embedder"))


def _link_replacements(conn: Any, records: list[dict[str, Any]]) -> None:
    """Merged memories point at their survivor by uid in the file, by local id in the bank."""
    for record in records:
        target = record.get("replaced_by")
        survivor = store.get_by_uid(conn, target) if isinstance(target, str) else None
        memory = store.get_by_uid(conn, record["uid"])
        if survivor is not None and memory is not None:
            store.update_memory(conn, memory.id, {"replaced_by": survivor.id})


def parse(lines: Iterable[bytes | str], max_text_bytes: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Validate a whole export before anything is written; errors name the line."""
    header: dict[str, Any] | None = None
    records: list[dict[str, Any]] = []
    for number, raw in enumerate(lines, start=1):
        text = decode_utf8(raw, f"export file (line {number})") if isinstance(raw, bytes) else raw
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"Line {number} of the import is not valid JSON ({exc.msg} at column {exc.colno}).",
                               hint="Nothing was imported.") from exc
        if header is None:
            header = _check_header(data, number)
        else:
            records.append(_check_record(data, number, max_text_bytes))
    if header is None:
        raise InvalidInput("The import is empty: no Cairn export header found.")
    return header, records


def _check_header(data: Any, number: int) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InvalidInput(f"Line {number} is not a Cairn export header (expected format {FORMAT!r}).")
    if not isinstance(data.get("version"), int) or data["version"] > VERSION:
        raise InvalidInput(f"This export has format version {data.get('version')!r}; this Cairn reads up to "
                           f"{VERSION}.", hint="Upgrade Cairn to import it.")
    return data


def _check_record(data: Any, number: int, max_text_bytes: int) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidInput(f"Line {number} of the import is not a JSON object.")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise InvalidInput(f"Line {number} of the import lacks {', '.join(missing)}.")
    check_text(data["text"], max_text_bytes, f"The text on line {number}")
    history = data.get("history", [])
    if not isinstance(history, list) or not all(isinstance(h, dict) and "action" in h and "at" in h
                                                for h in history):
        raise InvalidInput(f"Line {number} of the import has a malformed history.")
    if not isinstance(data["source"], dict):
        raise InvalidInput(f"Line {number} of the import has a malformed source.")
    bad = [k for k in _NUMBERS if not _is_number(data[k], nullable=k in _NULLABLE)]
    if bad or not isinstance(data["uid"], str) or not isinstance(data["kind"], str):
        raise InvalidInput(f"Line {number} of the import has values of the wrong type "
                           f"({', '.join(bad) or 'uid/kind'}).")
    return data


_NUMBERS = ("created_at", "updated_at", "importance", "strength", "last_recalled_at", "recall_count",
            "forgotten_at")
_NULLABLE = ("last_recalled_at", "forgotten_at")


def _is_number(value: Any, nullable: bool) -> bool:
    if value is None:
        return nullable
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _columns(record: dict[str, Any]) -> dict[str, Any]:
    src = record["source"]
    return {"uid": record["uid"], "text": record["text"].strip(), "kind": record["kind"],
            "source_type": src.get("type", "import"), "source_ref": src.get("ref"),
            "source_turns": json.dumps(list(src.get("turns", []))), "source_time": src.get("time"),
            "source_speaker": src.get("speaker"),
            "created_at": record["created_at"], "updated_at": record["updated_at"],
            "pinned": int(bool(record["pinned"])), "importance": record["importance"],
            "strength": record["strength"], "last_recalled_at": record["last_recalled_at"],
            "recall_count": record["recall_count"], "forgotten_at": record["forgotten_at"],
            "forgotten_by": record.get("forgotten_by"), "valid_from": record.get("valid_from"),
            "valid_to": record.get("valid_to"),
            "importance_parts": json.dumps(record.get("importance_parts") or {}, sort_keys=True)}


def same_memory(a: Memory, b: Memory) -> bool:
    """Equal in everything but the local id (what a round trip must preserve)."""
    return {**a.to_dict(), "id": 0} == {**b.to_dict(), "id": 0}
