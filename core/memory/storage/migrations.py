"""Named, append-only schema migrations.

Never edit or reorder a shipped migration: add a new one at the end. ``PRAGMA user_version``
holds how many have been applied; a database with more than this code knows is refused.
The sqlite-vec table is not here: its dimension depends on the embedder, so
:mod:`cairn.core.memory.storage.store` creates it when the bank first learns its embedder.

A migration is a SQL script or a function of a :class:`sqlite_utils.Database` (wrapping the
bank's connection, inside the migration's transaction). The first two shipped as SQL and stay
so; new ones are written with sqlite-utils (``db.create_table``, ``table.add_column``,
``table.transform``, ``table.create_index``), which introspects the schema instead of hand-copying
it; :mod:`cairn.core.memory.storage.tables` says what sqlite-utils must not be asked to do here.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

Step = str | Callable[[sqlite_utils.Database], None]

INITIAL = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE memories (
    id               INTEGER PRIMARY KEY,
    uid              TEXT NOT NULL UNIQUE,
    text             TEXT NOT NULL,
    kind             TEXT NOT NULL DEFAULT 'note',
    source_type      TEXT NOT NULL DEFAULT 'manual',
    source_ref       TEXT,
    source_turns     TEXT NOT NULL DEFAULT '[]',
    source_speaker   TEXT,
    source_time      REAL,
    created_at       REAL NOT NULL,
    updated_at       REAL NOT NULL,
    pinned           INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
    importance       REAL NOT NULL DEFAULT 0.5,
    strength         REAL NOT NULL DEFAULT 1.0,
    last_recalled_at REAL,
    recall_count     INTEGER NOT NULL DEFAULT 0,
    forgotten_at     REAL
) STRICT;

CREATE INDEX memories_live ON memories (forgotten_at, created_at);
CREATE INDEX memories_source ON memories (source_type, source_ref);
CREATE INDEX memories_ref_order ON memories (source_ref, id);
CREATE INDEX memories_speaker ON memories (source_speaker);

CREATE VIRTUAL TABLE memory_fts USING fts5 (
    speaker,
    text,
    context,
    tokenize = 'porter unicode61 remove_diacritics 2'
);

-- how many memories hold each word: lets recall leave out words too common to matter
CREATE TABLE term_df (
    term TEXT PRIMARY KEY,
    df   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE memory_vectors (
    id   INTEGER PRIMARY KEY REFERENCES memories (id) ON DELETE CASCADE,
    vec  BLOB NOT NULL,
    code BLOB NOT NULL
) STRICT;

CREATE TABLE history (
    id         INTEGER PRIMARY KEY,
    memory_uid TEXT NOT NULL,
    action     TEXT NOT NULL CHECK (action IN ('add', 'update', 'forget', 'restore', 'purge')),
    at         REAL NOT NULL,
    old_value  TEXT,
    new_value  TEXT,
    reason     TEXT
) STRICT;

CREATE INDEX history_memory ON history (memory_uid, id);
"""

RETENTION = """
ALTER TABLE memories ADD COLUMN forgotten_by TEXT;
ALTER TABLE memories ADD COLUMN replaced_by INTEGER;
ALTER TABLE memories ADD COLUMN valid_from REAL;
ALTER TABLE memories ADD COLUMN valid_to REAL;
ALTER TABLE memories ADD COLUMN importance_parts TEXT NOT NULL DEFAULT '{}';

-- every conversation turn, kept even when it is not worth a memory
CREATE TABLE conversation_log (
    id           INTEGER PRIMARY KEY,
    conversation TEXT NOT NULL,
    turn         TEXT,
    speaker      TEXT,
    text         TEXT NOT NULL,
    at           REAL NOT NULL,
    memory_id    INTEGER
) STRICT;

CREATE INDEX conversation_log_conv ON conversation_log (conversation, id);
CREATE INDEX conversation_log_memory ON conversation_log (memory_id);

-- history gains the retention actions (a CHECK cannot be altered: rebuild the table)
CREATE TABLE history_new (
    id         INTEGER PRIMARY KEY,
    memory_uid TEXT NOT NULL,
    action     TEXT NOT NULL CHECK (action IN ('add', 'update', 'forget', 'restore', 'purge',
                                               'archive', 'merge', 'supersede')),
    at         REAL NOT NULL,
    old_value  TEXT,
    new_value  TEXT,
    reason     TEXT
) STRICT;

INSERT INTO history_new SELECT id, memory_uid, action, at, old_value, new_value, reason FROM history;
DROP TABLE history;
ALTER TABLE history_new RENAME TO history;
CREATE INDEX history_memory ON history (memory_uid, id);
"""

def clients(db: sqlite_utils.Database) -> None:
    """Per-client consent (MCP and other programs): who wrote each memory, each client's scope,
    and a log of every read a client made."""
    db.table("memories").add_column("client", str)  # NULL: the user (CLI, desktop app)
    db.create_table("clients", {"name": str, "scope": str, "first_seen": float, "last_seen": float},
                    pk="name", not_null={"scope", "first_seen", "last_seen"}, strict=True)
    db.create_table("client_reads", {"id": int, "client": str, "at": float, "action": str, "memory_ids": str,
                                     "detail": str}, pk="id", not_null={"client", "at", "action", "memory_ids"},
                    strict=True)
    db.table("client_reads").create_index(["client", "id"], index_name="client_reads_client")


def recall_log(db: sqlite_utils.Database) -> None:
    """Every recall of a memory, with its strength before and after: the forgetting curve's past."""
    db.create_table("recall_log", {"id": int, "memory_id": int, "at": float, "strength_before": float,
                                   "strength_after": float}, pk="id",
                    not_null={"memory_id", "at", "strength_before", "strength_after"}, strict=True)
    db.table("recall_log").create_index(["memory_id", "id"], index_name="recall_log_memory")


# (name, SQL script or sqlite-utils function). Append only.
MIGRATIONS: list[tuple[str, Step]] = [
    ("0001_initial", INITIAL),
    ("0002_retention", RETENTION),
    ("0003_clients", clients),
    ("0004_recall_log", recall_log),
]
