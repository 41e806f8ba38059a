"""All SQL for the memory bank. Every function takes an open connection; callers own transactions."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from cairn.core.memory.lexicon import is_stopword
from cairn.core.memory.storage.records import HistoryEntry, Memory, RecallFilters, Source

COLUMNS = ("id", "uid", "text", "kind", "source_type", "source_ref", "source_turns", "source_speaker", "source_time",
           "created_at", "updated_at", "pinned", "importance", "strength", "last_recalled_at",
           "recall_count", "forgotten_at", "forgotten_by", "replaced_by", "valid_from", "valid_to",
           "importance_parts", "client")
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM memories"
UPDATABLE = {"text", "kind", "source_type", "source_ref", "source_turns", "source_speaker", "source_time", "pinned",
             "importance", "strength", "last_recalled_at", "recall_count", "forgotten_at", "updated_at",
             "forgotten_by", "replaced_by", "valid_from", "valid_to", "importance_parts"}


def _row_to_memory(row: tuple[Any, ...]) -> Memory:
    d = dict(zip(COLUMNS, row, strict=False))
    source = Source(d["source_type"], d["source_ref"], tuple(json.loads(d["source_turns"])), d["source_time"],
                    d["source_speaker"])
    return Memory(d["id"], d["uid"], d["text"], d["kind"], source, d["created_at"], d["updated_at"],
                  bool(d["pinned"]), d["importance"], d["strength"], d["last_recalled_at"],
                  d["recall_count"], d["forgotten_at"], d["forgotten_by"], d["replaced_by"],
                  d["valid_from"], d["valid_to"], json.loads(d["importance_parts"]), d["client"])


def memory_row(m: Memory) -> dict[str, Any]:
    """A memory as column values (the inverse of reading a row)."""
    return {"id": m.id, "uid": m.uid, "text": m.text, "kind": m.kind, "source_type": m.source.type,
            "source_ref": m.source.ref, "source_turns": json.dumps(list(m.source.turns)),
            "source_speaker": m.source.speaker, "source_time": m.source.time, "created_at": m.created_at,
            "updated_at": m.updated_at,
            "pinned": int(m.pinned), "importance": m.importance, "strength": m.strength,
            "last_recalled_at": m.last_recalled_at, "recall_count": m.recall_count,
            "forgotten_at": m.forgotten_at, "forgotten_by": m.forgotten_by, "replaced_by": m.replaced_by,
            "valid_from": m.valid_from, "valid_to": m.valid_to,
            "importance_parts": json.dumps(m.importance_parts, sort_keys=True), "client": m.client}


# ---- memories -------------------------------------------------------------------------------

def insert_memory(conn: Any, values: dict[str, Any]) -> int:
    cols = [c for c in COLUMNS if c in values and not (c == "id" and values[c] is None)]
    sql = f"INSERT INTO memories ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    return int(conn.execute(sql, [values[c] for c in cols]).lastrowid)


def get_memory(conn: Any, memory_id: int) -> Memory | None:
    row = conn.execute(f"{_SELECT} WHERE id = ?", (memory_id,)).fetchone()
    return _row_to_memory(row) if row else None


def get_by_uid(conn: Any, uid: str) -> Memory | None:
    row = conn.execute(f"{_SELECT} WHERE uid = ?", (uid,)).fetchone()
    return _row_to_memory(row) if row else None


def get_many(conn: Any, ids: list[int]) -> dict[int, Memory]:
    if not ids:
        return {}
    rows = conn.execute(f"{_SELECT} WHERE id IN ({', '.join('?' * len(ids))})", ids).fetchall()
    return {row[0]: _row_to_memory(row) for row in rows}


def list_memories(conn: Any, state: str = "live", limit: int | None = None, offset: int = 0,
                  kind: str | None = None) -> list[Memory]:
    where, args = _state_clause(state)
    if kind:
        where.append("kind = ?")
        args.append(kind)
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
    sql += " LIMIT ? OFFSET ?"
    args += [-1 if limit is None else limit, offset]
    return [_row_to_memory(r) for r in conn.execute(sql, args).fetchall()]


def iter_memories(conn: Any, batch: int = 500) -> Iterator[Memory]:
    """Every memory, live and forgotten, in id order, read in batches."""
    last = 0
    while True:
        rows = conn.execute(f"{_SELECT} WHERE id > ? ORDER BY id LIMIT ?", (last, batch)).fetchall()
        if not rows:
            return
        for row in rows:
            yield _row_to_memory(row)
        last = rows[-1][0]


def _state_clause(state: str) -> tuple[list[str], list[Any]]:
    if state == "live":
        return ["forgotten_at IS NULL"], []
    if state == "forgotten":
        return ["forgotten_at IS NOT NULL"], []
    if state == "archived":
        return ["forgotten_by = 'sweep'"], []
    return [], []


def count_memories(conn: Any) -> dict[str, int]:
    live, forgotten = conn.execute(
        "SELECT COUNT(*) FILTER (WHERE forgotten_at IS NULL), "
        "COUNT(*) FILTER (WHERE forgotten_at IS NOT NULL) FROM memories").fetchone()
    return {"live": live, "forgotten": forgotten}


def update_memory(conn: Any, memory_id: int, values: dict[str, Any]) -> None:
    bad = set(values) - UPDATABLE
    if bad:
        raise ValueError(f"not updatable: {sorted(bad)}")
    sets = ", ".join(f"{k} = ?" for k in values)
    conn.execute(f"UPDATE memories SET {sets} WHERE id = ?", [*values.values(), memory_id])


def delete_memory(conn: Any, memory_id: int) -> None:
    conn.execute("DELETE FROM memories WHERE id = ?", (memory_id,))


# ---- full-text ------------------------------------------------------------------------------

def fts_put(conn: Any, memory_id: int, speaker: str | None, text: str, context: str = "") -> None:
    conn.execute("DELETE FROM memory_fts WHERE rowid = ?", (memory_id,))
    conn.execute("INSERT INTO memory_fts (rowid, speaker, text, context) VALUES (?, ?, ?, ?)",
                 (memory_id, speaker or "", text, context))


def fts_context(conn: Any, memory_id: int) -> str:
    row = conn.execute("SELECT context FROM memory_fts WHERE rowid = ?", (memory_id,)).fetchone()
    return row[0] if row else ""


def fts_delete(conn: Any, memory_id: int) -> None:
    conn.execute("DELETE FROM memory_fts WHERE rowid = ?", (memory_id,))


def fts_optimize(conn: Any) -> None:
    """Merge FTS segments so deleted text no longer lingers in old index pages."""
    conn.execute("INSERT INTO memory_fts (memory_fts) VALUES ('optimize')")


def query_words(text: str) -> list[str]:
    """The query's distinct content words (all its words if every one is a stop word)."""
    words = re.findall(r"\w+", text.casefold())
    return list(dict.fromkeys([w for w in words if not is_stopword(w)] or words))


