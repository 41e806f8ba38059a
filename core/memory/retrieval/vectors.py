"""The bank's vectors: embedding keys, binary codes with their centre, and nearest-neighbour search.

Owns everything about vectors inside a transaction the bank opened: writing a memory's float
vector and code, the centre that codes are taken against, re-coding when the centre is set, and
the in-memory :class:`CodeIndex` that long-lived processes search instead of SQLite.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cairn.core.memory.retrieval.vindex import CodeIndex, encode
from cairn.core.memory.storage import store

CENTRE_SAMPLE = 256  # vectors averaged into the centre once the bank has this many


def key_text(text: str, speaker: str | None) -> str:
    """What gets embedded for a memory: its text, prefixed by who said it when known."""
    return f"{speaker}: {text}" if speaker else text


class Vectors:
    def __init__(self, dim: int, in_memory: bool) -> None:
        self.dim = dim
        self.index = CodeIndex() if in_memory else None

    def centre(self, conn: Any) -> np.ndarray:
        raw = store.meta_get(conn, "vector_centre")
        return np.frombuffer(bytes.fromhex(raw), dtype=np.float32) if raw else np.zeros(self.dim, np.float32)

    def put(self, conn: Any, memory_id: int, vector: np.ndarray, active: bool) -> np.ndarray:
        code: np.ndarray = encode(vector[None, :], self.centre(conn))[0]
        store.vec_put(conn, memory_id, vector, code, active)
        if store.meta_get(conn, "vector_centre") is None and store.vec_count(conn) >= CENTRE_SAMPLE:
            self.recentre(conn)
        return code

    def recentre(self, conn: Any) -> None:
        """Set the centre to the mean vector and re-code every memory against it."""
        total, count = np.zeros(self.dim, np.float64), 0
        for _ids, matrix in store.iter_vectors(conn):
            total += matrix.sum(0)
            count += len(matrix)
        if count == 0:
            return
        centre = (total / count).astype(np.float32)
        store.meta_set(conn, "vector_centre", centre.tobytes().hex())
        live = {int(i) for i in store.live_codes(conn)[0]}
        for ids, matrix in list(store.iter_vectors(conn)):
            for memory_id, vector, code in zip(ids, matrix, encode(matrix, centre), strict=False):
                store.vec_put(conn, memory_id, vector, code, memory_id in live)
        if self.index is not None:
            self.index.invalidate()

    def after_commit_add(self, memory_id: int, code: np.ndarray | None) -> None:
        if self.index is not None and code is not None:
            self.index.add(memory_id, code)

    def after_commit_remove(self, memory_id: int) -> None:
        if self.index is not None:
            self.index.remove(memory_id)

    def close(self) -> None:
        if self.index is not None:
            self.index.close()

    def invalidate(self) -> None:
        if self.index is not None:
            self.index.invalidate()

    def candidates(self, conn: Any, query: np.ndarray, n: int) -> list[int]:
        """The ``n`` live memories whose codes are nearest to the query's (Hamming distance)."""
        centre = self.centre(conn)
        code = encode(query[None, :], centre)[0]
        if self.index is not None:
            self.index.sync(conn)
            return self.index.search(code, n, np.asarray(query, dtype=np.float32) - centre)
        return store.vec_knn_codes(conn, code, min(n, 4096))

    def nearest(self, conn: Any, query: np.ndarray, n: int, rescore: int,
                seen: dict[int, float] | None = None) -> list[tuple[int, float]]:
        """The ``n`` nearest live memories by exact cosine similarity, after a code prefilter.

        ``seen``, when given, receives the similarity of every memory re-scored on the way."""
        ids = self.candidates(conn, query, max(rescore, n))
        sims = self.similarities(conn, query, ids)
        if seen is not None:
            seen.update(sims)
        return sorted(sims.items(), key=lambda kv: -kv[1])[:n]

    def similarities(self, conn: Any, query: np.ndarray, ids: list[int]) -> dict[int, float]:
        keys, matrix = store.vectors_for(conn, ids)
        if not keys:
            return {}
        sims = matrix @ np.asarray(query, dtype=np.float32)
        return dict(zip(keys, sims.tolist(), strict=False))
