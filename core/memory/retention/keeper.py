"""Retention, as an object the bank owns (``bank.retention``): the forgetting curve, importance on
arrival, consolidation with recent neighbours, reinforcement on recall, sweeps and explanations.

It works on the database through the store (:mod:`~cairn.core.memory.storage.store`,
:mod:`~cairn.core.memory.storage.store_retention`) inside the caller's transaction where it is given a
connection, and opens its own where it is not; it never calls the bank back.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cairn.core.clock import Clock
from cairn.core.config import Settings
from cairn.core.memory.retention import consolidate, forgetting, sweep
from cairn.core.memory.retention.importance import (
    Background,
    Context,
    FixedBackground,
    Importance,
    ImportanceModel,
    ModelBackground,
    TokenSurprisal,
    WordFrequencyBackground,
    content_words,
    features,
    words,
)
from cairn.core.memory.retrieval.vectors import Vectors
from cairn.core.memory.storage import store, store_retention
from cairn.core.memory.storage.db import Database
from cairn.core.memory.storage.records import HistoryEntry, Memory, MemoryId, Recalled, Source
from cairn.core.paths import expand

NEIGHBOURS = 256  # recent memories a new one is compared with (novelty, duplicates, contradictions)


@dataclass(frozen=True)
class SweepReport:
    archived: int
    by_rule: dict[str, int]
    live_before: int
    live_after: int
    pinned_over_budget: int
    seconds: float
    ids: list[MemoryId] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "ids"} | {"ids": list(self.ids)}


@dataclass(frozen=True)
class Assessment:
    """A new text's importance and its closest recent memories (for consolidation)."""

    importance: Importance
    near: list[consolidate.Neighbour]


