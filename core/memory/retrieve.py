"""Hybrid recall: sqlite-vec nearest neighbours and FTS5 BM25, fused by reciprocal rank.

Each retriever can be switched off (benchmarks show what each adds). The retrieval issue adds
time, context and query-rewriting signals here; the bank facade only calls :func:`search`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cairn.core.config import RecallSettings
from cairn.core.memory import store
from cairn.core.memory.embed import Embedder
from cairn.core.memory.records import Recalled, RecallFilters

MAX_KNN = 4096  # sqlite-vec's upper bound on k


@dataclass(frozen=True)
class Retrievers:
    vector: bool = True
    keyword: bool = True


def search(conn: Any, embedder: Embedder, query: str, k: int, filters: RecallFilters,
           settings: RecallSettings, use: Retrievers = Retrievers()) -> list[Recalled]:
    """The ``k`` best live memories for ``query`` under ``filters``."""
    candidates = max(settings.candidates, k)
    ranked: dict[str, list[tuple[int, float]]] = {}
    if use.vector and store.vec_table_exists(conn):
        ranked["vector"] = _vector(conn, embedder, query, candidates, filters)
    if use.keyword:
        ranked["keyword"] = _keyword(conn, query, candidates, filters)
    fused = fuse(ranked, settings.rrf_k)
    top = sorted(fused, key=lambda i: (-fused[i][0], i))[:k]
    memories = store.get_many(conn, top)
    return [Recalled(memories[i], fused[i][0], fused[i][1]) for i in top if i in memories]


def _vector(conn: Any, embedder: Embedder, query: str, n: int,
            filters: RecallFilters) -> list[tuple[int, float]]:
    vector = embedder.embed([query])[0]
    wanted = min(MAX_KNN, n * 4 if filters.active else n)
    hits = store.vec_knn(conn, vector, wanted)
    if filters.active:
        found = store.get_many(conn, [i for i, _ in hits])
        hits = [(i, d) for i, d in hits if i in found and store.matches_filters(found[i], filters)]
    return hits[:n]


def _keyword(conn: Any, query: str, n: int, filters: RecallFilters) -> list[tuple[int, float]]:
    match = store.fts_query(query)
    return store.fts_search(conn, match, n, filters) if match else []


def fuse(ranked: dict[str, list[tuple[int, float]]], rrf_k: int) -> dict[int, tuple[float, dict[str, float]]]:
    """Reciprocal-rank fusion; also keeps each retriever's rank and raw score per memory."""
    out: dict[int, tuple[float, dict[str, float]]] = {}
    for name, hits in ranked.items():
        for rank, (memory_id, raw) in enumerate(hits, start=1):
            score, signals = out.get(memory_id, (0.0, {}))
            signals[f"{name}_rank"] = float(rank)
            signals[f"{name}_score"] = raw
            out[memory_id] = (score + 1.0 / (rrf_k + rank), signals)
    return out
