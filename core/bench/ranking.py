"""`cairn bench ranker`: the learned ranker fitted and measured on data it did not see.

For every question the real recall path returns its whole candidate pool with each candidate's
features (a neutral ranker orders nothing); a candidate is labelled positive when it holds the
question's evidence (a LoCoMo evidence turn, a MADial relevant memory). The data fall into groups:
each LoCoMo conversation, and MADial's dialogues in four folds. Each group is ranked by weights
fitted on all the other groups, which is the figure for conversations the weights never saw,
next to the fixed fusion on the same questions. ``save`` fits on every group: the weights Cairn
ships (``models/ranker.json``) are written this way.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from cairn.core.bench import locomo, madial
from cairn.core.bench.locomo import CATEGORIES, Progress
from cairn.core.bench.metrics import Tally, at_ks
from cairn.core.clock import ManualClock
from cairn.core.config import Settings
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.retrieval.embed import Embedder
from cairn.core.memory.retrieval.ranker import FEATURES, Ranker, fit
from cairn.core.memory.retrieval.rerank import passage
from cairn.core.memory.retrieval.retrieve import Retrievers

LABEL = "the candidate holds the question's evidence (LoCoMo categories 1-4; MADial relevant memories)"
MADIAL_FOLDS = 4


@dataclass
class Pool:
    """One question's candidates: feature rows, labels, memory ids and turn ids, in pool order, and
    each memory as a re-ranking scorer reads it."""

    category: str
    evidence: set[str]
    rows: list[dict[str, float]]
    labels: list[bool]
    ids: list[int]
    turns: list[tuple[str, ...]]
    query: str = ""
    passages: list[str] = field(default_factory=list)


def collect(bank: MemoryBank, questions: list[Any], k: int, use: Retrievers = Retrievers()) -> list[Pool]:
    """Each question's whole candidate pool for a recall of ``k`` through the real recall path,
    with its features."""
    kept = bank.ranker
    bank.use_ranker(Ranker.neutral())
    try:
        pools = []
        for q in questions:
            hits = bank.recall(q.text, k=k, touch=False, use=use, whole_pool=True)
            rows = [{f: h.signals.get(f"f_{f}", math.nan) for f in FEATURES} for h in hits]
            pools.append(Pool(q.category, q.evidence, rows, [bool(set(h.memory.source.turns) & q.evidence) for h in hits],
                              [h.memory.id for h in hits], [h.memory.source.turns for h in hits], q.text,
                              [passage(h.memory) for h in hits]))
        return pools
    finally:
        bank.use_ranker(kept)


def score(ranker: Ranker, pools: list[Pool], ks: list[int], tally: Tally) -> None:
    """Rank each pool with ``ranker`` exactly as recall would, and score the top ``k``."""
    for p in pools:
        order = {i: n for n, i in enumerate(p.ids)}
        ranked = [p.turns[order[i]] for i, _ in ranker.rank(p.rows, p.ids)[:max(ks)]]
        tally.add(p.category, at_ks(ranked, p.evidence, ks))


def fit_on(pools: dict[str, list[Pool]], names: list[str], embedder_id: str) -> Ranker:
    """Weights fitted on the pools of the conversations ``names``; each question weighs the same."""
    rows, labels, weights = [], [], []
    for name in names:
        for p in pools[name]:
            rows.extend(p.rows)
            labels.extend(p.labels)
            weights.extend([1.0 / max(1, len(p.rows))] * len(p.rows))
    total = sum(weights)
    meta = {"fitted_on": names, "examples": len(rows), "positives": sum(labels), "questions":
            sum(len(pools[n]) for n in names), "label": LABEL, "embedder": embedder_id, "date": date.today().isoformat()}
    return fit(rows, labels, meta=meta, sample_weights=[w * len(rows) / total for w in weights])


def held_out_rankers(pools: dict[str, list[Pool]], embedder_id: str) -> dict[str, Ranker]:
    """For each group, the ranker fitted on all the other groups."""
    return {held: fit_on(pools, [n for n in pools if n != held], embedder_id) for held in pools}


def held_out(pools: dict[str, list[Pool]], ks: list[int], embedder_id: str) -> dict[str, Tally]:
    """Each group ranked by weights fitted on all the others, tallied per data set."""
    tallies: dict[str, Tally] = {}
    for held, ranker in held_out_rankers(pools, embedder_id).items():
        score(ranker, pools[held], ks, tallies.setdefault(dataset(held), Tally()))
    return tallies


def dataset(group: str) -> str:
    """The data set a group belongs to: ``locomo`` or ``madial``."""
    return "madial" if group.startswith("madial") else "locomo"


def _fixed(bank: MemoryBank, questions: list[Any], ks: list[int], tally: Tally) -> None:
    for q in questions:
        hits = bank.recall(q.text, k=max(ks), touch=False, use=Retrievers(learned=False))
        tally.add(q.category, at_ks([h.memory.source.turns for h in hits], q.evidence, ks))


def _locomo(path: Path, ks: list[int], embedder: Embedder, settings: Settings, pools: dict[str, list[Pool]],
            fixed: Tally, progress: Progress | None) -> None:
    for conv in locomo.load(path):
        with tempfile.TemporaryDirectory(prefix="cairn-bench-") as tmp:
            clock = ManualClock()
            with MemoryBank.open(Path(tmp) / "memory.db", settings, embedder=embedder, clock=clock,
                                 in_memory_index=True) as bank:
                locomo.ingest(bank, clock, conv, progress)
                pools[conv.sample_id] = collect(bank, conv.questions, max(ks))
                _fixed(bank, conv.questions, ks, fixed)


def _madial(paths: tuple[Path, Path], ks: list[int], embedder: Embedder, settings: Settings,
            pools: dict[str, list[Pool]], fixed: Tally) -> None:
    memories = madial.load_memories(paths[1])
    dialogues = madial.load_dialogues(paths[0], set(memories))
    with tempfile.TemporaryDirectory(prefix="cairn-bench-") as tmp:
        clock = ManualClock()
        with MemoryBank.open(Path(tmp) / "memory.db", settings, embedder=embedder, clock=clock,
                             in_memory_index=True) as bank:
            madial.ingest(bank, clock, memories)
            questions = [SimpleNamespace(text=madial.query_text(bank, d), category="all", evidence=d.relevant)
                         for d in dialogues]
            for fold in range(MADIAL_FOLDS):
                pools[f"madial-{fold + 1}"] = collect(bank, questions[fold::MADIAL_FOLDS], max(ks))
            _fixed(bank, questions, ks, fixed)


def gather(locomo_path: Path, madial_paths: tuple[Path, Path] | None, ks: list[int], embedder: Embedder,
           settings: Settings, progress: Progress | None = None) -> tuple[dict[str, list[Pool]], dict[str, Tally]]:
    """Every group's pools (each LoCoMo conversation, MADial in four folds), and the fixed fusion's
    tally per data set on the same questions."""
    pools: dict[str, list[Pool]] = {}
    fixed = {"locomo": Tally(), "madial": Tally()}
    _locomo(locomo_path, ks, embedder, settings, pools, fixed["locomo"], progress)
    if madial_paths:
        _madial(madial_paths, ks, embedder, settings, pools, fixed["madial"])
    return pools, fixed


def run(locomo_path: Path, madial_paths: tuple[Path, Path] | None, ks: list[int], save: Path | None = None, *,
        embedder: Embedder, settings: Settings | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """The whole benchmark; returns the JSON-ready report (and writes the weights to ``save``)."""
    settings = settings or Settings()
    pools, fixed = gather(locomo_path, madial_paths, ks, embedder, settings, progress)
    learned = held_out(pools, ks, embedder.id)
    report: dict[str, Any] = {"groups": {n: len(p) for n, p in pools.items()}, "embedder": {"id": embedder.id}}
    for name, tally in learned.items():
        cats = CATEGORIES if name == "locomo" else None
        report[name] = {"learned_held_out": tally.macro(cats), "fixed": fixed[name].macro(cats),
                        "per_category": tally.per_category() if cats else None}
    if save:
        ranker = fit_on(pools, list(pools), embedder.id)
        ranker.model.save(save)
        report["saved"] = {"path": str(save), "weights": dict(zip(FEATURES, ranker.model.weights.round(4).tolist(),
                                                                   strict=True))}
    return report
