from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from cairn.core.clock import ManualClock
from cairn.core.config import Settings, from_mapping
from cairn.core.errors import EmbedderMismatch, InvalidInput, ModelLoadError, NotFound, StorageError
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.retrieval.embed import HashingEmbedder
from cairn.core.memory.storage.records import RecallFilters, Source


def table_counts(bank: MemoryBank) -> dict[str, int]:
    c = bank.db.conn
    counts = {t: c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
              for t in ("memories", "memory_vec", "memory_fts", "history")}
    assert c.execute("SELECT COUNT(*) FROM memory_vectors").fetchone()[0] == counts["memory_vec"]
    return counts


def test_remember_writes_row_vector_text_and_history(bank: MemoryBank) -> None:
    m = bank.remember("  My sister Ana lives in Lisbon.  ", kind="fact",
                      source=Source("conversation", "chat-1", ("D1:3",), 1_600_000_000.0), pinned=True)
    assert m.text == "My sister Ana lives in Lisbon."
    assert (m.kind, m.pinned, m.source.ref, m.source.turns) == ("fact", True, "chat-1", ("D1:3",))
    assert m.created_at == bank.clock.now()
    assert table_counts(bank) == {"memories": 1, "memory_vec": 1, "memory_fts": 1, "history": 1}
    assert bank.get(m.id) == m
    [h] = bank.history(m.id)
    assert h.action == "add" and h.new["text"] == m.text and h.old is None


def test_recall_finds_by_meaning_and_words_and_reinforces(bank: MemoryBank, clock: ManualClock) -> None:
    bank.remember("I am allergic to penicillin.")
    target = bank.remember("My brother Tomas lives in Porto.")
    bank.remember("The car needs a service in June.")
    clock.advance(60)
    hits = bank.recall("where does my brother live", k=2)
    assert hits[0].memory.id == target.id
    assert {"vector_rank", "keyword_rank"} <= set(hits[0].signals)
    again = bank.get(target.id)
    assert again.recall_count == 1 and again.last_recalled_at == clock.now()
    assert bank.recall("porto", k=1, touch=False)[0].memory.id == target.id
    assert bank.get(target.id).recall_count == 1


def test_recall_filters(bank: MemoryBank) -> None:
    bank.remember("coffee with oat milk", kind="preference", source=Source(time=1_000.0))
    bank.remember("coffee beans from the market", kind="note", source=Source(time=5_000.0))
    assert [h.memory.kind for h in bank.recall("coffee", filters=RecallFilters(kinds=("preference",)))] == ["preference"]
    assert [h.memory.text for h in bank.recall("coffee", filters=RecallFilters(since=2_000.0))] == \
        ["coffee beans from the market"]


def test_forget_hides_and_restore_returns(bank: MemoryBank) -> None:
    m = bank.remember("The wifi password is on the blue notebook.")
    bank.remember("Something else entirely.")
    bank.forget(m.id, reason="stale")
    assert bank.get(m.id).forgotten
    assert all(h.memory.id != m.id for h in bank.recall("wifi password blue notebook", k=5))
    assert [x.id for x in bank.list("forgotten")] == [m.id]
    assert bank.forget(m.id).forgotten_at == bank.get(m.id).forgotten_at  # idempotent
    bank.restore(m.id)
    assert bank.recall("wifi password", k=1)[0].memory.id == m.id
    assert [h.action for h in bank.history(m.id)] == ["add", "forget", "restore"]
    assert bank.history(m.id)[1].reason == "stale"


def test_update_reembeds_and_records_old_and_new(bank: MemoryBank) -> None:
    m = bank.remember("Dentist on March 3rd.")
    bank.update(m.id, text="Dentist moved to March 5th.", reason="rescheduled")
    assert bank.recall("moved", k=1)[0].memory.id == m.id
    h = bank.history(m.id)[-1]
    assert (h.action, h.old, h.new, h.reason) == ("update", {"text": "Dentist on March 3rd."},
                                                  {"text": "Dentist moved to March 5th."}, "rescheduled")
    before = table_counts(bank)
    assert bank.update(m.id, text="Dentist moved to March 5th.") == bank.get(m.id)
    assert table_counts(bank) == before  # a no-op update writes nothing
    bank.pin(m.id)
    assert bank.get(m.id).pinned and bank.history(m.id)[-1].new == {"pinned": True}


def test_purge_erases_everything_including_file_bytes(bank: MemoryBank, isolated_home: Path) -> None:
    secret = "Zanzibarquux secret diagnosis"
    m = bank.remember(secret)
    bank.update(m.id, text=secret + " updated")
    bank.remember("an innocent memory")
    bank.purge(m.id, reason="asked to")
    with pytest.raises(NotFound):
        bank.get(m.id)
    assert table_counts(bank) == {"memories": 1, "memory_vec": 1, "memory_fts": 1, "history": 4}
    rows = bank.db.conn.execute("SELECT old_value, new_value FROM history WHERE memory_uid = ?", (m.uid,)).fetchall()
    assert rows and all("Zanzibar" not in str(r) for r in rows)
    for f in isolated_home.glob("memory.db*"):
        assert b"Zanzibarquux" not in f.read_bytes(), f