def fts_query(text: str, columns: str = "", words: list[str] | None = None) -> str | None:
    """An FTS5 MATCH expression: any of the words, each quoted (no operator injection),
    optionally limited to some columns (e.g. ``"speaker text"``)."""
    unique = query_words(text) if words is None else words
    if not unique:
        return None
    expr = " OR ".join('"' + w.replace('"', '""') + '"' for w in unique)
    return f"{{{columns}}} : ({expr})" if columns else expr


def document_frequency(conn: Any, words: list[str]) -> dict[str, int]:
    """How many memories hold each word (as :func:`query_words` splits text)."""
    out = {w: 0 for w in words}
    if words:
        rows = conn.execute(f"SELECT term, df FROM term_df WHERE term IN ({', '.join('?' * len(words))})", words)
        out.update({t: int(n) for t, n in rows.fetchall()})
    return out


def df_add(conn: Any, text: str, delta: int) -> None:
    """Count (or uncount, with delta -1) the words of one memory's text."""
    words = query_words(text)
    conn.executemany("INSERT INTO term_df (term, df) VALUES (?, ?) "
                     "ON CONFLICT (term) DO UPDATE SET df = df + excluded.df", [(w, delta) for w in words])
    if delta < 0 and words:  # a word no memory holds any more leaves no trace
        conn.execute(f"DELETE FROM term_df WHERE df <= 0 AND term IN ({', '.join('?' * len(words))})", words)


def terms_like(conn: Any, word: str, slack: int, limit: int = 60) -> list[tuple[str, int]]:
    """(term, df) of the bank's words that share ``word``'s first two letters and are within
    ``slack`` letters of its length: the candidates for a misspelling of it."""
    rows = conn.execute("SELECT term, df FROM term_df WHERE term >= ? AND term < ? AND length(term) BETWEEN ? AND ? "
                        "AND df > 0 LIMIT ?", (word[:2], word[:2] + "\U0010ffff", len(word) - slack,
                                              len(word) + slack, limit))
    return [(t, int(n)) for t, n in rows.fetchall()]


