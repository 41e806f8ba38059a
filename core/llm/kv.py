"""KV-cache eviction policies: which cached tokens to drop when the next turn would not fit.

Both keep the attention sinks (the first ``sinks`` tokens, after StreamingLLM), everything the
caller protects (the system prompt), and a recent window; they differ in what goes from the
middle:

* ``sink_window`` (StreamingLLM): the oldest middle tokens, as one span.
* ``entropy`` (SirLLM): the middle tokens with the lowest token entropy (surprisal under the
  model when they were evaluated, decayed each turn so old surprises fade), as several spans.

Policies are pure: they return spans of indexes into the cached token list; the session applies
them with llama.cpp's sequence remove and shift operations (no re-evaluation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

POLICIES = ("sink_window", "entropy")


@dataclass(frozen=True)
class Eviction:
    policy: str = "sink_window"
    sinks: int = 4
    recent: float = 0.25  # share of the context always kept at the end
    headroom: float = 0.25  # share of the context freed beyond what the next turn needs (fewer events)
    decay: float = 0.9  # per-turn decay of token entropy scores (entropy policy)


def kept(n_ctx: int, protected: int, e: Eviction) -> tuple[int, int]:
    """(leading, trailing) tokens eviction always keeps: sinks or the protected prefix, and the
    recent window."""
    return max(e.sinks, protected), int(e.recent * n_ctx)


def plan(n_cached: int, needed: int, n_ctx: int, protected: int, scores: list[float] | None,
         e: Eviction) -> list[tuple[int, int]]:
    """Spans [start, end) of cached indexes to drop so that ``needed`` more tokens fit, or [] if
    they already fit. Raises ValueError when even dropping every evictable token is not enough."""
    if n_cached + needed <= n_ctx:
        return []
    keep_front, keep_back = kept(n_ctx, protected, e)
    evictable = n_cached - keep_front - keep_back
    drop = min(evictable, n_cached + needed - n_ctx + int(e.headroom * n_ctx))
    if evictable <= 0 or n_cached - evictable + needed > n_ctx:
        raise ValueError(f"{needed} new tokens cannot fit in {n_ctx} with {keep_front + keep_back} kept")
    if e.policy == "sink_window" or scores is None:
        return [(keep_front, keep_front + drop)]
    middle = np.asarray(scores[keep_front:keep_front + evictable], dtype=np.float64)
    chosen = np.sort(np.argsort(middle, kind="stable")[:drop]) + keep_front
    return _spans(chosen.tolist())


def _spans(indexes: list[int]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for i in indexes:
        if spans and spans[-1][1] == i:
            spans[-1] = (spans[-1][0], i + 1)
        else:
            spans.append((i, i + 1))
    return spans
