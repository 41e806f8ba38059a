"""Hybrid recall: vectors, keywords, speakers, neighbouring turns, sessions and time, fused.

0. The query for the vectors is rewritten into the first person of the one speaker it names.
1. Candidates: the nearest memories by vector (binary-code prefilter, exact cosine re-score) and
   the best FTS5 BM25 matches on the memory's own words (speaker + text) and on its neighbouring
   turns (the `context` column).
2. Base score: min-max-normalised cosine and BM25, mixed half and half.
3. Adjustments, each switchable: a memory said by the one speaker the query names rises; a memory
   next to a strong match shares part of its score (answers follow questions); memories of a
   source (session) that matches strongly rise together; a date the query names (a month, a year)
   favours memories from then.
The weights are round numbers fixed here, not fitted per data set. With a fitted ranker (the
default, :mod:`ranker`), steps 2-3 become features of each candidate that one logistic model weighs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from cairn.core.config import RecallSettings
from cairn.core.memory.retrieval import ranker as learned
from cairn.core.memory.retrieval.embed import Embedder
from cairn.core.memory.retrieval.rewrite import named_speakers, perspective
from cairn.core.memory.retrieval.timeref import date_range, day_range
from cairn.core.memory.retrieval.vectors import Vectors
from cairn.core.memory.storage import store
from cairn.core.memory.storage.records import Memory, Recalled, RecallFilters

KEYWORD_WEIGHT = 0.5
SPEAKER_BOOST = 0.1
NEIGHBOUR_SHARE = 0.3
SESSION_SHARE = 0.3
SESSION_TOP = 3
TIME_BOOST = 0.1
COMMON_SHARE = 0.05  # a word in more than this share of memories is left out of keyword search
COMMON_FLOOR = 1000  # ... but only once it is in more than this many


@dataclass(frozen=True)
class Retrievers:
    """Which components run; the benchmark switches them one at a time."""

    vector: bool = True
    keyword: bool = True
    context: bool = True
    perspective: bool = True
    speaker: bool = True
    neighbours: bool = True
    session: bool = True
    time: bool = True
    learned: bool = True  # the fitted ranker weighs the signals (when one is given), not the fixed shares


@dataclass
class _Pool:
    memories: dict[int, Memory]
    signals: dict[int, dict[str, float]]


def search(conn: Any, embedder: Embedder, vectors: Vectors, query: str, k: int, filters: RecallFilters,
           settings: RecallSettings, use: Retrievers = Retrievers(),
           ranker: learned.Ranker | None = None, whole_pool: bool = False) -> list[Recalled]:
    """The ``k`` best live memories for ``query`` under ``filters``; with ``ranker`` (and
    ``use.learned``) the fitted model orders them, else the fixed shares do. ``whole_pool``
    returns every candidate a search for ``k`` considered, ranked, not only the first ``k``."""
    n = max(settings.candidates, k)
    speakers = store.speakers(conn) if use.perspective or use.speaker else []
    dense_query = (perspective(query, speakers) if use.perspective else None) or query
    qvec = embedder.embed([dense_query])[0] if use.vector and store.vec_table_exists(conn) else None
    raw: dict[str, list[tuple[int, float]]] = {}
    known: dict[int, float] = {}
    if qvec is not None:
        raw["vector"] = vectors.nearest(conn, qvec, n, settings.rescore, known)
    words = _selective_words(conn, query) if use.keyword or use.context else []
    if use.keyword:
        raw["keyword"] = _fts(conn, words, "speaker text", n, filters)
    if use.context:
        raw["context"] = _fts(conn, words, "context", n, filters)
    pool = _collect(conn, raw, filters)
    if not pool.memories:
        return []
    scores = _base_scores(conn, pool, vectors, qvec, raw, known)
    if ranker is not None and use.learned:
        return _learned(conn, pool, scores, query, speakers, vectors, qvec, use, raw, filters, ranker,
                        None if whole_pool else k)
    scores = _adjust(conn, pool, scores, query, speakers, vectors, qvec, use, raw, filters)
    top = sorted(scores, key=lambda i: (-scores[i], i))[:None if whole_pool else k]
    return [Recalled(pool.memories[i], scores[i], pool.signals[i]) for i in top]


def _learned(conn: Any, pool: _Pool, base: dict[int, float], query: str, speakers: list[str], vectors: Vectors,
             qvec: np.ndarray | None, use: Retrievers, raw: dict[str, Any], filters: RecallFilters,
             ranker: learned.Ranker, k: int | None) -> list[Recalled]:
    """The best ``k`` (None: all) of the candidates and their neighbours, ranked by the fitted model;
    each returned hit carries its features as ``f_<name>`` signals."""
    links = _links(conn, pool, base, vectors, qvec, raw, filters)
    named = named_speakers(query, speakers)
    candidates = learned.Candidates(pool.memories, pool.signals, base, links, named, date_range(query),
                                    learned.long_query(query), learned.stems(query), day_range(query))
    found = learned.features(candidates, learned.switched_off(use))
    ids = list(found)
    ranked = ranker.rank([found[i] for i in ids], ids)[:k]
    for i, _ in ranked:
        pool.signals[i].update({f"f_{name}": value for name, value in found[i].items() if value == value})
    return [Recalled(pool.memories[i], score, pool.signals[i], tuple(ranker.why(pool.signals[i])) if k else ())
            for i, score in ranked]


def _selective_words(conn: Any, query: str) -> list[str]:
    """The query's words minus those in more than COMMON_SHARE of a large bank's memories.

    BM25 gives such words almost no weight, yet ranking every memory that holds them is what
    makes keyword search slow at scale. The rarest word is always kept."""
    words = store.query_words(query)
    if len(words) <= 1:
        return words
    df = store.document_frequency(conn, words)
    limit = max(COMMON_FLOOR, COMMON_SHARE * store.approximate_count(conn))
    kept = [w for w in words if df[w] <= limit]
    return kept or [min(words, key=lambda w: df[w])]


def _fts(conn: Any, words: list[str], columns: str, n: int, filters: RecallFilters) -> list[tuple[int, float]]:
    match = store.fts_query("", columns, words)
    return store.fts_search(conn, match, n, filters) if match else []


def _collect(conn: Any, raw: dict[str, list[tuple[int, float]]], filters: RecallFilters) -> _Pool:
    ids = list(dict.fromkeys(i for hits in raw.values() for i, _ in hits))
    found = store.get_many(conn, ids)
    memories = {i: m for i, m in found.items() if store.matches_filters(m, filters)}
    signals: dict[int, dict[str, float]] = {i: {} for i in memories}
    for name, hits in raw.items():
        for rank, (i, value) in enumerate(hits, start=1):
            if i in signals:
                signals[i][f"{name}_rank"] = float(rank)
                signals[i][name] = value
    return _Pool(memories, signals)


def _minmax(values: dict[int, float]) -> tuple[float, float]:
    if not values:
        return 0.0, 1.0
    lo, hi = min(values.values()), max(values.values())
    return lo, (hi - lo) or 1.0


def _base_scores(conn: Any, pool: _Pool, vectors: Vectors, qvec: np.ndarray | None,
                 raw: dict[str, list[tuple[int, float]]], known: dict[int, float]) -> dict[int, float]:
    """(1 - w) * cosine + w * mean of the keyword scores, each min-max normalised over the pool."""
    dense: dict[int, float] = {}
    if qvec is not None:
        missing = [i for i in pool.memories if i not in known]
        dense = {i: known[i] for i in pool.memories if i in known}
        dense.update(vectors.similarities(conn, qvec, missing) if missing else {})
    for i, sim in dense.items():
        pool.signals[i]["cosine"] = sim
    parts = [dict(raw[name]) for name in ("keyword", "context") if name in raw]
    lo_d, span_d = _minmax(dense)
    ranges = [_minmax(p) for p in parts]
    names = [name for name in ("keyword", "context") if name in raw]
    scores = {}
    for i in pool.memories:
        d = (dense.get(i, lo_d) - lo_d) / span_d if dense else 0.0
        kw = [(p.get(i, lo) - lo) / span if p.get(i) is not None else 0.0 for p, (lo, span) in zip(parts, ranges, strict=False)]
        pool.signals[i].update({"dense_norm": d, **{f"{n}_norm": v for n, v in zip(names, kw, strict=True)}})
        kw_score = sum(kw) / len(kw) if kw else 0.0
        if dense and parts:
            scores[i] = (1 - KEYWORD_WEIGHT) * d + KEYWORD_WEIGHT * kw_score
        else:
            scores[i] = d if dense else kw_score
    return scores


def _adjust(conn: Any, pool: _Pool, scores: dict[int, float], query: str, speakers: list[str],
            vectors: Vectors, qvec: np.ndarray | None, use: Retrievers, raw: dict[str, Any],
            filters: RecallFilters) -> dict[int, float]:
    if use.speaker:
        scores = _speaker(pool, scores, named_speakers(query, speakers))
    if use.neighbours:
        scores = _neighbours(conn, pool, scores, vectors, qvec, raw, filters)
    if use.session:
        scores = _session(pool, scores)
    if use.time:
        scores = _time(pool, scores, query)
    return scores


def _speaker(pool: _Pool, scores: dict[int, float], named: list[str]) -> dict[int, float]:
    """If the query names exactly one known speaker, their memories rise."""
    if len(named) != 1:
        return scores
    out = dict(scores)
    for i, m in pool.memories.items():
        if m.source.speaker == named[0]:
            out[i] += SPEAKER_BOOST
            pool.signals[i]["speaker_boost"] = SPEAKER_BOOST
    return out


def _links(conn: Any, pool: _Pool, scores: dict[int, float], vectors: Vectors, qvec: np.ndarray | None,
           raw: dict[str, Any], filters: RecallFilters) -> dict[int, tuple[int | None, int | None]]:
    """Each candidate's neighbours (same source, adjacent); neighbours not yet in the pool join it."""
    links = store.neighbours(conn, list(pool.memories))
    extra = [j for pair in links.values() for j in pair if j is not None and j not in pool.memories]
    if extra:
        _extend(conn, pool, scores, extra, vectors, qvec, raw, filters)
        links.update(store.neighbours(conn, [j for j in extra if j in pool.memories]))
    return links


