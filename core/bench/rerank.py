"""`cairn bench rerank`: the chat model's log p(question | memory) reordering the held-out ranker's
best candidates (:mod:`cairn.core.memory.retrieval.rerank`, :mod:`cairn.core.llm.relevance`).

The pools and the held-out ranking are those of `cairn bench ranker`: each group (a LoCoMo
conversation, a MADial fold) is ranked by weights fitted on the other groups. For every
``every``-th question the model scores the first ``depth`` candidates. The weight of its likelihood
is then chosen for each group on the other groups (from :data:`WEIGHTS`), so the re-ranked figure
is for questions that neither the ranker nor the weight saw. Next to it: the held-out ranker alone
on the same questions, and the weight Cairn ships (``assistant.rerank_weight``), which was chosen
on this data. Cost: the model's time per question.

The model's value for a memory does not depend on the others scored with it, so the same run also
reports each shallower depth in :data:`DEPTHS` (its own weight chosen held out), and ``record``
writes every question's candidates and values as JSON lines for study without the model.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cairn.core.bench.locomo import CATEGORIES, Progress
from cairn.core.bench.metrics import Tally, at_ks
from cairn.core.bench.ranking import Pool, dataset, gather, held_out_rankers
from cairn.core.config import Settings
from cairn.core.llm.chat import Chat
from cairn.core.llm.options import LoadOptions
from cairn.core.llm.relevance import QueryLikelihood
from cairn.core.llm.runtime import Runtime
from cairn.core.llm.session import Session
from cairn.core.memory.retrieval.embed import Embedder
from cairn.core.memory.retrieval.rerank import reorder

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
DEPTHS = (5, 10, 20)


@dataclass
class Scored:
    """One question: its pool, the held-out ranker's order (pool indices) with its probabilities,
    and the model's values for the first ``depth`` of that order."""

    pool: Pool
    order: list[int]
    probs: list[float]
    values: list[float]


def run(locomo_path: Path, madial_paths: tuple[Path, Path] | None, ks: list[int], model: Path, depth: int = 10,
        every: int = 1, *, embedder: Embedder, settings: Settings | None = None,
        progress: Progress | None = None, record: Path | None = None) -> dict[str, Any]:
    """The whole benchmark; returns the JSON-ready report."""
    settings = settings or Settings()
    pools, _ = gather(locomo_path, madial_paths, ks, embedder, settings, progress)
    rankers = held_out_rankers(pools, embedder.id)
    scored: dict[str, list[Scored]] = {}
    seconds: list[float] = []
    with Runtime(model, LoadOptions.from_settings(settings.llm)) as rt:
        scorer = QueryLikelihood(rt, Chat(rt, Session(rt)).template)
        total = sum(len(p[::every]) for p in pools.values())
        for group, group_pools in pools.items():
            for p in group_pools[::every]:
                ranked = rankers[group].rank(p.rows, p.ids)
                where = {i: n for n, i in enumerate(p.ids)}
                order = [where[i] for i, _ in ranked]
                start = time.perf_counter()
                values = scorer(p.query, [p.passages[i] for i in order[:depth]]) or []
                seconds.append(time.perf_counter() - start)
                scored.setdefault(group, []).append(Scored(p, order, [s for _, s in ranked], values))
                if progress:
                    progress("rerank", len(seconds), total)
    if record is not None:
        _record(record, scored)
    report = _report(scored, ks, depth, every, settings.assistant.rerank_weight, seconds, model)
    report["embedder"] = {"id": embedder.id}
    return report


def _record(path: Path, scored: dict[str, list[Scored]]) -> None:
    """One JSON line per question: its group, category, evidence turns, the scored candidates' turns
    (ranker order), which hold evidence, the ranker's probabilities and the model's values."""
    with path.open("w", encoding="utf-8") as f:
        for group, items in scored.items():
            for s in items:
                top = s.order[:len(s.values)]
                f.write(json.dumps({"group": group, "category": s.pool.category, "query": s.pool.query,
                                    "evidence": sorted(s.pool.evidence), "turns": [s.pool.turns[i] for i in top],
                                    "labels": [s.pool.labels[i] for i in top], "probs": s.probs[:len(top)],
                                    "values": s.values}) + "\n")


