"""A second stage over recall's best candidates: a scorer (the chat model's log p(query | memory),
:mod:`cairn.core.llm.relevance`, passed in by the assistant) reorders the first ``depth`` hits.

Each hit keeps recall's own judgement: the new score is the logit of recall's score plus ``weight``
times the scorer's value standardised among the hits scored (a z-score: the likelihood's scale
depends on the query's length, its spread within one query does not). Hits below ``depth`` keep
their place after the reordered ones. The memory is shown to the scorer as it would be to a reader:
its date, who said it, then its text.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from cairn.core.memory.storage.records import Memory, Recalled

Scorer = Callable[[str, list[str]], list[float] | None]
EDGE = 1e-6  # recall scores are clipped to [EDGE, 1 - EDGE] before their logit


def passage(memory: Memory) -> str:
    """``(8 May 2023) Caroline: text``: the memory with its date and speaker, as the scorer reads it."""
    when = memory.source.time if memory.source.time is not None else memory.created_at
    day = datetime.fromtimestamp(when, UTC)
    who = f"{memory.source.speaker}: " if memory.source.speaker else ""
    return f"({day.day} {day:%B %Y}) {who}{memory.text}"


def reorder(scores: list[float], values: list[float], weight: float) -> list[int]:
    """Indices of the candidates best first by logit(recall's score) + ``weight`` x the z-score of
    the scorer's ``values``; ties keep recall's order."""
    if len(values) != len(scores):
        raise ValueError(f"the scorer returned {len(values)} values for {len(scores)} memories")
    spread = float(np.std(values)) or 1.0
    mean = float(np.mean(values))
    combined = []
    for s, v in zip(scores, values, strict=True):
        p = min(max(s, EDGE), 1 - EDGE)
        combined.append(math.log(p / (1 - p)) + weight * (v - mean) / spread)
    return sorted(range(len(scores)), key=lambda i: -combined[i])


def rerank(query: str, hits: list[Recalled], scorer: Scorer, depth: int, weight: float) -> list[Recalled]:
    """``hits`` with the first ``depth`` reordered by recall's score and the scorer's; each scored
    hit carries the scorer's value as the signal ``likelihood``. Unchanged when fewer than two hits
    are scored or the scorer declines (None)."""
    top, rest = hits[:depth], hits[depth:]
    if len(top) < 2 or weight == 0:
        return hits
    values = scorer(query, [passage(h.memory) for h in top])
    if values is None:
        return hits
    order = reorder([h.score for h in top], values, weight)
    return [replace(top[i], signals={**top[i].signals, "likelihood": round(values[i], 3)}) for i in order] + rest
