"""Learned fusion: one fitted logistic model ranks the candidate pool from named, inspectable features.

The hand-set fusion in :mod:`retrieve` adds round-number shares of each signal. Here the same
signals become features of every candidate (its normalised and raw cosine, its BM25 scores on
its own words and on its neighbouring turns, each retriever's reciprocal rank, whether it was said
by the one speaker the query names, its neighbours' and its source's best base scores, whether it
falls in a date the query names, its length), and a logistic model fitted on labelled questions
(which memories held the answer) weighs them. The model is the probability that a candidate is
evidence for the query; each feature's push on the log-odds is kept, so a ranking explains
itself. The weights live in ``models/ranker.json`` with a record of what they were fitted on; a
benchmark refits them leaving one conversation out to measure what they do on data they never saw.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cairn.core.config import RecallSettings
from cairn.core.memory import logistic
from cairn.core.memory.logistic import LogisticModel
from cairn.core.memory.retrieval.timeref import Span, refers_to
from cairn.core.memory.storage.records import Memory
from cairn.core.memory.storage.store import query_words
from cairn.core.paths import expand

BASE_FEATURES = ("dense", "cosine", "vector_rrf", "keyword", "keyword_rrf", "context", "context_rrf",
                 "speaker", "other_speaker", "neighbour", "session", "time", "day", "event_time", "length",
                 "coverage")
# The memory's own information parts (retention.importance), raw: the fitted importance would carry
# weights fitted on the same labelled conversations into a held-out test.
CONTENT = ("info_background", "info_personal", "novelty", "content_words", "names", "numbers", "time_refs",
           "self_reference", "plans_preferences", "question", "phatic", "addressee", "answers_question")
# A long query (a stretch of dialogue rather than a question) weighs words and vectors differently:
# these parts also enter multiplied by how long the query is.
LONG_PARTS = ("dense", "cosine", "vector_rrf", "keyword", "keyword_rrf", "context", "length", "coverage")
FEATURES = (*BASE_FEATURES, *(f"m_{f}" for f in CONTENT), "long_query", *(f"{f}_long" for f in LONG_PARTS))
LONG_FROM, LONG_SPAN = 24, 24  # long_query rises from 0 at 24 words to 1 at 48 and more
STEM = 5  # words match on their first five letters (paints, painting, painted)
RESOURCE = "ranker.json"  # fitted weights shipped with Cairn (cairn.models)
RRF_K = 60  # reciprocal rank 1 / (60 + rank), as in reciprocal-rank fusion
SESSION_TOP = 3  # a source's strength: the mean of its best few base scores

# Which features each switch of ``Retrievers`` owns: a switched-off part stands at its mean.
_PARTS = {"vector": ("dense", "cosine", "vector_rrf"), "keyword": ("keyword", "keyword_rrf", "coverage"),
          "context": ("context", "context_rrf"), "speaker": ("speaker", "other_speaker"),
          "neighbours": ("neighbour",), "session": ("session",), "time": ("time", "day", "event_time")}
OWNERS = {part: tuple(f for f in (*owned, *(f"{f}_long" for f in owned)) if f in FEATURES)
          for part, owned in _PARTS.items()}


TRAITS = ("cosine", "length", "length_long", "cosine_long")  # always present: explained against their usual value
_WORDS = {"dense": "close in meaning", "cosine": "raw similarity", "vector_rrf": "high in the meaning search",
          "keyword": "shares rare words", "keyword_rrf": "high in the word search", "context": "words in the turns around it",
          "context_rrf": "high in the search of turns around it", "speaker": "said by the person named",
          "other_speaker": "said by someone not named", "neighbour": "next to a strong match",
          "session": "its conversation matches", "time": "from the month asked about",
          "day": "said on the day asked about", "event_time": "tells of the date asked about", "length": "its length",
          "coverage": "holds the query's words", "long_query": "a long query"}


def describe(feature: str) -> str:
    """A feature in plain words, for explanations."""
    base, long = (feature[:-5], True) if feature.endswith("_long") else (feature, False)
    part = base[2:].removeprefix("info_").replace("_", " ")
    words = f"information: {part}" if base.startswith("m_") else _WORDS.get(base, base)
    return f"{words} (long query)" if long else words


def long_query(query: str) -> float:
    """0 for a question of up to 24 words, rising to 1 for a passage of 48 words or more."""
    return min(1.0, max(0.0, (len(query.split()) - LONG_FROM) / LONG_SPAN))


@dataclass(frozen=True)
class Candidates:
    """What the features are computed from: the pool, its base scores and its surroundings."""

    memories: Mapping[int, Memory]
    signals: Mapping[int, Mapping[str, float]]
    base: Mapping[int, float]
    links: Mapping[int, tuple[int | None, int | None]]
    named: list[str]
    span: Span | None  # the month or year the query names
    long: float = 0.0  # long_query() of the query
    words: frozenset[str] = frozenset()  # the query's content words, stemmed (stems())
    day: Span | None = None  # the whole date the query names


def features(c: Candidates, off: tuple[str, ...] = ()) -> dict[int, dict[str, float]]:
    """Every candidate's feature values; features owned by a switched-off part are NaN."""
    strength = _source_strength(c)
    matcher = _matcher(c.words)
    out: dict[int, dict[str, float]] = {}
    for i, m in c.memories.items():
        s = c.signals[i]
        prev, nxt = c.links.get(i, (None, None))
        when = m.source.time if m.source.time is not None else m.created_at
        row = {
            "dense": s.get("dense_norm", 0.0), "cosine": s.get("cosine", 0.0),
            "vector_rrf": _rrf(s.get("vector_rank")),
            "keyword": s.get("keyword_norm", 0.0), "keyword_rrf": _rrf(s.get("keyword_rank")),
            "context": s.get("context_norm", 0.0), "context_rrf": _rrf(s.get("context_rank")),
            "speaker": float(len(c.named) == 1 and m.source.speaker == c.named[0]),
            "other_speaker": float(bool(c.named) and m.source.speaker is not None and m.source.speaker not in c.named),
            "neighbour": max(c.base.get(prev, 0.0) if prev else 0.0, c.base.get(nxt, 0.0) if nxt else 0.0),
            "session": strength.get(m.source.ref, 0.0) if m.source.ref else 0.0,
            "time": float(c.span is not None and c.span[0] <= when < c.span[1]),
            "day": float(c.day is not None and c.day[0] <= when < c.day[1]),
            "event_time": _tells_of(c, m.text, when),
            "length": math.log1p(len(m.text.split())),
            "coverage": _coverage(matcher, len(c.words), m),
            "long_query": c.long,
        }
        row.update({f"m_{f}": m.importance_parts.get(f, math.nan) for f in CONTENT})
        row.update({f"{f}_long": row[f] * c.long for f in LONG_PARTS})
        for name in off:
            row[name] = math.nan
        out[i] = row
    return out