def _neighbours(conn: Any, pool: _Pool, scores: dict[int, float], vectors: Vectors, qvec: np.ndarray | None,
                raw: dict[str, Any], filters: RecallFilters) -> dict[int, float]:
    """Each memory gains a share of its best-scoring neighbour's score (same source, adjacent)."""
    links = _links(conn, pool, scores, vectors, qvec, raw, filters)
    out = dict(scores)
    for i in pool.memories:
        prev, nxt = links.get(i, (None, None))
        best = max(scores.get(prev, 0.0) if prev else 0.0, scores.get(nxt, 0.0) if nxt else 0.0)
        if best:
            out[i] += NEIGHBOUR_SHARE * best
            pool.signals[i]["neighbour"] = NEIGHBOUR_SHARE * best
    return out


def _extend(conn: Any, pool: _Pool, scores: dict[int, float], ids: list[int], vectors: Vectors,
            qvec: np.ndarray | None, raw: dict[str, Any], filters: RecallFilters) -> None:
    """Add neighbours that no retriever proposed, scored by their cosine alone (same scale)."""
    found = {i: m for i, m in store.get_many(conn, ids).items() if store.matches_filters(m, filters)}
    dense_all = {i: s["cosine"] for i, s in pool.signals.items() if "cosine" in s}
    lo, span = _minmax(dense_all)
    sims = vectors.similarities(conn, qvec, list(found)) if qvec is not None else {}
    weight = (1 - KEYWORD_WEIGHT) if raw.get("keyword") is not None or raw.get("context") is not None else 1.0
    for i, m in found.items():
        dense = max(0.0, (sims.get(i, lo) - lo) / span) if sims else 0.0
        pool.memories[i] = m
        pool.signals[i] = {"cosine": sims.get(i, lo), "dense_norm": dense, "via_neighbour": 1.0}
        scores[i] = weight * dense


def _session(pool: _Pool, scores: dict[int, float]) -> dict[int, float]:
    """Memories of the same source gain a share of that source's best few scores (their mean)."""
    groups: dict[str, list[float]] = defaultdict(list)
    for i, m in pool.memories.items():
        if m.source.ref:
            groups[m.source.ref].append(scores[i])
    strength = {ref: float(np.mean(sorted(v)[-SESSION_TOP:])) for ref, v in groups.items()}
    out = dict(scores)
    for i, m in pool.memories.items():
        if m.source.ref:
            out[i] += SESSION_SHARE * strength[m.source.ref]
            pool.signals[i]["session"] = SESSION_SHARE * strength[m.source.ref]
    return out


def _time(pool: _Pool, scores: dict[int, float], query: str) -> dict[int, float]:
    """A month or year named in the query favours memories from that time."""
    span = date_range(query)
    if span is None:
        return scores
    out = dict(scores)
    for i, m in pool.memories.items():
        when = m.source.time if m.source.time is not None else m.created_at
        if span[0] <= when < span[1]:
            out[i] += TIME_BOOST
            pool.signals[i]["time_boost"] = TIME_BOOST
    return out