class Retention:
    """What the bank keeps, how strongly, and for how long."""

    def __init__(self, db: Database, settings: Settings, clock: Clock, vectors: Vectors) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.vectors = vectors
        self.background: Background = WordFrequencyBackground()
        self.judge: consolidate.Judge = consolidate.LexicalJudge()
        self._model: ImportanceModel | None = None

    # ---- configuration ----------------------------------------------------------------------

    def importance_model(self) -> ImportanceModel:
        if self._model is None:
            path = self.settings.retention.weights_file
            self._model = ImportanceModel.load(expand(path) if path else None)
        return self._model

    def use_importance_model(self, model: ImportanceModel) -> None:
        """Score new memories with ``model`` instead of the configured weights."""
        self._model = model

    def use_token_surprisal(self, scorer: TokenSurprisal) -> None:
        """Score information with a loaded LLM's token surprisal instead of word frequencies."""
        self.background = ModelBackground(scorer)

    def use_judge(self, judge: consolidate.Judge) -> None:
        """Decide "does the newer statement contradict the older?" with ``judge`` (an LLM)."""
        self.judge = judge

    def curve(self) -> forgetting.Curve:
        r = self.settings.retention
        return forgetting.Curve(r.min_strength_days, r.max_strength_days, r.recall_gain, r.recall_floor_days)

    # ---- arrival ----------------------------------------------------------------------------

    def prescore(self, text: str) -> FixedBackground:
        """Everything slow about scoring a text, done before its write transaction begins: the
        weights file, the word list and the background surprisal (an LLM pass, when one is used).
        Writers then hold the database lock for milliseconds, not the length of a model load."""
        self.importance_model()
        warm = getattr(self.background, "warm", None)
        if warm is not None:
            warm()
        bits = self.background.surprisal(text, content_words(words(text)))
        return FixedBackground(self.background.id, bits)

    def assess(self, conn: Any, text: str, source: Source, vector: np.ndarray,
               previous_text: str | None, background: Background, itself: int | None = None) -> Assessment:
        """Importance of a new text, and its closest recent memories (``itself``: the memory whose
        grown text this is, left out of them)."""
        ids, matrix = store_retention.recent_vectors(conn, source.ref, NEIGHBOURS)
        if itself in ids:
            keep = [n for n, i in enumerate(ids) if i != itself]
            ids, matrix = [ids[n] for n in keep], matrix[keep]
        sims = matrix @ np.asarray(vector, dtype=np.float32) if ids else np.zeros(0)
        content = content_words(words(text))
        context = Context(store.approximate_count(conn), store.document_frequency(conn, sorted(set(content))),
                          float(sims.max()) if len(sims) else 0.0, previous_text)
        importance = self.importance_model().score(features(text, context, background))
        top = {ids[i]: float(sims[i]) for i in np.argsort(-sims)[:5]} if len(sims) else {}
        found = store.get_many(conn, list(top))
        near = [consolidate.Neighbour(i, sim, found[i].text, found[i].source.speaker, when(found[i]))
                for i, sim in top.items() if i in found]
        return Assessment(importance, near)

    def scored(self, values: dict[str, Any], assessed: Assessment, importance: float | None) -> dict[str, Any]:
        """A new memory's column values with its importance (``importance`` overrides the
        assessed score), initial strength and validity start."""
        score = assessed.importance.score if importance is None else float(importance)
        valid_from = values["source_time"] if values["source_time"] is not None else values["created_at"]
        return {**values, "importance": score, "strength": forgetting.initial_strength(score, self.curve()),
                "importance_parts": json.dumps(assessed.importance.parts, sort_keys=True), "valid_from": valid_from}

    def consolidate(self, conn: Any, memory: Memory, near: list[consolidate.Neighbour]) -> Memory:
        """Merge a just-stored memory into a near-duplicate, or let it supersede an older statement
        it changes; returns it as it now is (``replaced_by`` set when merged)."""
        r = self.settings.retention
        decision = consolidate.decide(near, memory.text, memory.source.speaker, when(memory),
                                      r.duplicate_similarity, r.supersede_similarity, self.judge)
        if decision is None:
            return memory
        if decision.action == "merge":
            return _merge(conn, memory, decision)
        _supersede(conn, memory, decision)
        return memory

    # ---- recall -----------------------------------------------------------------------------

    def reinforce(self, hits: list[Recalled]) -> None:
        """Strengthen each memory that was used (spacing effect) and restart its clock."""
        if not hits:
            return
        now = self.clock.now()
        curve = self.curve()
        updates = [(h.memory.id, forgetting.reinforce(h.memory.strength, now - h.memory.age_anchor, curve))
                   for h in hits]
        with self.db.atomic() as conn:
            store_retention.reinforce_many(conn, updates, now)

    def restored_strength(self, memory: Memory, now: float) -> float:
        """An archived memory brought back counts as recalled: its strength after that recall."""
        return forgetting.reinforce(memory.strength, now - memory.age_anchor, self.curve())

    def weigh(self, hits: list[Recalled]) -> list[Recalled]:
        """Blend relevance with retention when ``retention.recall_weight`` w > 0:
        score' = (1 - w) * score + w * retention * (the best score among the hits)."""
        w = self.settings.retention.recall_weight
        if w <= 0 or not hits:
            return hits
        now = self.clock.now()
        top = max(max(h.score for h in hits), 1e-6)
        out = []
        for h in hits:
            r = forgetting.retention(h.memory.strength, now - h.memory.age_anchor, h.memory.pinned)
            out.append(Recalled(h.memory, (1 - w) * h.score + w * r * top, {**h.signals, "retention": round(r, 4)},
                                h.why))
        return sorted(out, key=lambda h: -h.score)

    # ---- sweeps and explanations ------------------------------------------------------------

    def sweep(self, now: float | None = None, budget: int | None = None, dry_run: bool = False) -> SweepReport:
        """Archive what has faded below ``retention.archive_below``, then enforce the storage budget
        (``budget``, else ``retention.max_memories``; 0 or None means none). Idempotent.
        ``dry_run``: report what would be archived, change nothing."""
        started = time.perf_counter()
        now = self.clock.now() if now is None else float(now)
        limit = budget if budget is not None else self.settings.retention.max_memories
        with self.db.atomic() as conn:
            s = store_retention.live_state(conn)
            planned = sweep.plan(s.ids, s.pinned, s.strength, s.anchor, now,
                                 self.settings.retention.archive_below, limit or None, s.superseded)
            if not dry_run:
                store_retention.archive_many(conn, planned.archive, now)
        ids = [a[0] for a in planned.archive]
        if dry_run:
            return _report(planned, ids, started)
        for memory_id in ids:
            self.vectors.after_commit_remove(memory_id)
        return _report(planned, ids, started)

    def explain(self, memory: Memory, history: list[HistoryEntry], now: float | None = None,
                days: int = 90) -> dict[str, Any]:
        """Why a memory is kept: importance and its parts, strength, retention now and ahead."""
        now = self.clock.now() if now is None else float(now)
        elapsed = now - memory.age_anchor
        r = forgetting.retention(memory.strength, elapsed, memory.pinned)
        threshold = self.settings.retention.archive_below
        parts = memory.importance_parts
        return {
            "memory": memory.to_dict(),
            "importance": {"score": memory.importance, "parts": parts,
                           "contributions": self.importance_model().score(parts).contributions if parts else {}},
            "strength_days": memory.strength,
            "retention_now": r,
            "days_since_recall": elapsed / forgetting.DAY,
            "days_until_archive": None if memory.pinned or threshold <= 0 else
            max(forgetting.days_until(memory.strength, threshold) - elapsed / forgetting.DAY, 0.0),
            "curve": forgetting.curve_points(memory.strength, elapsed, days, pinned=memory.pinned),
            "recalls": memory.recall_count,
            "history": [h.to_dict() for h in history],
        }