def data_version(conn: Any) -> int:
    """Changes whenever another connection commits (SQLite's ``data_version``)."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


def approximate_count(conn: Any) -> int:
    """An upper bound on the number of memories, in constant time (the largest id)."""
    return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM memories").fetchone()[0])


def fts_search(conn: Any, match: str, limit: int, filters: RecallFilters) -> list[tuple[int, float]]:
    """(id, score) of the best full-text matches, higher is better (negated BM25)."""
    where, args = _filter_clause(filters)
    sql = ("SELECT f.rowid, -bm25(memory_fts) FROM memory_fts f JOIN memories m ON m.id = f.rowid "
           "WHERE memory_fts MATCH ? AND " + " AND ".join(where) + " ORDER BY rank LIMIT ?")
    return [(int(r[0]), float(r[1])) for r in conn.execute(sql, [match, *args, limit]).fetchall()]


def fts_texts(conn: Any, match: str, limit: int) -> list[str]:
    """Speaker and text of the best live full-text matches, best first (for the gate's probe)."""
    sql = ("SELECT COALESCE(m.source_speaker, '') || ' ' || m.text FROM memory_fts f JOIN memories m ON m.id = f.rowid "
           "WHERE memory_fts MATCH ? AND m.forgotten_at IS NULL ORDER BY rank LIMIT ?")
    return [str(r[0]) for r in conn.execute(sql, [match, limit]).fetchall()]


def neighbours(conn: Any, ids: list[int]) -> dict[int, tuple[int | None, int | None]]:
    """For each memory, the live memories just before and after it from the same source."""
    if not ids:
        return {}
    sql = ("SELECT m.id, "
           "(SELECT MAX(p.id) FROM memories p WHERE p.source_ref = m.source_ref AND p.id < m.id "
           " AND p.forgotten_at IS NULL), "
           "(SELECT MIN(n.id) FROM memories n WHERE n.source_ref = m.source_ref AND n.id > m.id "
           " AND n.forgotten_at IS NULL) "
           f"FROM memories m WHERE m.source_ref IS NOT NULL AND m.id IN ({', '.join('?' * len(ids))})")
    return {r[0]: (r[1], r[2]) for r in conn.execute(sql, ids).fetchall()}


def speakers(conn: Any) -> list[str]:
    """Everyone who said something the bank remembers."""
    rows = conn.execute("SELECT DISTINCT source_speaker FROM memories WHERE source_speaker IS NOT NULL").fetchall()
    return [r[0] for r in rows]


def adjacent_in_source(conn: Any, memory: Memory) -> tuple[Memory | None, Memory | None]:
    """The memories just before and after ``memory`` from the same source (any state)."""
    if not memory.source.ref:
        return None, None
    after = conn.execute(f"{_SELECT} WHERE source_ref = ? AND id > ? ORDER BY id LIMIT 1",
                         (memory.source.ref, memory.id)).fetchone()
    return previous_in_source(conn, memory.source.ref, memory.id), _row_to_memory(after) if after else None


def source_neighbours(conn: Any, places: list[tuple[str | None, int]]) -> list[Memory]:
    """The memories now adjacent to each (source ref, id) place, e.g. of memories just deleted."""
    out: dict[int, Memory] = {}
    for ref, memory_id in places:
        if not ref:
            continue
        for sql in (f"{_SELECT} WHERE source_ref = ? AND id < ? ORDER BY id DESC LIMIT 1",
                    f"{_SELECT} WHERE source_ref = ? AND id > ? ORDER BY id LIMIT 1"):
            row = conn.execute(sql, (ref, memory_id)).fetchone()
            if row:
                out[row[0]] = _row_to_memory(row)
    return list(out.values())


def purge_closure(conn: Any, memories: list[Memory]) -> list[Memory]:
    """What purging ``memories`` must erase: them, the copies merged into them (transitively), the
    memory a copy was merged into when that holds its text (a continued message), and the facts
    extracted from the same conversation turns."""
    out = {m.id: m for m in memories}
    frontier = list(memories)
    while frontier:
        m = frontier.pop()
        rows = conn.execute(f"{_SELECT} WHERE replaced_by = ?", (m.id,)).fetchall()
        if m.replaced_by is not None:
            rows += [r for r in conn.execute(f"{_SELECT} WHERE id = ?", (m.replaced_by,)).fetchall()
                     if m.text in r[COLUMNS.index("text")]]
        if m.source.ref and m.source.turns:
            rows += [r for r in conn.execute(f"{_SELECT} WHERE kind = 'fact' AND source_ref = ? AND id != ?",
                                             (m.source.ref, m.id)).fetchall()
                     if set(json.loads(r[COLUMNS.index("source_turns")])) & set(m.source.turns)]
        for row in rows:
            if row[0] not in out:
                out[row[0]] = _row_to_memory(row)
                frontier.append(out[row[0]])
    return list(out.values())


def previous_in_source(conn: Any, source_ref: str, before: int | None = None, live: bool = False) -> Memory | None:
    """The memory just before id ``before`` (None: the newest) from the same source (``live``:
    the live one)."""
    where = ("" if before is None else " AND id < ?") + (" AND forgotten_at IS NULL" if live else "")
    args = (source_ref,) if before is None else (source_ref, before)
    row = conn.execute(f"{_SELECT} WHERE source_ref = ?{where} ORDER BY id DESC LIMIT 1", args).fetchone()
    return _row_to_memory(row) if row else None


def _filter_clause(f: RecallFilters) -> tuple[list[str], list[Any]]:
    where: list[str] = ["m.forgotten_at IS NULL"]
    args: list[Any] = []
    if f.kinds:
        where.append(f"m.kind IN ({', '.join('?' * len(f.kinds))})")
        args += list(f.kinds)
    if f.source_types:
        where.append(f"m.source_type IN ({', '.join('?' * len(f.source_types))})")
        args += list(f.source_types)
    if f.source_ref:
        where.append("m.source_ref = ?")
        args.append(f.source_ref)
    if f.pinned_only:
        where.append("m.pinned = 1")
    if f.since is not None:
        where.append("COALESCE(m.source_time, m.created_at) >= ?")
        args.append(f.since)
    if f.until is not None:
        where.append("COALESCE(m.source_time, m.created_at) <= ?")
        args.append(f.until)
    return where, args


def matches_filters(m: Memory, f: RecallFilters) -> bool:
    when = m.source.time if m.source.time is not None else m.created_at
    return not (m.forgotten
                or (f.kinds and m.kind not in f.kinds)
                or (f.source_types and m.source.type not in f.source_types)
                or (f.source_ref and m.source.ref != f.source_ref)
                or (f.pinned_only and not m.pinned)
                or (f.since is not None and when < f.since)
                or (f.until is not None and when > f.until))


# ---- vectors --------------------------------------------------------------------------------
# Float vectors live in a plain table (fast lookups by id for exact re-scoring); their binary codes
# live there too and in a sqlite-vec `vec0` bit table, which does the in-database KNN.

def vec_table_exists(conn: Any) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'memory_vec'").fetchone()
    return row is not None


def vec_create(conn: Any, dim: int) -> None:
    conn.execute(f"CREATE VIRTUAL TABLE memory_vec USING vec0(code bit[{int(dim)}], active integer)")


def vec_drop(conn: Any) -> None:
    conn.execute("DROP TABLE IF EXISTS memory_vec")
    conn.execute("DELETE FROM memory_vectors")


def vec_put(conn: Any, memory_id: int, vector: np.ndarray, code: np.ndarray, active: bool) -> None:
    blob = np.asarray(vector, dtype=np.float32).tobytes()
    conn.execute("INSERT INTO memory_vectors (id, vec, code) VALUES (?, ?, ?) "
                 "ON CONFLICT (id) DO UPDATE SET vec = excluded.vec, code = excluded.code",
                 (memory_id, blob, code.tobytes()))
    conn.execute("DELETE FROM memory_vec WHERE rowid = ?", (memory_id,))
    conn.execute("INSERT INTO memory_vec (rowid, code, active) VALUES (?, vec_bit(?), ?)",
                 (memory_id, code.tobytes(), int(active)))


def vec_set_active(conn: Any, memory_id: int, active: bool) -> None:
    conn.execute("UPDATE memory_vec SET active = ? WHERE rowid = ?", (int(active), memory_id))


def vec_delete(conn: Any, memory_id: int) -> None:
    conn.execute("DELETE FROM memory_vec WHERE rowid = ?", (memory_id,))
    conn.execute("DELETE FROM memory_vectors WHERE id = ?", (memory_id,))


def vec_count(conn: Any) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM memory_vectors").fetchone()[0])


def vec_knn_codes(conn: Any, code: np.ndarray, k: int) -> list[int]:
    """sqlite-vec KNN by Hamming distance over the live memories' codes."""
    sql = "SELECT rowid FROM memory_vec WHERE code MATCH vec_bit(?) AND k = ? AND active = 1"
    return [int(r[0]) for r in conn.execute(sql, (code.tobytes(), int(k))).fetchall()]


def vectors_for(conn: Any, ids: list[int]) -> tuple[list[int], np.ndarray]:
    """The stored vectors of ``ids`` (those that have one), as (ids, matrix)."""
    found: list[int] = []
    blobs: list[bytes] = []
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        rows = conn.execute(f"SELECT id, vec FROM memory_vectors WHERE id IN ({', '.join('?' * len(chunk))})",
                            chunk).fetchall()
        found += [r[0] for r in rows]
        blobs += [r[1] for r in rows]
    if not found:
        return [], np.zeros((0, 0), dtype=np.float32)
    return found, np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(found), -1)


