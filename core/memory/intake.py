"""Intake: how a text becomes a memory. Embedded and checked against the bank's embedder,
scored by retention, written (row, vector, full text, history) in one transaction, then
consolidated with its recent neighbours; conversation turns are logged on the way.

An object the bank owns (``bank.intake``); it calls the store and retention, never the bank.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cairn.core.clock import Clock
from cairn.core.config import Settings
from cairn.core.errors import EmbedderMismatch, ModelLoadError
from cairn.core.memory.retention.importance import Background, worth_storing
from cairn.core.memory.retention.keeper import Retention
from cairn.core.memory.retrieval.embed import Embedder
from cairn.core.memory.retrieval.vectors import Vectors, key_text
from cairn.core.memory.storage import store, store_retention
from cairn.core.memory.storage.columns import new_values, source_of
from cairn.core.memory.storage.db import Database
from cairn.core.memory.storage.records import Memory, Source, snapshot
from cairn.core.memory.storage.textcheck import check_text


@dataclass(frozen=True)
class TurnResult:
    """What became of one logged conversation turn."""

    log_id: int
    memory: Memory | None  # None: not worth a memory (it stays in the log)
    reason: str


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
                 client: str | None = None) -> Memory:
        """Store one checked memory (see :meth:`cairn.core.memory.bank.MemoryBank.remember`)."""
        vector = self.embed([key_text(text, source.speaker)])[0]
        values = {**new_values(text, kind, source, pinned, self.clock.now()), "client": client}
        background = self.retention.prescore(text)
        with self.db.atomic() as conn:
            memory, code = self.store(conn, values, vector, importance, None, background)
        self.vectors.after_commit_add(memory.id, code)
        return memory

    def store(self, conn: Any, values: dict[str, Any], vector: np.ndarray, importance: float | None,
              previous_text: str | None, background: Background) -> tuple[Memory, np.ndarray | None]:
        """Insert a memory scored on arrival, then consolidate it with its recent neighbours.

        Returns it and, if it stayed live, its code for the in-memory index."""
        self.ensure_embedder(conn)  # before comparing vectors
        assessed = self.retention.assess(conn, values["text"], source_of(values), vector, previous_text, background)
        memory, code = self.insert_row(conn, self.retention.scored(values, assessed, importance), vector)
        store.add_history(conn, memory.uid, "add", memory.created_at, None, snapshot(memory))
        memory = self.retention.consolidate(conn, memory, assessed.near)
        return memory, None if memory.replaced_by else code

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
                 pinned: bool, memorable: bool) -> TurnResult:
        """Log one conversation turn (see :meth:`cairn.core.memory.bank.MemoryBank.log_turn`)."""
        limit = self.settings.memory.max_text_bytes
        text = check_text(text, limit, "Turn text")
        conversation = check_text(conversation, limit, "Conversation name")
        at = self.clock.now() if at is None else float(at)
        keep = pinned or (memorable and (self.settings.retention.store_trivial or worth_storing(text)))
        source = Source("conversation", conversation, (turn,) if turn else (), at, speaker)
        vector = self.embed([key_text(text, speaker)])[0] if keep else None
        background = self.retention.prescore(text) if keep else None
        with self.db.atomic() as conn:
            log_id = store_retention.log_turn(conn, conversation, turn, speaker, text, at)
            if vector is None or background is None:
                why = "no content of its own" if memorable else "not a statement to remember"
                return TurnResult(log_id, None, f"{why}: kept in the conversation log only")
            before = store_retention.last_turn(conn, conversation, log_id)
            previous = before.text if before is not None and before.speaker != speaker else None
            values = new_values(text, "conversation", source, pinned, self.clock.now())
            memory, code = self.store(conn, values, vector, None, previous, background)
            store_retention.link_turn(conn, log_id, memory.id)
        self.vectors.after_commit_add(memory.id, code)
        reason = f"merged into memory {memory.replaced_by}" if memory.replaced_by else "stored"
        return TurnResult(log_id, memory, reason)


def _link_context(conn: Any, memory: Memory) -> str:
    """Neighbouring-turn context: the previous memory of the same source goes into this one's
    context, and this one into the previous one's."""
    if not memory.source.ref:
        return ""
    prev = store.previous_in_source(conn, memory.source.ref, memory.id)
    if prev is None:
        return ""
    line = key_text(memory.text, memory.source.speaker)
    before = store.fts_context(conn, prev.id)
    store.fts_put(conn, prev.id, prev.source.speaker, prev.text, f"{before}\n{line}".strip())
    return key_text(prev.text, prev.source.speaker)