def test_purge_erases_merged_copies_and_logged_turns(bank: MemoryBank, isolated_home: Path) -> None:
    secret = "Quokkaberry clinic results arrive on Tuesday"
    first = bank.log_turn("chat", secret, speaker="me")
    copy = bank.log_turn("chat", secret, speaker="me")
    assert copy.memory is not None and copy.memory.replaced_by == first.memory.id  # type: ignore[union-attr]
    bank.log_turn("chat", "ok", speaker="you")
    bank.purge(first.memory.id)  # type: ignore[union-attr]
    assert bank.list("all") == []
    rows = bank.db.conn.execute("SELECT text FROM conversation_log").fetchall()
    assert rows == [("ok",)]
    for f in isolated_home.glob("memory.db*"):
        assert b"Quokkaberry" not in f.read_bytes(), f


@pytest.mark.parametrize("text", ["", "   \n\t ", "x" * (32 * 1024 + 1), "bad \udcff surrogate", "nul\x00byte"])
def test_bad_text_is_refused_and_nothing_changes(bank: MemoryBank, text: str) -> None:
    bank.remember("existing")
    before = table_counts(bank)
    with pytest.raises(InvalidInput) as info:
        bank.remember(text)
    assert info.value.message
    assert table_counts(bank) == before


def test_size_limit_is_configurable_and_named(isolated_home: Path) -> None:
    settings = from_mapping({"memory": {"max_text_bytes": 100}})
    with MemoryBank.open(isolated_home / "m.db", settings) as bank:
        bank.remember("y" * 100)
        with pytest.raises(InvalidInput, match="101 bytes; the limit is 100 bytes"):
            bank.remember("y" * 101)


def test_unknown_id(bank: MemoryBank) -> None:
    for action in (bank.get, bank.forget, bank.restore, bank.purge, bank.history):
        with pytest.raises(NotFound, match="No memory with id 42"):
            action(42)


def test_embedder_mismatch_is_refused_until_reindex(isolated_home: Path) -> None:
    path = isolated_home / "m.db"
    with MemoryBank.open(path, embedder=HashingEmbedder(384)) as bank:
        kept = bank.remember("first memory")
        bank.remember("second memory")
        bank.forget(kept.id)
    with MemoryBank.open(path, embedder=HashingEmbedder(128)) as bank:
        with pytest.raises(EmbedderMismatch, match="dimension 384.*dimension 128"):
            bank.remember("third")
        with pytest.raises(EmbedderMismatch):
            bank.recall("memory")
        assert len(bank.list()) == 1  # reading still works, nothing changed
        assert bank.reindex() == 2
        assert bank.stored_embedder() == ("hashing-v1", 128)
        assert [h.memory.text for h in bank.recall("memory", k=5)] == ["second memory"]
        bank.restore(kept.id)
        assert len(bank.recall("memory", k=5)) == 2


class BrokenEmbedder(HashingEmbedder):
    """Claims one dimension, returns vectors of another: the vector write fails mid-transaction."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return super().embed(texts)[:, :-1]


def test_wrong_vector_shape_is_refused(isolated_home: Path) -> None:
    with MemoryBank.open(isolated_home / "m.db", embedder=BrokenEmbedder(384)) as bank:
        with pytest.raises(ModelLoadError, match="shape"):
            bank.remember("this must not half-exist")
        assert bank.db.conn.execute("SELECT COUNT(*) FROM memories").fetchone()[0] == 0


def test_failed_vector_write_leaves_no_row(bank: MemoryBank) -> None:
    bank.remember("good one")
    bank.db.conn.execute("CREATE TEMP TRIGGER fail BEFORE INSERT ON memory_vectors "
                         "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END")
    with pytest.raises(StorageError, match="disk on fire"):
        bank.remember("this must not half-exist")
    assert table_counts(bank) == {"memories": 1, "memory_vec": 1, "memory_fts": 1, "history": 1}


def test_recall_on_empty_bank(bank: MemoryBank) -> None:
    assert bank.recall("anything at all") == []
    with pytest.raises(InvalidInput, match="Query is empty"):
        bank.recall("  ")


def test_stats(bank: MemoryBank) -> None:
    bank.remember("one")
    s = bank.stats()
    assert s["memories"] == {"live": 1, "forgotten": 0} and s["vectors"] == 1
    assert s["embedder"]["stored"] == ["hashing-v1", 384]
    assert isinstance(Settings().recall.default_k, int)