def _report(planned: sweep.SweepPlan, ids: list[int], started: float) -> SweepReport:
    rules = {"decay": sum("retention" in a[1] for a in planned.archive)}
    rules["budget"] = len(ids) - rules["decay"]
    return SweepReport(len(ids), rules, planned.live_before, planned.live_after, planned.pinned_over_budget,
                       round(time.perf_counter() - started, 4), [MemoryId(i) for i in ids])


def when(memory: Memory) -> float:
    """When a memory's statement was made (its source's time, else when it was stored)."""
    return memory.source.time if memory.source.time is not None else memory.created_at


def _merge(conn: Any, new: Memory, decision: consolidate.Decision) -> Memory:
    old = store.get_memory(conn, decision.target)
    assert old is not None
    turns = list(dict.fromkeys([*old.source.turns, *new.source.turns]))
    now = new.created_at
    store.update_memory(conn, old.id, {"source_turns": json.dumps(turns),
                                       "importance": max(old.importance, new.importance),
                                       "strength": max(old.strength, new.strength), "updated_at": now})
    reason = f"near-duplicate (cosine {decision.similarity:.3f})"
    store.add_history(conn, old.uid, "merge", now, {"turns": list(old.source.turns)},
                      {"turns": turns, "merged": new.uid}, reason)
    store.update_memory(conn, new.id, {"forgotten_at": now, "forgotten_by": "merged", "replaced_by": old.id})
    if store.vec_table_exists(conn):
        store.vec_set_active(conn, new.id, False)
    store.add_history(conn, new.uid, "merge", now, {"forgotten_at": None},
                      {"forgotten_at": now, "merged_into": old.uid}, reason)
    merged = store.get_memory(conn, new.id)
    assert merged is not None
    return merged


def _supersede(conn: Any, new: Memory, decision: consolidate.Decision) -> None:
    old = store.get_memory(conn, decision.target)
    assert old is not None
    at = new.valid_from if new.valid_from is not None else new.created_at
    store.update_memory(conn, old.id, {"valid_to": at})
    store.add_history(conn, old.uid, "supersede", new.created_at, {"valid_to": old.valid_to},
                      {"valid_to": at, "superseded_by": new.uid},
                      f"a newer statement changes it (cosine {decision.similarity:.3f})")
