"""Retrieval metrics and latency summaries shared by the benchmarks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np


def at_k(retrieved: Sequence[Iterable[str]], gold: set[str], k: int) -> dict[str, float]:
    """recall@k (share of gold ids found), hit@k (any found), all@k (every one found).

    ``retrieved`` is ranked; each item carries the ids it stands for (a memory may cite turns)."""
    found: set[str] = set()
    for item in retrieved[:k]:
        found |= set(item)
    got = len(found & gold)
    return {f"recall@{k}": got / len(gold), f"hit@{k}": float(got > 0), f"all@{k}": float(got == len(gold))}


def at_ks(retrieved: Sequence[Iterable[str]], gold: set[str], ks: Iterable[int]) -> dict[str, float]:
    """:func:`at_k` for every cut-off in ``ks``, in one dict."""
    out: dict[str, float] = {}
    for k in ks:
        out.update(at_k(retrieved, gold, k))
    return out


class Tally:
    """Per-category averages of per-question metric dicts, and their macro average."""

    def __init__(self) -> None:
        self._rows: dict[str, list[dict[str, float]]] = defaultdict(list)

    def add(self, category: str, metrics: dict[str, float]) -> None:
        self._rows[category].append(metrics)

    def per_category(self) -> dict[str, dict[str, float]]:
        out = {}
        for cat, rows in sorted(self._rows.items()):
            out[cat] = {key: round(float(np.mean([r[key] for r in rows])), 4) for key in rows[0]}
            out[cat]["questions"] = len(rows)
        return out

    def macro(self, categories: Sequence[str] | None = None) -> dict[str, float]:
        per = self.per_category()
        cats = [c for c in (categories or per) if c in per]
        if not cats:
            return {}
        keys = [k for k in per[cats[0]] if k != "questions"]
        return {k: round(float(np.mean([per[c][k] for c in cats])), 4) for k in keys}

    @property
    def questions(self) -> int:
        return sum(len(v) for v in self._rows.values())


def latency(samples_s: Sequence[float]) -> dict[str, float]:
    if not samples_s:
        return {"p50": 0.0, "p95": 0.0}
    ms = np.asarray(samples_s) * 1000.0
    return {"p50": round(float(np.percentile(ms, 50)), 2), "p95": round(float(np.percentile(ms, 95)), 2)}
