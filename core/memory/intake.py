"""Intake: how a text becomes a memory. Embedded and checked against the bank's embedder,
scored by retention, written (row, vector, full text, history) in one transaction, then
consolidated with its recent neighbours; conversation turns are logged on the way.

An object the bank owns (``bank.intake``); it calls the store and retention, never the bank.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cairn.core.clock import Clock
from cairn.core.config import Settings
from cairn.core.errors import EmbedderMismatch, InvalidInput, ModelLoadError
from cairn.core.memory.chatlog import ChatMessage
from cairn.core.memory.retention import bursts, consolidate
from cairn.core.memory.retention.importance import Background, worth_storing
from cairn.core.memory.retention.keeper import Retention
from cairn.core.memory.retrieval.embed import Embedder
from cairn.core.memory.retrieval.vectors import Vectors, key_text
from cairn.core.memory.storage import erase, store, store_retention
from cairn.core.memory.storage.columns import new_values, source_of
from cairn.core.memory.storage.db import Database
from cairn.core.memory.storage.records import Memory, Source, snapshot
from cairn.core.memory.storage.textcheck import check_text

Codes = list[tuple[int, np.ndarray]]  # (memory id, code) pairs for the in-memory vector index


@dataclass(frozen=True)
class TurnResult:
    """What became of one logged conversation turn."""

    log_id: int
    memory: Memory | None  # None: not worth a memory (it stays in the log)
    reason: str


@dataclass(frozen=True)
class Grown:
    """A burst's memory as it will read once a new message joins it, embedded ahead of the write."""

    target: int  # the memory the message continues
    text: str
    vector: np.ndarray


@dataclass(frozen=True)
class TurnsLogged:
    """What became of a batch of messages logged at once (a chat history read in)."""

    conversation: str
    logged: int  # messages in the conversation log
    stored: int  # new memories
    joined: int  # messages that joined an earlier memory (a burst, or a copy)
    log_only: int  # messages with no content of their own, kept in the log only

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def total(cls, conversation: str, parts: Sequence[TurnsLogged]) -> TurnsLogged:
        """The batches of one import added up."""
        return cls(conversation, *(sum(getattr(p, f) for p in parts) for f in ("logged", "stored", "joined", "log_only")))


