"""sqlite-utils over the bank's own connection: schema changes, introspection and bulk rows.

:func:`wrap` hands sqlite-utils the connection :func:`cairn.core.memory.storage.db.connect` made
(stdlib ``sqlite3`` or ``sqlean``, sqlite-vec loaded), so its writes join Cairn's transactions
(sqlite-utils nests its own as SAVEPOINTs) and see the same extensions. The hot paths (recall,
remember) keep their tuned SQL in :mod:`~cairn.core.memory.storage.store`.

Two things sqlite-utils must not do here:

- **No plugins, no recursive triggers**: ``execute_plugins=False`` keeps installed sqlite-utils
  plugins out of the memory database's connection; ``recursive_triggers=False`` leaves the
  connection's settings as :mod:`~cairn.core.memory.storage.db` set them.
- **No ``alter=True``**: sqlite-utils adds a missing column by catching the *stdlib*
  ``sqlite3.OperationalError``. On a ``sqlean`` connection (the fallback on Pythons that cannot
  load extensions) the error is ``sqlean.OperationalError``, which that ``except`` does not catch,
  so the insert fails instead of altering the table. Columns are added explicitly
  (:meth:`sqlite_utils.db.Table.add_column`, in a migration); every other driver error sqlite-utils
  lets through is turned into :class:`~cairn.core.errors.StorageError` by ``Database.guard``.

And one it cannot do: ``transform`` fails ("datatype mismatch") on a ``WITHOUT ROWID`` table
(``term_df``); such a table is rebuilt with SQL in its migration.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

BATCH = 500  # rows per INSERT statement in bulk writes

# What each table holds, for `cairn doctor --tables` and docs/storage.md.
DESCRIPTIONS = {
    "meta": "key/value facts about the bank: the embedder its vectors came from, the vector centre",
    "memories": "one row per memory: text, kind, provenance (source_*), importance, strength, recall and "
                "forgetting state, validity",
    "memory_vectors": "each memory's embedding (float32 blob) and its 1-bit sign code",
    "memory_fts": "FTS5 full-text index of each memory's speaker, text and neighbouring-turn context",
    "term_df": "how many memories hold each word (keyword recall leaves out words too common to matter)",
    "history": "every change to every memory: action, time, old and new values, reason",
    "conversation_log": "every conversation turn, including those not kept as memories",
    "memory_vec": "sqlite-vec index over the live memories' vectors (its dimension is the embedder's)",
    "clients": "programs that used the bank (MCP clients), each with its scope: read, read-write or off",
    "client_reads": "every read a client made: when, what (search, get, list...), which memory ids",
    "recall_log": "every recall of a memory: when, its strength before and after (the curve's past)",
}


@dataclass(frozen=True)
class TableInfo:
    name: str
    rows: int
    columns: list[str]
    virtual: bool
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "rows": self.rows, "columns": self.columns, "virtual": self.virtual,
                "description": self.description}


def wrap(conn: Any) -> sqlite_utils.Database:
    """A sqlite-utils view of ``conn`` (see the module notes); closing it closes ``conn``."""
    return sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)


def tables(conn: Any) -> list[TableInfo]:
    """Cairn's tables (not the shadow tables behind FTS5 and sqlite-vec), with row counts."""
    db = wrap(conn)
    virtual = {t.name for t in db.tables if t.virtual_table_using}
    shadows = _shadow_tables(db, virtual)
    out = []
    for table in db.tables:
        if table.name in shadows or table.name.startswith("sqlite_"):
            continue
        out.append(TableInfo(table.name, table.count, [c.name for c in table.columns], table.name in virtual,
                             DESCRIPTIONS.get(table.name, "")))
    return out


def _shadow_tables(db: sqlite_utils.Database, virtual: set[str]) -> set[str]:
    """Tables a virtual table keeps its data in (``memory_fts_data``, ``memory_vec_chunks``...)."""
    return {name for name in db.table_names() if any(name.startswith(v + "_") for v in virtual)}


def insert_rows(conn: Any, table: str, rows: Iterable[dict[str, Any]]) -> int:
    """Insert ``rows`` into an existing ``table`` in batches (inside the caller's transaction when
    one is open); returns how many. Every row must have only the table's columns."""
    count = 0

    def counted() -> Iterable[dict[str, Any]]:
        nonlocal count
        for row in rows:
            count += 1
            yield row

    wrap(conn).table(table).insert_all(counted(), batch_size=BATCH)
    return count