def iter_vectors(conn: Any, batch: int = 4096) -> Any:
    """(ids, matrix) batches of every stored vector, in id order."""
    last = 0
    while True:
        rows = conn.execute("SELECT id, vec FROM memory_vectors WHERE id > ? ORDER BY id LIMIT ?",
                            (last, batch)).fetchall()
        if not rows:
            return
        yield [int(r[0]) for r in rows], np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
        last = rows[-1][0]


def live_codes(conn: Any) -> tuple[np.ndarray, np.ndarray]:
    rows = conn.execute("SELECT v.id, v.code FROM memory_vectors v JOIN memories m ON m.id = v.id "
                        "WHERE m.forgotten_at IS NULL ORDER BY v.id").fetchall()
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.uint8)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    codes = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.uint8).reshape(len(rows), -1).copy()
    return ids, codes


# ---- history --------------------------------------------------------------------------------

def history_row(uid: str, action: str, at: float, old: dict[str, Any] | None, new: dict[str, Any] | None,
                reason: str | None = None) -> dict[str, Any]:
    """A history row as stored (for bulk inserts)."""
    return {"memory_uid": uid, "action": action, "at": at, "old_value": _dump(old), "new_value": _dump(new),
            "reason": reason}


def add_history(conn: Any, uid: str, action: str, at: float, old: dict[str, Any] | None, new: dict[str, Any] | None,
                reason: str | None = None) -> None:
    conn.execute("INSERT INTO history (memory_uid, action, at, old_value, new_value, reason) "
                 "VALUES (?, ?, ?, ?, ?, ?)",
                 (uid, action, at, _dump(old), _dump(new), reason))


