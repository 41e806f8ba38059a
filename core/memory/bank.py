"""MemoryBank: the facade over the memory database.

remember / recall / get / update / forget / restore / purge / history / reindex. Every write of a
memory touches its row, its vector, its full-text entry and the history in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cairn.core.clock import Clock, SystemClock
from cairn.core.config import Settings
from cairn.core.errors import InvalidInput, NotFound
from cairn.core.memory.chatlog import ChatMessage
from cairn.core.memory.gate.probe import BankProbe
from cairn.core.memory.intake import Intake, TurnResult, TurnsLogged
from cairn.core.memory.retention import consolidate
from cairn.core.memory.retention.keeper import Retention, SweepReport
from cairn.core.memory.retrieval import retrieve
from cairn.core.memory.retrieval.embed import Embedder, QueryCache, make_embedder
from cairn.core.memory.retrieval.ranker import Ranker, ranker_for
from cairn.core.memory.retrieval.vectors import Vectors
from cairn.core.memory.storage import erase, store, store_retention
from cairn.core.memory.storage.clients import Clients, check_name
from cairn.core.memory.storage.columns import check_kind, check_source, source_columns, unique
from cairn.core.memory.storage.db import Database, connect, schema_version
from cairn.core.memory.storage.records import (
    EDITABLE,
    HistoryEntry,
    Memory,
    MemoryId,
    Recalled,
    RecallFilters,
    Source,
    snapshot,
)
from cairn.core.memory.storage.textcheck import check_text

__all__ = ["MemoryBank", "SweepReport", "TurnResult"]
MAX_ID = 2**63 - 1  # SQLite's largest integer: a larger id cannot name a memory
MAX_K = 10_000  # most memories one recall returns


class MemoryBank:
    """One user's memories. Owns its database connection: call :meth:`close` (or use ``with``)."""

    def __init__(self, db: Database, embedder: Embedder, settings: Settings, clock: Clock,
                 in_memory_index: bool = False) -> None:
        self.db = db
        self.embedder = embedder
        self.queries = QueryCache(embedder)  # one embedding per question, shared by the gate and recall
        self.settings = settings
        self.clock = clock
        self.vectors = Vectors(embedder.dim, in_memory_index)
        self.retention = Retention(db, settings, clock, self.vectors)
        self.intake = Intake(db, embedder, settings, clock, self.vectors, self.retention)
        self.clients = Clients(db, clock, settings.mcp.default_scope)
        self.ranker = ranker_for(settings.recall, embedder.id)

    def use_ranker(self, ranker: Ranker | None) -> None:
        """Rank recall's candidates with ``ranker`` (None: the fixed shares)."""
        self.ranker = ranker

    @classmethod
    def open(cls, path: Path, settings: Settings | None = None, embedder: Embedder | None = None,
             clock: Clock | None = None, models_dir: Path | None = None,
             in_memory_index: bool = False) -> MemoryBank:
        """Open the bank at ``path``. Without an ``embedder``, the settings choose one (from
        ``models_dir`` when given, else the built-in hashing embedder). ``in_memory_index`` keeps
        the vector codes in RAM: faster searches for long-lived processes, a load on first use."""
        settings = settings or Settings()
        embedder = embedder or make_embedder(settings, models_dir)
        db = connect(path, settings.storage.busy_timeout_ms)
        bank = cls(db, embedder, settings, clock or SystemClock(), in_memory_index)
        try:
            erase.finish_scrub(bank.db)
        except BaseException:
            bank.close()
            raise
        return bank

    def close(self) -> None:
        self.vectors.close()
        self.db.close()

    def __enter__(self) -> MemoryBank:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writes -----------------------------------------------------------------------------

    def stored_embedder(self) -> tuple[str, int] | None:
        """(id, dim) of the embedder this bank's vectors came from, or None for a new bank."""
        with self.db.guard():
            return self.intake.stored_embedder(self.db.conn)

    def embed_keys(self, keys: list[str]) -> np.ndarray:
        """Vectors of embedding keys (:func:`cairn.core.memory.retrieval.vectors.key_text`), checked."""
        return self.intake.embed(keys)

    def remember(self, text: str, *, kind: str = "note", source: Source | None = None,
                 pinned: bool = False, importance: float | None = None, client: str | None = None,
                 continues: bool = False) -> Memory:
        """Store a new memory and return it. Its importance is scored from its information
        content unless given; a near-duplicate of a recent memory is merged into it (the returned
        memory then has ``replaced_by`` set). ``client``: the program that wrote it (None: the user).
        ``continues``: a message of a conversation log, which joins the memory of the same speaker's
        message just before when it follows it closely (:mod:`~cairn.core.memory.retention.bursts`)."""
        text = self._check(text)
        if importance is not None and not 0.0 <= importance <= 1.0:
            raise InvalidInput(f"Importance must be between 0 and 1, got {importance}.")
        who = check_name(client) if client is not None else None
        return self.intake.remember(text, check_kind(kind), check_source(source or Source()), pinned, importance, who,
                                    continues)

    def insert_row(self, conn: Any, values: dict[str, Any], vector: np.ndarray) -> tuple[Memory, np.ndarray | None]:
        """Row + vector + full text of one memory (inside the caller's transaction), unscored.

        Returns the memory and, if it is live, its code for the in-memory index."""
        return self.intake.insert_row(conn, values, vector)

    def log_turn(self, conversation: str, text: str, *, speaker: str | None = None, turn: str | None = None,
                 at: float | None = None, pinned: bool = False, memorable: bool = True,
                 continues: bool = True) -> TurnResult:
        """Log one conversation turn; keep it as a memory too when it carries information
        (``memorable=False``: log only, e.g. a question to the assistant). A turn right after the
        same speaker's previous one continues its memory (a burst of messages) unless
        ``continues=False`` (e.g. when someone who is not logged replied in between)."""
        return self.intake.log_turn(conversation, text, speaker, turn, at, pinned, memorable, continues)

    def log_turns(self, conversation: str, messages: Sequence[ChatMessage], new: bool = False) -> TurnsLogged:
        """Log a batch of messages (a chat history read in with :mod:`chatlog`) as :meth:`log_turn`
        would, bursts included; all checked before any is written. ``new``: refuse a name in use."""
        return self.intake.log_turns(conversation, messages, new)

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
            out.append(self.remember(fact.text, kind="fact", source=source))
        return out

    def update(self, memory_id: MemoryId, *, text: str | None = None, kind: str | None = None,
               pinned: bool | None = None, source: Source | None = None,
               importance: float | None = None, reason: str | None = None) -> Memory:
        """Change a memory's editable fields; records old and new values in its history.

        An update that changes nothing writes nothing and returns the memory as it was."""
        changes: dict[str, Any] = {}
        if text is not None:
            changes["text"] = self._check(text)
        if kind is not None:
            changes["kind"] = check_kind(kind)
        if pinned is not None:
            changes["pinned"] = int(pinned)
        if importance is not None:
            changes["importance"] = float(importance)
        if source is not None:
            changes.update(source_columns(check_source(source)))
        try:
            return self._apply_update(memory_id, changes, reason)
        except _Unchanged as same:
            return same.memory

    def _apply_update(self, memory_id: MemoryId, changes: dict[str, Any], reason: str | None) -> Memory:
        with self.db.atomic() as conn:
            old = self._get(conn, memory_id)
            store.update_memory(conn, memory_id, {**changes, "updated_at": self.clock.now()})
            new = self._get(conn, memory_id)
            before, after = snapshot(old), snapshot(new)
            changed = tuple(f for f in EDITABLE if before[f] != after[f])
            if not changed:
                raise _Unchanged(old)
            code = self.intake.retext(conn, old, new)
            store.add_history(conn, new.uid, "update", new.updated_at, snapshot(old, changed),
                              snapshot(new, changed), reason)
        if code is not None and not new.forgotten:
            self.vectors.after_commit_remove(memory_id)
            self.vectors.after_commit_add(memory_id, code)
        return new

    def pin(self, memory_id: MemoryId, pinned: bool = True) -> Memory:
        return self.pin_many([memory_id], pinned)[0]

    def pin_many(self, ids: Iterable[MemoryId], pinned: bool = True) -> list[Memory]:
        """Pin (or unpin) several memories: all of them, or, if any id is unknown, none."""
        wanted = unique(ids)
        with self.db.atomic() as conn:
            self._get_all(conn, wanted)
            return [self.update(i, pinned=pinned) for i in wanted]

    def forget(self, memory_id: MemoryId, reason: str | None = None) -> Memory:
        """Tombstone a memory: hidden from recall, restorable. Forgetting twice changes nothing."""
        return self.forget_many([memory_id], reason)[0]

    def forget_many(self, ids: Iterable[MemoryId], reason: str | None = None) -> list[Memory]:
        """Forget several memories in one transaction: all of them, or none if any id is unknown."""
        with self.db.atomic() as conn:
            done = [self._forget(conn, m, reason) for m in self._get_all(conn, unique(ids))]
        for memory in done:
            self.vectors.after_commit_remove(memory.id)
        return done

    def _forget(self, conn: Any, memory: Memory, reason: str | None) -> Memory:
        if memory.forgotten:
            return memory
        now = self.clock.now()
        store.update_memory(conn, memory.id, {"forgotten_at": now, "forgotten_by": "user"})
        if store.vec_table_exists(conn):
            store.vec_set_active(conn, memory.id, False)
        store.add_history(conn, memory.uid, "forget", now, {"forgotten_at": None}, {"forgotten_at": now}, reason)
        return self._get(conn, memory.id)

    def restore(self, memory_id: MemoryId, reason: str | None = None) -> Memory:
        """Undo :meth:`forget`, an archive or a merge. Restoring a live memory changes nothing.

        Restoring an archived memory counts as a recall (it was wanted), so the next sweep does
        not archive it again straight away."""
        return self.restore_many([memory_id], reason)[0]

    def restore_many(self, ids: Iterable[MemoryId], reason: str | None = None) -> list[Memory]:
        """Restore several memories in one transaction: all of them, or none if any id is unknown."""
        with self.db.atomic() as conn:
            done = [self._restore(conn, m, reason) for m in self._get_all(conn, unique(ids))]
        self.vectors.invalidate()  # their codes are reloaded with the others on the next search
        return done

    def _restore(self, conn: Any, memory: Memory, reason: str | None) -> Memory:
        if not memory.forgotten:
            return memory
        now = self.clock.now()
        changes: dict[str, Any] = {"forgotten_at": None, "forgotten_by": None, "replaced_by": None}
        if memory.archived:
            changes["last_recalled_at"] = now
            changes["strength"] = self.retention.restored_strength(memory, now)
        store.update_memory(conn, memory.id, changes)
        if store.vec_table_exists(conn):
            store.vec_set_active(conn, memory.id, True)
        store.add_history(conn, memory.uid, "restore", now, {"forgotten_at": memory.forgotten_at},
                          {"forgotten_at": None}, reason)
        return self._get(conn, memory.id)

    def purge(self, memory_id: MemoryId, reason: str | None = None) -> str:
        """Erase a memory for good; returns its uid. See :meth:`purge_many`."""
        return self.purge_many([memory_id], reason)[0]

    def purge_many(self, ids: Iterable[MemoryId], reason: str | None = None) -> list[str]:
        """Erase memories for good, all or none: row, vector, full text (and their text in the
        neighbouring turns' full-text context), their text in the history, the logged turns they
        came from, near-duplicate copies merged into them and facts extracted from their turns.
        Then the freed pages are overwritten and the write-ahead log is emptied, so no copy of the
        text is left in any database file. Returns the uids of the memories asked for.

        Refuses (:class:`cairn.core.errors.DatabaseBusy`, nothing changed) while another connection
        holds a read that would keep old pages alive, after waiting up to the busy timeout."""
        wanted = unique(ids)
        erase.require_no_readers(self.db, "purge")
        with self.db.atomic() as conn:
            asked = self._get_all(conn, wanted)
            gone = erase.erase_all(conn, store.purge_closure(conn, asked), reason, self.clock.now())
        for memory in gone:
            self.vectors.after_commit_remove(memory.id)
        erase.scrub(self.db, "purge")
        return [m.uid for m in asked]





    def purge_conversation(self, names: list[str], with_memories: bool = False,
                           reason: str | None = None) -> dict[str, Any]:
        """Erase conversations from the log, all or none (and, ``with_memories``, the memories their
        turns became, as :meth:`purge_many` does), leaving no copy of their text in the files."""
        erase.require_no_readers(self.db, "purge")
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
                gone = erase.erase_all(conn, store.purge_closure(conn, list(found.values())), reason, self.clock.now())
        for memory in gone:
            self.vectors.after_commit_remove(memory.id)
        erase.scrub(self.db, "purge")
        return {"conversations": names, "memories_purged": [m.id for m in gone]}

    def reindex(self, progress: Callable[[int, int], None] | None = None, batch: int = 256) -> int:
        """Re-embed every memory with the configured embedder; returns how many."""
        return self.intake.reindex(progress, batch)

    # ---- reads ------------------------------------------------------------------------------

    def recall(self, query: str, k: int | None = None, filters: RecallFilters | None = None,
               touch: bool = True, use: retrieve.Retrievers = retrieve.Retrievers(),
               whole_pool: bool = False) -> list[Recalled]:
        """The memories most relevant to ``query``; recalling a memory reinforces it. ``whole_pool``
        returns every candidate the search for ``k`` weighed, ranked (benchmarks fit on them)."""
        query = check_text(query, self.settings.recall.max_query_bytes, "Query", "recall.max_query_bytes")
        k = self.settings.recall.default_k if k is None else k
        if not 1 <= k <= MAX_K:
            raise InvalidInput(f"k must be from 1 to {MAX_K:,}, got {k}.")
        with self.db.guard():
            self.intake.ensure_embedder(self.db.conn, create=False)
            hits = retrieve.search(self.db.conn, self.queries, self.vectors, query, k,
                                   filters or RecallFilters(), self.settings.recall, use, self.ranker, whole_pool)
        hits = self.retention.weigh(hits)
        if touch and hits:
            self.retention.reinforce(hits)
        return hits

    def get(self, memory_id: MemoryId) -> Memory:
        with self.db.guard():
            return self._get(self.db.conn, memory_id)

    def get_many(self, ids: Iterable[MemoryId]) -> list[Memory]:
        """The memories with ``ids`` (each once, in order); NotFound naming every unknown id."""
        with self.db.guard():
            return self._get_all(self.db.conn, unique(ids))

    def history(self, memory_id: MemoryId) -> list[HistoryEntry]:
        with self.db.guard():
            memory = self._get(self.db.conn, memory_id)
            return store.history(self.db.conn, memory.uid)

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

    def taken_conversations(self, names: list[str]) -> list[str]:
        """Which of ``names`` the conversation log already has (an import must not add to them)."""
        with self.db.guard():
            return store_retention.logged(self.db.conn, names)

    def rename_conversation(self, old: str, new: str) -> dict[str, Any]:
        """Give a conversation another name: its logged turns and the memories it is the source of
        (each records the change in its history). The new name must not be taken."""
        new = self._check(new, "Conversation name")
        with self.db.atomic() as conn:
            known = {c.name for c in store_retention.conversations(conn)}
            if old not in known:
                raise NotFound(f"No conversation called {old!r} in the log.", hint="`cairn conversations list` shows them.")
            if new in known and new != old:
                raise InvalidInput(f"There is already a conversation called {new!r}; nothing was changed.")
            moved = store_retention.rename_conversation(conn, old, new)
            now = self.clock.now()
            for _id, uid in moved:
                store.add_history(conn, uid, "update", now, {"source": {"ref": old}}, {"source": {"ref": new}},
                                  "conversation renamed")
        return {"old": old, "new": new, "memories": [i for i, _ in moved]}

    # ---- retention (``self.retention`` holds the rest) --------------------------------------

    def sweep(self, now: float | None = None, budget: int | None = None, dry_run: bool = False) -> SweepReport:
        """Archive what faded, then enforce the storage budget: see :meth:`Retention.sweep`."""
        return self.retention.sweep(now, budget, dry_run)

    def explain(self, memory_id: MemoryId, now: float | None = None, days: int = 90) -> dict[str, Any]:
        """Why a memory is kept: importance and its parts, strength, retention now and ahead."""
        with self.db.guard():
            memory = self._get(self.db.conn, memory_id)
            history = store.history(self.db.conn, memory.uid)
            recalls = store_retention.recalls(self.db.conn, memory.id)
        return {**self.retention.explain(memory, history, now, days), "recall_log": recalls}

    def stats(self) -> dict[str, Any]:
        with self.db.guard():
            counts = store.count_memories(self.db.conn)
            vectors = store.vec_count(self.db.conn)
        stored = self.stored_embedder()
        return {"memories": counts, "vectors": vectors, "schema_version": schema_version(self.db),
                "embedder": {"stored": list(stored) if stored else None,
                             "configured": [self.embedder.id, self.embedder.dim]},
                "database": str(self.db.path)}

    def probe(self) -> BankProbe:
        """Cheap lookups for the retrieval gate (speakers cached for the probe's lifetime)."""
        return BankProbe(self)

    # ---- helpers ----------------------------------------------------------------------------

    def _get(self, conn: Any, memory_id: MemoryId) -> Memory:
        return self._get_all(conn, [memory_id])[0]

    def _get_all(self, conn: Any, ids: list[MemoryId]) -> list[Memory]:
        """The memories with ``ids``, in that order; NotFound naming every unknown id."""
        found = store.get_many(conn, [i for i in ids if 0 < i <= MAX_ID])
        missing = [i for i in ids if i not in found]
        if missing:
            named = ", ".join(str(i) for i in missing[:10]) + (" ..." if len(missing) > 10 else "")
            what = f"No memory with id {named}" if len(missing) == 1 else f"No memories with ids {named}"
            tail = "." if len(ids) == 1 else "; nothing was changed."
            raise NotFound(what + tail, hint="`cairn memories list --all` shows every id.")
        return [found[i] for i in ids]

    def _check(self, text: str, what: str = "Memory text") -> str:
        return check_text(text, self.settings.memory.max_text_bytes, what)

    # Last in the class: a method named ``list`` would shadow the builtin in the annotations of
    # every method after it (for type checkers).
    def list(self, state: str = "live", limit: int | None = None, offset: int = 0,
             kind: str | None = None) -> list[Memory]:
        if state not in ("live", "forgotten", "archived", "all"):
            raise InvalidInput(f"Unknown state {state!r}: use live, forgotten, archived or all.")
        with self.db.guard():
            return store.list_memories(self.db.conn, state, limit, offset, kind)



class _Unchanged(Exception):
    """Raised inside a transaction when an update changes nothing (rolls it back)."""

    def __init__(self, memory: Memory) -> None:
        super().__init__("unchanged")
        self.memory = memory


