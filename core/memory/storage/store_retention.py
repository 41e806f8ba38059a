"""SQL for retention: the conversation log, recent vectors, sweeps and consolidation.

Split from :mod:`cairn.core.memory.storage.store` to keep modules small; the same rule holds: every
function takes an open connection and the caller owns the transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from cairn.core.memory.storage import store
from cairn.core.memory.storage.records import Memory

# ---- conversation log -----------------------------------------------------------------------


@dataclass(frozen=True)
class LoggedTurn:
    id: int
    conversation: str
    turn: str | None
    speaker: str | None
    text: str
    at: float
    memory_id: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def log_turn(conn: Any, conversation: str, turn: str | None, speaker: str | None, text: str, at: float) -> int:
    cur = conn.execute("INSERT INTO conversation_log (conversation, turn, speaker, text, at) VALUES (?, ?, ?, ?, ?)",
                       (conversation, turn, speaker, text, at))
    return int(cur.lastrowid)


def link_turn(conn: Any, log_id: int, memory_id: int) -> None:
    conn.execute("UPDATE conversation_log SET memory_id = ? WHERE id = ?", (memory_id, log_id))


def last_turn(conn: Any, conversation: str, before: int) -> LoggedTurn | None:
    row = conn.execute("SELECT id, conversation, turn, speaker, text, at, memory_id FROM conversation_log "
                       "WHERE conversation = ? AND id < ? ORDER BY id DESC LIMIT 1", (conversation, before)).fetchone()
    return LoggedTurn(*row) if row else None


def conversation(conn: Any, name: str, limit: int | None = None) -> list[LoggedTurn]:
    rows = conn.execute("SELECT id, conversation, turn, speaker, text, at, memory_id FROM conversation_log "
                        "WHERE conversation = ? ORDER BY id LIMIT ?", (name, -1 if limit is None else limit))
    return [LoggedTurn(*r) for r in rows.fetchall()]


@dataclass(frozen=True)
class ConversationSummary:
    name: str
    turns: int
    memories: int  # turns that became memories
    first_at: float
    last_at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def logged(conn: Any, names: list[str]) -> list[str]:
    """Which of ``names`` the conversation log already has, in the order given."""
    have = {r[0] for r in conn.execute(f"SELECT DISTINCT conversation FROM conversation_log WHERE conversation IN "
                                       f"({', '.join('?' * len(names))})", names)} if names else set()
    return [n for n in names if n in have]


def conversations(conn: Any, limit: int | None = None, offset: int = 0) -> list[ConversationSummary]:
    """Every logged conversation, the most recent first."""
    rows = conn.execute("SELECT conversation, COUNT(*), COUNT(memory_id), MIN(at), MAX(at) FROM conversation_log "
                        "GROUP BY conversation ORDER BY MAX(id) DESC LIMIT ? OFFSET ?",
                        (-1 if limit is None else limit, offset)).fetchall()
    return [ConversationSummary(*r) for r in rows]


def rename_conversation(conn: Any, old: str, new: str) -> list[tuple[int, str]]:
    """Move a conversation's logged turns, and the memories whose source it is, to the name ``new``;
    returns (id, uid) of those memories."""
    conn.execute("UPDATE conversation_log SET conversation = ? WHERE conversation = ?", (new, old))
    moved = conn.execute("SELECT id, uid FROM memories WHERE source_type = 'conversation' AND source_ref = ?",
                         (old,)).fetchall()
    conn.execute("UPDATE memories SET source_ref = ? WHERE source_type = 'conversation' AND source_ref = ?", (new, old))
    return [(int(r[0]), str(r[1])) for r in moved]


def delete_conversation(conn: Any, name: str) -> list[int]:
    """Erase a conversation's logged turns; returns the ids of the memories they became."""
    ids = [r[0] for r in conn.execute("SELECT DISTINCT memory_id FROM conversation_log WHERE conversation = ? "
                                      "AND memory_id IS NOT NULL", (name,)).fetchall()]
    conn.execute("DELETE FROM conversation_log WHERE conversation = ?", (name,))
    return ids


def count_turns(conn: Any) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM conversation_log").fetchone()[0])


def iter_turns(conn: Any, batch: int = 1000) -> Any:
    """Every logged turn in id order (for export)."""
    last = 0
    while True:
        rows = conn.execute("SELECT id, conversation, turn, speaker, text, at, memory_id FROM conversation_log "
                            "WHERE id > ? ORDER BY id LIMIT ?", (last, batch)).fetchall()
        if not rows:
            return
        yield from (LoggedTurn(*r) for r in rows)
        last = rows[-1][0]


def has_turn(conn: Any, conversation: str, turn: str | None, speaker: str | None, text: str, at: float) -> bool:
    row = conn.execute("SELECT 1 FROM conversation_log WHERE conversation = ? AND turn IS ? AND speaker IS ? "
                       "AND text = ? AND at = ?", (conversation, turn, speaker, text, at)).fetchone()
    return row is not None