def stems(text: str) -> frozenset[str]:
    """The distinct content words of ``text``, cut to their first letters."""
    return frozenset(w[:STEM] for w in query_words(text))


def _matcher(words: frozenset[str]) -> re.Pattern[str] | None:
    """Finds the query's stems in a text as :func:`stems` would cut them: a full-length stem starts
    a word, a shorter one is a whole word (one pass per text instead of tokenising it)."""
    if not words:
        return None
    parts = sorted((re.escape(w) + ("" if len(w) >= STEM else r"\b") for w in words), key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(parts) + ")")


def _coverage(matcher: re.Pattern[str] | None, count: int, m: Memory) -> float:
    """The share of the query's content words that the memory (its speaker and text) holds."""
    if matcher is None:
        return 0.0
    return len(set(matcher.findall(f"{m.source.speaker or ''} {m.text}".casefold()))) / count


def _tells_of(c: Candidates, text: str, when: float) -> float:
    """1 when a relative date in the memory ("last month", "yesterday"), resolved against its own
    time, falls in the date the query names (the day, else the month or year)."""
    span = c.day or c.span
    return float(span is not None and refers_to(text, when, span))


def _rrf(rank: float | None) -> float:
    return 1.0 / (RRF_K + rank) if rank else 0.0


def _source_strength(c: Candidates) -> dict[str, float]:
    groups: dict[str, list[float]] = defaultdict(list)
    for i, m in c.memories.items():
        if m.source.ref:
            groups[m.source.ref].append(c.base.get(i, 0.0))
    return {ref: float(np.mean(sorted(v)[-SESSION_TOP:])) for ref, v in groups.items()}


