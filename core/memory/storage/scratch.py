"""A throwaway in-memory full-text index over a list of texts: the plain BM25 baseline of the
benchmarks, scored by SQLite's FTS5 exactly as the bank's own index is (same tokenizer), but over
texts of the benchmark's choosing and with nothing else (no filters, no rewriting)."""

from __future__ import annotations

from types import TracebackType

from cairn.core.memory.storage.db import driver
from cairn.core.memory.storage.store import fts_query

TOKENIZER = "porter unicode61 remove_diacritics 2"  # as memory_fts (migration 0001)


class ScratchIndex:
    """FTS5 over ``texts`` in an in-memory database; :meth:`search` returns row indexes, best first."""

    def __init__(self, texts: list[str]) -> None:
        self.conn = driver().module.connect(":memory:")
        self.conn.execute(f"CREATE VIRTUAL TABLE scratch USING fts5 (text, tokenize = '{TOKENIZER}')")
        self.conn.executemany("INSERT INTO scratch (rowid, text) VALUES (?, ?)", enumerate(texts))

    def search(self, query: str, k: int) -> list[int]:
        """Plain BM25 (FTS5's ``rank``) over any of the query's words."""
        match = fts_query(query)
        if match is None:
            return []
        rows = self.conn.execute("SELECT rowid FROM scratch WHERE scratch MATCH ? ORDER BY rank LIMIT ?", (match, k))
        return [int(r[0]) for r in rows.fetchall()]

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ScratchIndex:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