class Intake:
    """Writes new memories for the bank."""

    def __init__(self, db: Database, embedder: Embedder, settings: Settings, clock: Clock,
                 vectors: Vectors, retention: Retention) -> None:
        self.db = db
        self.embedder = embedder
        self.settings = settings
        self.clock = clock
        self.vectors = vectors
        self.retention = retention

    # ---- the embedder -----------------------------------------------------------------------

    def stored_embedder(self, conn: Any) -> tuple[str, int] | None:
        """(id, dim) of the embedder the bank's vectors came from, or None for a new bank."""
        ident = store.meta_get(conn, "embedder_id")
        dim = store.meta_get(conn, "embedder_dim")
        return (ident, int(dim)) if ident and dim else None

    def ensure_embedder(self, conn: Any, create: bool = True) -> None:
        """Refuse vectors from another embedder; a new bank (``create``) learns this one's."""
        stored = self.stored_embedder(conn)
        if stored is None:
            if create:
                store.meta_set(conn, "embedder_id", self.embedder.id)
                store.meta_set(conn, "embedder_dim", str(self.embedder.dim))
                store.vec_drop(conn)
                store.vec_create(conn, self.embedder.dim)
        elif stored != (self.embedder.id, self.embedder.dim):
            raise EmbedderMismatch(
                f"This memory bank's vectors were made by {stored[0]} (dimension {stored[1]}), but the configured "
                f"embedder is {self.embedder.id} (dimension {self.embedder.dim}); they cannot be mixed.",
                hint="Run `cairn reindex` to re-embed every memory with the configured embedder.")

    def embed(self, texts: list[str]) -> np.ndarray:
        """Vectors of embedding keys (:func:`cairn.core.memory.retrieval.vectors.key_text`), shape-checked."""
        vectors = self.embedder.embed(texts)
        if vectors.shape != (len(texts), self.embedder.dim):
            raise ModelLoadError(f"The embedder {self.embedder.id} returned vectors of shape {vectors.shape}, "
                                 f"expected ({len(texts)}, {self.embedder.dim}).")
        return vectors

    def reindex(self, progress: Callable[[int, int], None] | None = None, batch: int = 256) -> int:
        """Re-embed every memory with the configured embedder; returns how many."""
        with self.db.atomic() as conn:
            total = sum(store.count_memories(conn).values())
            for key in ("embedder_id", "embedder_dim", "vector_centre"):
                store.meta_delete(conn, key)
            self.ensure_embedder(conn)
            done = 0
            pending: list[Memory] = []
            for memory in store.iter_memories(conn, batch):
                pending.append(memory)
                if len(pending) == batch:
                    done += self._put_vectors(conn, pending, progress, done, total)
                    pending = []
            done += self._put_vectors(conn, pending, progress, done, total)
            if done >= 1:
                self.vectors.recentre(conn)
        self.vectors.invalidate()
        return done

    def _put_vectors(self, conn: Any, memories: list[Memory], progress: Callable[[int, int], None] | None,
                     done: int, total: int) -> int:
        if not memories:
            return 0
        vectors = self.embed([key_text(m.text, m.source.speaker) for m in memories])
        for memory, vector in zip(memories, vectors, strict=False):
            self.vectors.put(conn, memory.id, vector, active=not memory.forgotten)
        if progress:
            progress(done + len(memories), total)
        return len(memories)

    # ---- arrival ----------------------------------------------------------------------------

    def remember(self, text: str, kind: str, source: Source, pinned: bool, importance: float | None,
                 client: str | None = None, continues: bool = False) -> Memory:
        """Store one checked memory (see :meth:`cairn.core.memory.bank.MemoryBank.remember`)."""
        values = {**new_values(text, kind, source, pinned, self.clock.now()), "client": client}
        vector, grown = self._arrival(values, continues)
        background = self.retention.prescore(text)
        with self.db.atomic() as conn:
            memory, codes = self.store(conn, values, vector, importance, None, background, continues, grown)
        self._index(codes)
        return memory

    def store(self, conn: Any, values: dict[str, Any], vector: np.ndarray, importance: float | None,
              previous_text: str | None, background: Background, continues: bool = False,
              grown: Grown | None = None) -> tuple[Memory, Codes]:
        """Insert a memory scored on arrival: as the continuation of the same speaker's message just
        before (:mod:`~cairn.core.memory.retention.bursts`), else on its own, consolidated with its
        recent neighbours. ``grown``: the burst's longer text, embedded before the transaction.

        Returns it and the (id, code) pairs the in-memory index takes once the transaction commits."""
        self.ensure_embedder(conn)  # before comparing vectors
        assessed = self.retention.assess(conn, values["text"], source_of(values), vector, previous_text, background)
        scored = self.retention.scored(values, assessed, importance)
        copy = any(consolidate.is_copy(n, values["source_speaker"], bursts.when(values),
                                       self.settings.retention.duplicate_similarity) for n in assessed.near)
        burst = bursts.continued(conn, scored, self.settings.retention) if continues and not copy else None
        if burst is not None:
            return self._continue(conn, scored, vector, *burst, grown)
        memory, code = self.insert_row(conn, scored, vector)
        store.add_history(conn, memory.uid, "add", memory.created_at, None, snapshot(memory))
        memory = self.retention.consolidate(conn, memory, assessed.near)
        return memory, [] if memory.replaced_by or code is None else [(memory.id, code)]

    def _continue(self, conn: Any, values: dict[str, Any], vector: np.ndarray, target: Memory,
                  gap: float, ahead: Grown | None = None) -> tuple[Memory, Codes]:
        """The message joins ``target``, which is scored again as the longer text it becomes; the
        message's own row stays, hidden, pointing there."""
        now = values["created_at"]
        hidden = {**values, "forgotten_at": now, "forgotten_by": "merged", "replaced_by": target.id}
        message, _ = self.insert_row(conn, hidden, vector)
        store.add_history(conn, message.uid, "add", now, None, snapshot(message))
        text = f"{target.text}{bursts.JOIN}{message.text}"
        if ahead is not None and (ahead.target, ahead.text) == (target.id, text):
            grown_vector = ahead.vector
        else:  # another writer changed the burst since it was embedded ahead
            grown_vector = self.embed([key_text(text, target.source.speaker)])[0]
        before = store.previous_in_source(conn, str(target.source.ref), target.id, live=True)
        previous = before.text if before is not None and before.source.speaker != target.source.speaker else None
        assessed = self.retention.assess(conn, text, target.source, grown_vector, previous,
                                         self.retention.prescore(text), itself=target.id)
        rescored = self.retention.scored({**values, "text": text}, assessed, None)
        turns = list(dict.fromkeys([*target.source.turns, *message.source.turns]))
        store.update_memory(conn, target.id, {
            "text": text, "source_turns": json.dumps(turns), "importance": rescored["importance"],
            "importance_parts": rescored["importance_parts"],
            "strength": max(target.strength, rescored["strength"]), "updated_at": now})
        grown = store.get_memory(conn, target.id)
        assert grown is not None
        code = self.retext(conn, target, grown, grown_vector)
        why = f"{bursts.CONTINUED}: the same speaker's next message, {gap:.0f} s later"
        store.add_history(conn, target.uid, "merge", now, {"text": target.text, "turns": list(target.source.turns)},
                          {"text": grown.text, "turns": turns, "merged": message.uid}, why)
        store.add_history(conn, message.uid, "merge", now, {"forgotten_at": None},
                          {"forgotten_at": now, "merged_into": target.uid}, why)
        return message, [] if code is None else [(target.id, code)]

    def retext(self, conn: Any, old: Memory, new: Memory, vector: np.ndarray | None = None) -> np.ndarray | None:
        """After a memory's text changed (``old`` -> ``new``): its vector (``vector`` when already
        embedded), full text, word counts and its neighbours' context follow. Returns its new code
        for the in-memory index, if it is live."""
        if key_text(old.text, old.source.speaker) == key_text(new.text, new.source.speaker):
            return None
        self.ensure_embedder(conn)
        if vector is None:
            vector = self.embed([key_text(new.text, new.source.speaker)])[0]
        code = self.vectors.put(conn, new.id, vector, active=not new.forgotten)
        store.fts_put(conn, new.id, new.source.speaker, new.text, store.fts_context(conn, new.id))
        for neighbour in store.adjacent_in_source(conn, new):
            if neighbour is not None:  # its context held the old text
                erase.relink(conn, neighbour)
        store.df_add(conn, old.text, -1)
        store.df_add(conn, new.text, +1)
        return None if new.forgotten else code

    def _index(self, codes: Codes) -> None:
        """Bring the in-memory index up to date after a commit."""
        for memory_id, code in codes:
            self.vectors.after_commit_remove(memory_id)
            self.vectors.after_commit_add(memory_id, code)

    def insert_row(self, conn: Any, values: dict[str, Any], vector: np.ndarray) -> tuple[Memory, np.ndarray | None]:
        """Row + vector + full text of one memory (inside the caller's transaction).

        Returns the memory and, if it is live, its code for the in-memory index."""
        self.ensure_embedder(conn)
        memory_id = store.insert_memory(conn, values)
        live = values.get("forgotten_at") is None
        code = self.vectors.put(conn, memory_id, vector, active=live)
        memory = store.get_memory(conn, memory_id)
        assert memory is not None
        store.fts_put(conn, memory_id, memory.source.speaker, memory.text, _link_context(conn, memory))
        store.df_add(conn, memory.text, +1)
        return memory, code if live else None

    def log_turn(self, conversation: str, text: str, speaker: str | None, turn: str | None, at: float | None,
                 pinned: bool, memorable: bool, continues: bool = True) -> TurnResult:
        """Log one conversation turn (see :meth:`cairn.core.memory.bank.MemoryBank.log_turn`)."""
        limit = self.settings.memory.max_text_bytes
        text = check_text(text, limit, "Turn text")
        conversation = check_text(conversation, limit, "Conversation name")
        at = self.clock.now() if at is None else float(at)
        keep = pinned or (memorable and (self.settings.retention.store_trivial or worth_storing(text)))
        source = Source("conversation", conversation, (turn,) if turn else (), at, speaker)
        values = new_values(text, "conversation", source, pinned, self.clock.now())
        keep = keep or (memorable and continues and self._joins_burst(values))
        vector, grown = self._arrival(values, continues) if keep else (None, None)
        background = self.retention.prescore(text) if keep else None
        with self.db.atomic() as conn:
            log_id = store_retention.log_turn(conn, conversation, turn, speaker, text, at)
            if vector is None or background is None:
                why = "no content of its own" if memorable else "not a statement to remember"
                return TurnResult(log_id, None, f"{why}: kept in the conversation log only")
            before = store_retention.last_turn(conn, conversation, log_id)
            previous = before.text if before is not None and before.speaker != speaker else None
            memory, codes = self.store(conn, values, vector, None, previous, background,
                                       continues and previous is None, grown)
            store_retention.link_turn(conn, log_id, memory.id)
        self._index(codes)
        reason = f"merged into memory {memory.replaced_by}" if memory.replaced_by else "stored"
        return TurnResult(log_id, memory, reason)

    def log_turns(self, conversation: str, messages: Sequence[ChatMessage], new: bool) -> TurnsLogged:
        """Log a batch of messages in order, each as :meth:`log_turn` with bursts on. All are checked
        before the first is written; ``new``: refuse a conversation the log already has."""
        limit = self.settings.memory.max_text_bytes
        conversation = check_text(conversation, limit, "Conversation name")
        for m in messages:
            check_text(m.text, limit, f"Message {m.turn}")
            check_text(m.speaker, 256, f"The speaker of message {m.turn}", "a speaker name's limit")
        if new:
            with self.db.guard():
                exists = bool(store_retention.logged(self.db.conn, [conversation]))
            if exists:
                raise InvalidInput(f"A conversation named {conversation!r} is already in the log; nothing was added.",
                                   hint="Import it under another name, or purge the old one first.")
        results = [self.log_turn(conversation, m.text, m.speaker, m.turn, m.at, False, True) for m in messages]
        joined = sum(1 for r in results if r.memory is not None and r.memory.replaced_by)
        stored = sum(1 for r in results if r.memory is not None) - joined
        return TurnsLogged(conversation, len(results), stored, joined, len(results) - stored - joined)

    def _arrival(self, values: dict[str, Any], continues: bool) -> tuple[np.ndarray, Grown | None]:
        """A new text's vector and, when it will continue a burst, the grown memory's, both before the
        write transaction, so the database is not held while the embedder runs. Two calls, not one
        batch: a batch pads the short message to the burst's length."""
        text, speaker = values["text"], values["source_speaker"]
        found = None
        if continues:
            with self.db.guard():
                found = bursts.continued(self.db.conn, values, self.settings.retention)
        own = self.embed([key_text(text, speaker)])[0]
        if found is None:
            return own, None
        target = found[0]
        grown = f"{target.text}{bursts.JOIN}{text}"
        return own, Grown(target.id, grown, self.embed([key_text(grown, target.source.speaker)])[0])

    def _joins_burst(self, values: dict[str, Any]) -> bool:
        """Whether a message too slight to keep alone ("at Google", "haha"; its column values)
        continues its speaker's burst, which it then joins: said right after, by the same speaker,
        nobody in between."""
        source = source_of(values)
        with self.db.guard():
            before = store_retention.last_turn(self.db.conn, str(source.ref), 2**62)
            return (before is not None and before.speaker == source.speaker
                    and bursts.continued(self.db.conn, values, self.settings.retention) is not None)


def _link_context(conn: Any, memory: Memory) -> str:
    """Neighbouring-turn context: the previous memory of the same source goes into this one's
    context, and this one into the previous one's."""
    if not memory.source.ref or memory.forgotten:
        return ""
    prev = store.previous_in_source(conn, memory.source.ref, memory.id, live=True)
    if prev is None:
        return ""
    line = key_text(memory.text, memory.source.speaker)
    before = store.fts_context(conn, prev.id)
    store.fts_put(conn, prev.id, prev.source.speaker, prev.text, f"{before}\n{line}".strip())
    return key_text(prev.text, prev.source.speaker)