def _tally(items: list[Scored], ks: list[int], weight: float | None, tally: Tally, depth: int | None = None) -> Tally:
    """Recall@k of ``items`` in the ranker's order, or with the first ``depth`` scored ones (all when
    None) re-ranked by ``weight``."""
    for s in items:
        order, values = s.order, s.values[:depth]
        if weight is not None and len(values) >= 2:
            top = order[:len(values)]
            order = [top[i] for i in reorder(s.probs[:len(top)], values, weight)] + order[len(top):]
        tally.add(s.pool.category, at_ks([s.pool.turns[i] for i in order[:max(ks)]], s.pool.evidence, ks))
    return tally


def _macro(name: str, tally: Tally) -> dict[str, float]:
    return tally.macro(CATEGORIES if name == "locomo" else None)


def _objective(scored: dict[str, list[Scored]], groups: list[str], ks: list[int], weight: float,
               depth: int | None = None) -> float:
    """The sum of every macro figure (recall, hit and all at each cut-off, each data set) on ``groups``."""
    tallies: dict[str, Tally] = {}
    for g in groups:
        _tally(scored[g], ks, weight, tallies.setdefault(dataset(g), Tally()), depth)
    return sum(v for name, t in tallies.items() for v in _macro(name, t).values())


def _held_out(scored: dict[str, list[Scored]], ks: list[int], depth: int | None = None) -> tuple[dict[str, float],
                                                                                                 dict[str, Tally]]:
    """Each group re-ranked with the weight that does best on the other groups: the weights chosen
    and the tallies per data set."""
    chosen: dict[str, float] = {}
    held: dict[str, Tally] = {}
    for g, items in scored.items():
        others = [o for o in scored if o != g]
        chosen[g] = max(WEIGHTS, key=lambda w: (_objective(scored, others, ks, w, depth), -w))
        _tally(items, ks, chosen[g], held.setdefault(dataset(g), Tally()), depth)
    return chosen, held


def _report(scored: dict[str, list[Scored]], ks: list[int], depth: int, every: int, shipped: float,
            seconds: list[float], model: Path) -> dict[str, Any]:
    chosen, held = _held_out(scored, ks)
    base: dict[str, Tally] = {}
    fixed: dict[str, Tally] = {}
    for g, items in scored.items():
        _tally(items, ks, None, base.setdefault(dataset(g), Tally()))
        _tally(items, ks, shipped, fixed.setdefault(dataset(g), Tally()))
    report: dict[str, Any] = {"model": str(model), "depth": depth, "every": every, "weights_chosen": chosen,
                              "shipped_weight": shipped, "questions": {g: len(v) for g, v in scored.items()}}
    for name in base:
        report[name] = {"ranker_held_out": _macro(name, base[name]), "reranked_held_out": _macro(name, held[name]),
                        "reranked_shipped_weight": _macro(name, fixed[name]), "by_weight": {}, "by_depth": {}}
    for w in WEIGHTS:  # every weight on every question: in-sample, to show how flat the choice is
        tallies: dict[str, Tally] = {}
        for g, items in scored.items():
            _tally(items, ks, w, tallies.setdefault(dataset(g), Tally()))
        for name, t in tallies.items():
            report[name]["by_weight"][str(w)] = _macro(name, t)
    for d in (d for d in DEPTHS if d < depth):  # shallower re-ranking, read off the same values
        picked, tallies = _held_out(scored, ks, d)
        for name, t in tallies.items():
            report[name]["by_depth"][str(d)] = {"weights_chosen": sorted(w for g, w in picked.items() if dataset(g) == name),
                                                **_macro(name, t)}
    if seconds:
        ordered = sorted(seconds)
        report["ms_per_question"] = {"p50": round(1000 * statistics.median(ordered), 1),
                                     "p95": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 1)}
    return report