def switched_off(use: Any) -> tuple[str, ...]:
    """The features owned by the parts ``use`` (a ``Retrievers``) switches off."""
    return tuple(f for part, owned in OWNERS.items() if not getattr(use, part) for f in owned)


@dataclass(frozen=True)
class Ranker:
    model: LogisticModel

    @classmethod
    def load(cls, path: Path | None = None) -> Ranker:
        """The shipped weights, or those in ``path``."""
        return cls(LogisticModel.load(path, RESOURCE, FEATURES, "ranker", "cairn bench ranker LOCOMO --save FILE"))

    @classmethod
    def neutral(cls) -> Ranker:
        return cls(LogisticModel.neutral(FEATURES))

    def logits(self, rows: list[dict[str, float]]) -> np.ndarray:
        """Each row's log-odds of holding what the query asks; a NaN value pushes nothing."""
        x = np.array([[r.get(f, 0.0) for f in self.model.features] for r in rows], dtype=np.float64)
        x = np.where(np.isnan(x), self.model.mean, x)
        logits: np.ndarray = ((x - self.model.mean) / self.model.scale) @ self.model.weights + self.model.bias
        return logits

    def why(self, signals: Mapping[str, float], top: int = 3) -> list[tuple[str, float]]:
        """The features that pushed a recalled memory's log-odds most (either way), as (plain words,
        push), from the ``f_<name>`` signals recall left on it; none without them. A match (words,
        meaning, speaker, date, neighbours) pushes from its absence; the memory's own traits
        (information, length) from their usual value."""
        m = self.model
        pushes = []
        for j, f in enumerate(m.features):
            value = signals.get(f"f_{f}")
            if value is None or value != value:
                continue
            reference = m.mean[j] if f.startswith("m_") or f in TRAITS else 0.0
            pushes.append((describe(f), float(m.weights[j] * (value - reference) / m.scale[j])))
        pushes.sort(key=lambda pair: -abs(pair[1]))
        return [(words, round(push, 2)) for words, push in pushes[:top] if round(push, 2)]

    def rank(self, rows: list[dict[str, float]], ids: list[int]) -> list[tuple[int, float]]:
        """``ids`` best first with their probabilities; equal scores go by id, as recall orders them."""
        probs = 1.0 / (1.0 + np.exp(-np.clip(self.logits(rows), -500, 500)))
        return sorted(zip(ids, (float(p) for p in probs), strict=True), key=lambda pair: (-pair[1], pair[0]))


def fit(rows: list[dict[str, float]], labels: list[bool], meta: dict[str, Any] | None = None,
        sample_weights: list[float] | None = None, l2: float = 1.0) -> Ranker:
    """Weights fitted on candidate rows labelled by whether they held a question's evidence."""
    return Ranker(logistic.fit(rows, labels, FEATURES, l2=l2, meta=meta, sample_weights=sample_weights))


def ranker_for(settings: RecallSettings, embedder_id: str) -> Ranker | None:
    """The ranker recall uses under ``settings``, or None for the fixed shares: also when the
    weights were fitted for another embedder (its cosines are on another scale)."""
    if settings.fusion != "learned":
        return None
    ranker = Ranker.load(expand(settings.ranker_file) if settings.ranker_file else None)
    fitted_for = ranker.model.meta.get("embedder")
    return ranker if fitted_for in (None, embedder_id) else None