def history(conn: Any, uid: str) -> list[HistoryEntry]:
    rows = conn.execute("SELECT id, memory_uid, action, at, old_value, new_value, reason FROM history "
                        "WHERE memory_uid = ? ORDER BY id", (uid,)).fetchall()
    return [HistoryEntry(r[0], r[1], r[2], r[3], _load(r[4]), _load(r[5]), r[6]) for r in rows]


def delete_history(conn: Any, uid: str) -> None:
    conn.execute("DELETE FROM history WHERE memory_uid = ?", (uid,))


def scrub_history_text(conn: Any, uid: str) -> None:
    """Remove the memory's text from every history value (purge keeps only that it existed)."""
    for entry in history(conn, uid):
        old = {k: v for k, v in (entry.old or {}).items() if k != "text"} or None
        new = {k: v for k, v in (entry.new or {}).items() if k != "text"} or None
        conn.execute("UPDATE history SET old_value = ?, new_value = ? WHERE id = ?",
                     (_dump(old), _dump(new), entry.id))


def _dump(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _load(value: str | None) -> dict[str, Any] | None:
    return None if value is None else json.loads(value)


# ---- meta -----------------------------------------------------------------------------------

def meta_get(conn: Any, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def meta_set(conn: Any, key: str, value: str) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


def meta_delete(conn: Any, key: str) -> None:
    conn.execute("DELETE FROM meta WHERE key = ?", (key,))
