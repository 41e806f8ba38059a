"""The retention half of :class:`cairn.core.memory.bank.MemoryBank`: importance on arrival,
consolidation, the conversation log, reinforcement on recall, sweeps and explanations.

A mixin so the bank stays one facade without one long module; it uses the bank's ``db``,
``embedder``, ``settings``, ``clock`` and ``vectors``.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cairn.core.clock import Clock
from cairn.core.config import Settings
from cairn.core.errors import NotFound
from cairn.core.memory import consolidate, forgetting, store, store_retention, sweep
from cairn.core.memory.records import Memory, MemoryId, Recalled, Source, snapshot
from cairn.core.memory.retention import (
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
    worth_storing,
)
from cairn.core.memory.vectors import Vectors, key_text

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
class TurnResult:
    """What became of one logged conversation turn."""

    log_id: int
    memory: Memory | None  # None: not worth a memory (it stays in the log)
    reason: str


class RetentionMixin:
    db: Any
    settings: Settings
    clock: Clock
    vectors: Vectors
    _model: ImportanceModel | None = None
    background: Background = WordFrequencyBackground()
    judge: consolidate.Judge = consolidate.LexicalJudge()

    # ---- importance -------------------------------------------------------------------------

    def importance_model(self) -> ImportanceModel:
        if self._model is None:
            path = self.settings.retention.weights_file
            self._model = ImportanceModel.load(Path(path).expanduser() if path else None)
        return self._model

    def use_importance_model(self, model: ImportanceModel) -> None:
        """Score new memories with ``model`` instead of the configured weights."""
        self._model = model

    def use_token_surprisal(self, scorer: TokenSurprisal) -> None:
        """Score information with a loaded LLM's token surprisal instead of word frequencies."""
        self.background = ModelBackground(scorer)

    def curve(self) -> forgetting.Curve:
        r = self.settings.retention
        return forgetting.Curve(r.min_strength_days, r.max_strength_days, r.recall_gain, r.recall_floor_days)

    def _prescore(self, text: str) -> FixedBackground:
        """Everything slow about scoring a text, done before its write transaction begins: the
        weights file, the word list and the background surprisal (an LLM pass, when one is used).
        Writers then hold the database lock for milliseconds, not the length of a model load."""
        self.importance_model()
        warm = getattr(self.background, "warm", None)
        if warm is not None:
            warm()
        bits = self.background.surprisal(text, content_words(words(text)))
        return FixedBackground(self.background.id, bits)

    def _assess(self, conn: Any, text: str, source: Source, vector: np.ndarray,
                previous_text: str | None, background: Background) -> tuple[Importance, list[consolidate.Neighbour]]:
        """Importance of a new text, and its closest recent memories."""
        ids, matrix = store_retention.recent_vectors(conn, source.ref, NEIGHBOURS)
        sims = matrix @ np.asarray(vector, dtype=np.float32) if ids else np.zeros(0)
        content = content_words(words(text))
        context = Context(store.approximate_count(conn), store.document_frequency(conn, sorted(set(content))),
                          float(sims.max()) if len(sims) else 0.0, previous_text)
        importance = self.importance_model().score(features(text, context, background))
        top = {ids[i]: float(sims[i]) for i in np.argsort(-sims)[:5]} if len(sims) else {}
        found = store.get_many(conn, list(top))
        near = [consolidate.Neighbour(i, sim, found[i].text, found[i].source.speaker, _when(found[i]))
                for i, sim in top.items() if i in found]
        return importance, near

    # ---- arrival ----------------------------------------------------------------------------

    def _store(self, conn: Any, values: dict[str, Any], vector: np.ndarray, importance: float | None,
               previous_text: str | None, background: Background) -> tuple[Memory, np.ndarray | None]:
        """Insert a memory scored on arrival, then consolidate it with its recent neighbours."""
        self._ensure_embedder(conn)  # type: ignore[attr-defined]  # before comparing vectors
        source = Source(values["source_type"], values["source_ref"], tuple(json.loads(values["source_turns"])),
                        values["source_time"], values["source_speaker"])
        assessed, near = self._assess(conn, values["text"], source, vector, previous_text, background)
        score = assessed.score if importance is None else float(importance)
        values = {**values, "importance": score, "strength": forgetting.initial_strength(score, self.curve()),
                  "importance_parts": json.dumps(assessed.parts, sort_keys=True),
                  "valid_from": source.time if source.time is not None else values["created_at"]}
        memory, code = self.insert_row(conn, values, vector)  # type: ignore[attr-defined]
        store.add_history(conn, memory.uid, "add", memory.created_at, None, snapshot(memory))
        r = self.settings.retention
        decision = consolidate.decide(near, memory.text, memory.source.speaker, _when(memory),
                                      r.duplicate_similarity, r.supersede_similarity, self.judge)
        if decision is None:
            return memory, code
        if decision.action == "merge":
            return self._merge(conn, memory, decision), None
        return self._supersede(conn, memory, decision), code

    def _merge(self, conn: Any, new: Memory, decision: consolidate.Decision) -> Memory:
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

    def _supersede(self, conn: Any, new: Memory, decision: consolidate.Decision) -> Memory:
        old = store.get_memory(conn, decision.target)
        assert old is not None
        when = new.valid_from if new.valid_from is not None else new.created_at
        store.update_memory(conn, old.id, {"valid_to": when})
        store.add_history(conn, old.uid, "supersede", new.created_at, {"valid_to": old.valid_to},
                          {"valid_to": when, "superseded_by": new.uid},
                          f"a newer statement changes it (cosine {decision.similarity:.3f})")
        return new

    # ---- conversation turns -----------------------------------------------------------------

    def log_turn(self, conversation: str, text: str, *, speaker: str | None = None, turn: str | None = None,
                 at: float | None = None, pinned: bool = False, memorable: bool = True) -> TurnResult:
        """Log one conversation turn; keep it as a memory too when it carries information
        (``memorable=False``: log only, e.g. a question to the assistant)."""
        text = self._check(text, "Turn text")  # type: ignore[attr-defined]
        conversation = self._check(conversation, "Conversation name")  # type: ignore[attr-defined]
        at = self.clock.now() if at is None else float(at)
        keep = pinned or (memorable and (self.settings.retention.store_trivial or worth_storing(text)))
        source = Source("conversation", conversation, (turn,) if turn else (), at, speaker)
        vector = self._embed([key_text(text, speaker)])[0] if keep else None  # type: ignore[attr-defined]
        background = self._prescore(text) if keep else None
        with self.db.atomic() as conn:
            log_id = store_retention.log_turn(conn, conversation, turn, speaker, text, at)
            if vector is None:
                why = "no content of its own" if memorable else "not a statement to remember"
                return TurnResult(log_id, None, f"{why}: kept in the conversation log only")
            before = store_retention.last_turn(conn, conversation, log_id)
            previous = before.text if before is not None and before.speaker != speaker else None
            values = new_values(text, "conversation", source, pinned, self.clock.now())
            assert background is not None
            memory, code = self._store(conn, values, vector, None, previous, background)
            store_retention.link_turn(conn, log_id, memory.id)
        self.vectors.after_commit_add(memory.id, code)
        reason = f"merged into memory {memory.replaced_by}" if memory.replaced_by else "stored"
        return TurnResult(log_id, memory, reason)

    def conversations(self, limit: int | None = None, offset: int = 0) -> list[store_retention.ConversationSummary]:
        """The logged conversations (every turn, including questions to the assistant), newest first."""
        with self.db.guard():
            return store_retention.conversations(self.db.conn, limit, offset)

    def conversation(self, name: str) -> list[store_retention.LoggedTurn]:
        """A conversation's logged turns, in order; NotFound if there is none of that name."""
        with self.db.guard():
            turns = store_retention.conversation(self.db.conn, name)
        if not turns:
            raise NotFound(f"No conversation called {name!r} in the log.",
                           hint="`cairn conversations list` shows them.")
        return turns

    def purge_conversation(self, names: list[str], with_memories: bool = False,
                           reason: str | None = None) -> dict[str, Any]:
        """Erase conversations from the log, all or none (and, ``with_memories``, the memories their
        turns became, as :meth:`purge_many` does), leaving no copy of their text in the files."""
        self._require_no_readers("purge")  # type: ignore[attr-defined]
        with self.db.atomic() as conn:
            known = {c.name for c in store_retention.conversations(conn)}
            missing = [n for n in names if n not in known]
            if missing:
                raise NotFound(f"No conversation called {', '.join(map(repr, missing))} in the log; nothing was changed.",
                               hint="`cairn conversations list` shows them.")
            memory_ids = [i for n in names for i in store_retention.delete_conversation(conn, n)]
            gone: list[Memory] = []
            if with_memories and memory_ids:
                found = store.get_many(conn, memory_ids)
                gone = self._erase_all(conn, store.purge_closure(conn, list(found.values())), reason)  # type: ignore[attr-defined]
        for memory in gone:
            self.vectors.after_commit_remove(memory.id)
        self._scrub("purge")  # type: ignore[attr-defined]
        return {"conversations": names, "memories_purged": [m.id for m in gone]}

    def summarise(self, conversation: str, summariser: consolidate.Summariser,
                  after_log_id: int = 0) -> list[Memory]:
        """Turn a conversation's logged turns (those after ``after_log_id``) into atomic facts
        with a summariser (an LLM); each fact is stored linked to the turns it came from."""
        with self.db.guard():
            turns = [t for t in store_retention.conversation(self.db.conn, conversation) if t.id > after_log_id]
        if not turns:
            return []
        when = {t.turn: t.at for t in turns if t.turn}
        out = []
        for fact in summariser.summarise(conversation, [(t.turn, t.speaker, t.text) for t in turns]):
            times = [when[x] for x in fact.turns if x in when]
            source = Source("conversation", conversation, fact.turns, max(times) if times else turns[-1].at,
                            fact.speaker)
            out.append(self.remember(fact.text, kind="fact", source=source))  # type: ignore[attr-defined]
        return out

    def use_judge(self, judge: consolidate.Judge) -> None:
        """Decide "does the newer statement contradict the older?" with ``judge`` (an LLM)."""
        self.judge = judge

    # ---- recall -----------------------------------------------------------------------------

    def reinforce(self, hits: list[Recalled]) -> None:
        """Strengthen each memory that was used (spacing effect) and restart its clock: recall does
        this for every hit unless told not to (``touch=False``), so that a caller that shows only
        some of them reinforces just those."""
        if not hits:
            return
        now = self.clock.now()
        curve = self.curve()
        updates = [(h.memory.id, forgetting.reinforce(h.memory.strength, now - h.memory.age_anchor, curve))
                   for h in hits]
        with self.db.atomic() as conn:
            store_retention.reinforce_many(conn, updates, now)

    def _weigh_retention(self, hits: list[Recalled]) -> list[Recalled]:
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
            out.append(Recalled(h.memory, (1 - w) * h.score + w * r * top, {**h.signals, "retention": round(r, 4)}))
        return sorted(out, key=lambda h: -h.score)

    # ---- sweeps -----------------------------------------------------------------------------

    def sweep(self, now: float | None = None, budget: int | None = None) -> SweepReport:
        """Archive what has faded below ``retention.archive_below``, then enforce the storage budget
        (``budget``, else ``retention.max_memories``; 0 or None means none). Idempotent."""
        started = time.perf_counter()
        now = self.clock.now() if now is None else float(now)
        limit = budget if budget is not None else self.settings.retention.max_memories
        with self.db.atomic() as conn:
            s = store_retention.live_state(conn)
            planned = sweep.plan(s.ids, s.pinned, s.strength, s.anchor, now,
                                 self.settings.retention.archive_below, limit or None, s.superseded)
            store_retention.archive_many(conn, planned.archive, now)
        ids = [a[0] for a in planned.archive]
        for memory_id in ids:
            self.vectors.after_commit_remove(memory_id)
        rules = {"decay": sum("retention" in a[1] for a in planned.archive)}
        rules["budget"] = len(ids) - rules["decay"]
        return SweepReport(len(ids), rules, planned.live_before, planned.live_after, planned.pinned_over_budget,
                           round(time.perf_counter() - started, 4), [MemoryId(i) for i in ids])

    # ---- explanations -----------------------------------------------------------------------

    def explain(self, memory_id: MemoryId, now: float | None = None, days: int = 90) -> dict[str, Any]:
        """Why a memory is kept: importance and its parts, strength, retention now and ahead."""
        memory = self.get(memory_id)  # type: ignore[attr-defined]
        now = self.clock.now() if now is None else float(now)
        elapsed = now - memory.age_anchor
        model = self.importance_model()
        r = forgetting.retention(memory.strength, elapsed, memory.pinned)
        threshold = self.settings.retention.archive_below
        return {
            "memory": memory.to_dict(),
            "importance": {"score": memory.importance,
                           "parts": memory.importance_parts,
                           "contributions": model.score(memory.importance_parts).contributions
                           if memory.importance_parts else {}},
            "strength_days": memory.strength,
            "retention_now": r,
            "days_since_recall": elapsed / forgetting.DAY,
            "days_until_archive": None if memory.pinned or threshold <= 0 else
            max(forgetting.days_until(memory.strength, threshold) - elapsed / forgetting.DAY, 0.0),
            "curve": forgetting.curve_points(memory.strength, elapsed, days, pinned=memory.pinned),
            "recalls": memory.recall_count,
            "history": [h.to_dict() for h in self.history(memory_id)],  # type: ignore[attr-defined]
        }


def _when(memory: Memory) -> float:
    return memory.source.time if memory.source.time is not None else memory.created_at


def new_values(text: str, kind: str, source: Source, pinned: bool, now: float) -> dict[str, Any]:
    """Column values of a memory about to be stored (importance and strength come later)."""
    return {"uid": uuid.uuid4().hex, "text": text, "kind": kind, "created_at": now, "updated_at": now,
            "pinned": int(pinned), "source_type": source.type, "source_ref": source.ref,
            "source_turns": json.dumps(list(source.turns)), "source_time": source.time,
            "source_speaker": source.speaker}