def recalls(conn: Any, memory_id: int, limit: int = 20) -> list[dict[str, float]]:
    """A memory's latest recalls, oldest first: when, and its strength before and after."""
    rows = conn.execute("SELECT at, strength_before, strength_after FROM recall_log WHERE memory_id = ? "
                        "ORDER BY id DESC LIMIT ?", (memory_id, limit)).fetchall()
    return [{"at": r[0], "strength_before": r[1], "strength_after": r[2]} for r in reversed(rows)]


def delete_recalls_of(conn: Any, memory_id: int) -> None:
    conn.execute("DELETE FROM recall_log WHERE memory_id = ?", (memory_id,))


def delete_turns_of(conn: Any, memory_id: int) -> None:
    """Erase the logged turns a memory came from (purge must leave no copy of its text)."""
    conn.execute("DELETE FROM conversation_log WHERE memory_id = ?", (memory_id,))


def merged_into(conn: Any, memory_id: int) -> list[Memory]:
    """The hidden near-duplicate copies merged into a memory."""
    return [m for m in (store.get_memory(conn, r[0]) for r in
                        conn.execute("SELECT id FROM memories WHERE replaced_by = ?", (memory_id,)).fetchall()) if m]


# ---- neighbours for novelty and consolidation -----------------------------------------------

def recent_vectors(conn: Any, source_ref: str | None, limit: int) -> tuple[list[int], np.ndarray]:
    """The vectors of the latest ``limit`` live memories of the same source (or of any, without one)."""
    where = "m.source_ref = ?" if source_ref else "1"
    args: list[Any] = [source_ref] if source_ref else []
    # `+forgotten_at`: walk ids backwards (or the source's index) instead of the live-state index
    rows = conn.execute(f"SELECT m.id FROM memories m WHERE {where} AND +m.forgotten_at IS NULL "
                        "ORDER BY m.id DESC LIMIT ?", [*args, limit]).fetchall()
    return store.vectors_for(conn, [r[0] for r in rows])


# ---- sweeps ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class LiveState:
    """Columns of every live memory, as arrays, for vectorised sweeps."""

    ids: np.ndarray
    pinned: np.ndarray
    importance: np.ndarray
    strength: np.ndarray
    anchor: np.ndarray  # last recall, else creation (Unix seconds)
    superseded: np.ndarray  # a newer memory changed it (valid_to is set)


def live_state(conn: Any) -> LiveState:
    rows = conn.execute("SELECT id, pinned, importance, strength, COALESCE(last_recalled_at, created_at), "
                        "valid_to IS NOT NULL FROM memories WHERE forgotten_at IS NULL ORDER BY id").fetchall()
    data = np.array(rows, dtype=np.float64).reshape(len(rows), 6)
    return LiveState(data[:, 0].astype(np.int64), data[:, 1] > 0, data[:, 2], data[:, 3], data[:, 4], data[:, 5] > 0)


def archive_many(conn: Any, entries: list[tuple[int, str, dict[str, Any]]], now: float) -> None:
    """Archive (id, reason, numbers) entries: hidden from recall, restorable, each in the history."""
    if not entries:
        return
    ids = [e[0] for e in entries]
    conn.executemany("UPDATE memories SET forgotten_at = ?, forgotten_by = 'sweep' WHERE id = ?",
                     [(now, i) for i in ids])
    if store.vec_table_exists(conn):
        conn.executemany("UPDATE memory_vec SET active = 0 WHERE rowid = ?", [(i,) for i in ids])
    uids = dict(_uids(conn, ids))
    conn.executemany(
        "INSERT INTO history (memory_uid, action, at, old_value, new_value, reason) VALUES (?, 'archive', ?, ?, ?, ?)",
        [(uids[i], now, json.dumps({"forgotten_at": None}),
          json.dumps({"forgotten_at": now, **numbers}, sort_keys=True), reason) for i, reason, numbers in entries])


def _uids(conn: Any, ids: list[int]) -> Iterable[tuple[int, str]]:
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        yield from conn.execute(f"SELECT id, uid FROM memories WHERE id IN ({', '.join('?' * len(chunk))})",
                                chunk).fetchall()


def reinforce_many(conn: Any, updates: Sequence[tuple[int, float]], now: float) -> None:
    """Record a recall: new strength, recall count + 1, the forgetting clock restarted, and a line
    in the recall log (strength before and after)."""
    conn.executemany("INSERT INTO recall_log (memory_id, at, strength_before, strength_after) "
                     "SELECT id, ?, strength, ? FROM memories WHERE id = ?", [(now, s, i) for i, s in updates])
    conn.executemany("UPDATE memories SET strength = ?, recall_count = recall_count + 1, last_recalled_at = ? "
                     "WHERE id = ?", [(s, now, i) for i, s in updates])

