"""What the retrieval gate may ask a memory bank: cheap lookups, each a few index reads.

The one embedding a probe may compute (the question's, for the nearest memory's similarity) goes
through the bank's query cache, so the recall that follows a "retrieve" decision reuses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cairn.core.memory.lexicon import edit_distance, stem
from cairn.core.memory.retrieval.rewrite import perspective
from cairn.core.memory.storage import store

if TYPE_CHECKING:
    from cairn.core.memory.bank import MemoryBank

KEYWORD_MATCHES = 5  # best keyword matches the gate looks at
SIMILARITY_RESCORE = 16  # code-nearest memories whose exact cosine the gate compares


class BankProbe:
    """Lookups for :mod:`cairn.core.memory.gate.decision`. Speakers, the memory count and where the
    vectors came from are read once per probe: make one per turn."""

    def __init__(self, bank: MemoryBank) -> None:
        self._bank = bank
        self._speakers: set[str] | None = None
        self._count: int | None = None
        self._vectors_from: str | None = None

    def speakers(self) -> set[str]:
        if self._speakers is None:
            with self._bank.db.guard():
                self._speakers = set(store.speakers(self._bank.db.conn))
        return self._speakers

    def document_frequency(self, words: list[str]) -> dict[str, int]:
        with self._bank.db.guard():
            return store.document_frequency(self._bank.db.conn, words)

    def near_spellings(self, words: list[str]) -> dict[str, tuple[str, int]]:
        """For each of ``words`` the bank lacks, the bank's word it most likely misspells (one edit
        away, two for words of 8 letters or more) and how many memories hold that word."""
        slacks = {w: 2 if len(w) >= 8 else 1 for w in words}
        with self._bank.db.guard():
            candidates = {w: store.terms_like(self._bank.db.conn, w, slack) for w, slack in slacks.items()}
        out = {}
        for word, slack in slacks.items():
            letters = set(word)
            scored = [(edit_distance(word, t, slack), -n, t) for t, n in candidates.get(word, [])
                      if t != word and len(letters ^ set(t)) <= 2 * slack]
            best = min((c for c in scored if c[0] <= slack), default=None)
            if best:
                out[word] = (best[2], -best[1])
        return out

    def memory_count(self) -> int:
        if self._count is None:
            with self._bank.db.guard():
                self._count = store.approximate_count(self._bank.db.conn)
        return self._count

    def keyword_matches(self, words: list[str]) -> list[set[str]]:
        """The stemmed words of the few live memories that best match ``words`` (BM25)."""
        match = store.fts_query("", "speaker text", words=words)
        if match is None:
            return []
        with self._bank.db.guard():
            texts = store.fts_texts(self._bank.db.conn, match, KEYWORD_MATCHES)
        return [{stem(w) for w in store.query_words(text)} for text in texts]

    def embedding(self, query: str, embedder_id: str) -> np.ndarray | None:
        """``query``'s vector as recall embeds it (in the first person of the one speaker it
        names), computed once per turn and reused by recall; None when the bank's embedder is not
        ``embedder_id``."""
        if self._bank.embedder.id != embedder_id:
            return None
        vector: np.ndarray = self._bank.queries.embed([perspective(query, self.speakers()) or query])[0]
        return vector

    def best_similarity(self, query: str, embedder_id: str) -> float | None:
        """Cosine similarity of the memory nearest ``query`` (embedded as recall would), or None
        when the bank's vectors come from another embedder than ``embedder_id`` or there are none."""
        bank = self._bank
        qvec = self.embedding(query, embedder_id)
        if qvec is None:
            return None
        with bank.db.guard():
            conn = bank.db.conn
            if self._vectors_from is None:
                self._vectors_from = (store.meta_get(conn, "embedder_id") or "") if store.vec_table_exists(conn) else ""
            if self._vectors_from != embedder_id:
                return None
            best = bank.vectors.nearest(conn, qvec, 1, SIMILARITY_RESCORE)
        return float(best[0][1]) if best else None
