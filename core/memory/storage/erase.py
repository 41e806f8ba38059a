"""Erasing for good: a purged memory's row, vector, full text, its text in history and in its
neighbours' full-text context, then the freed pages and the write-ahead log, so that no copy of
the text is left in any database file."""

from __future__ import annotations

from typing import Any

from cairn.core.errors import DatabaseBusy
from cairn.core.memory.retrieval.vectors import key_text
from cairn.core.memory.storage import store, store_retention
from cairn.core.memory.storage.db import Database
from cairn.core.memory.storage.records import Memory


def erase_all(conn: Any, memories: list[Memory], reason: str | None, now: float) -> list[Memory]:
    """Delete ``memories`` everywhere (inside the caller's transaction); returns them."""
    for memory in memories:
        store.delete_memory(conn, memory.id)
        if store.vec_table_exists(conn):
            store.vec_delete(conn, memory.id)
        store.fts_delete(conn, memory.id)
        store.df_add(conn, memory.text, -1)
        store_retention.delete_turns_of(conn, memory.id)
        store_retention.delete_recalls_of(conn, memory.id)
        store.scrub_history_text(conn, memory.uid)
        store.add_history(conn, memory.uid, "purge", now, None, None, reason)
    for neighbour in store.source_neighbours(conn, [(m.source.ref, m.id) for m in memories]):
        relink(conn, neighbour)
    return memories


def relink(conn: Any, memory: Memory) -> None:
    """Rebuild a memory's full-text context from its current neighbours in the same source
    (after one of them was purged or edited, its old text must not linger there)."""
    before, after = store.adjacent_in_source(conn, memory)
    lines = [key_text(m.text, m.source.speaker) for m in (before, after) if m is not None]
    store.fts_put(conn, memory.id, memory.source.speaker, memory.text, "\n".join(lines))


def require_no_readers(db: Database, action: str) -> None:
    """Refuse (nothing changed) while another connection holds a read that keeps old pages alive."""
    if not db.clear_wal():
        raise DatabaseBusy(
            f"Another program is reading the memory database {db.path}, so the {action} could not remove "
            "every copy of the text; nothing was changed.",
            hint="Close other Cairn windows or commands (or stop the Cairn daemon) and try again.")


def scrub(db: Database, action: str) -> None:
    """After erasing: merge the full-text segments (old ones still hold the words), then copy the
    log into the database file and empty it (old page images hold the text)."""
    with db.atomic() as conn:
        store.fts_optimize(conn)
    if not db.clear_wal():
        with db.atomic() as conn:
            store.meta_set(conn, "scrub_pending", "1")
        raise DatabaseBusy(
            f"The {action} is done, but another program started reading the memory database meanwhile, so old "
            "copies of the text stay in its write-ahead log until that program stops.",
            hint="Close it; Cairn empties the log the next time it opens the database.")


def finish_scrub(db: Database) -> None:
    """Empty the write-ahead log if an earlier purge could not (a reader was in the way)."""
    with db.guard():
        pending = store.meta_get(db.conn, "scrub_pending")
    if pending and db.clear_wal():
        with db.atomic() as conn:
            store.meta_delete(conn, "scrub_pending")
        db.clear_wal()
