"""Purge leaves no copy of the text anywhere; multi-id writes are all or nothing; a reader holding
an old snapshot makes purge wait and refuse rather than report a purge that left copies behind."""

from pathlib import Path

import pytest

from cairn.core.clock import ManualClock
from cairn.core.config import Settings, from_mapping
from cairn.core.errors import DatabaseBusy, NotFound
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.storage import db as dbmod
from cairn.core.memory.storage.records import Source

SECRET = b"Xylophorix"


def leftovers(home: Path, needle: bytes = SECRET) -> list[str]:
    """Database files (main, WAL, SHM) that still hold ``needle``."""
    return [f.name for f in home.glob("memory.db*") if needle in f.read_bytes()]


def turn(bank: MemoryBank, ref: str, text: str, n: int, speaker: str = "Ana"):  # type: ignore[no-untyped-def]
    return bank.remember(text, kind="conversation", source=Source("conversation", ref, (f"D1:{n}",), 1e9 + n, speaker))


def test_purge_rebuilds_the_neighbours_full_text_context(bank: MemoryBank, isolated_home: Path) -> None:
    turn(bank, "chat-1", "We should plan the garden this spring", 1)
    secret = turn(bank, "chat-1", "My Xylophorix diagnosis came back positive", 2)
    turn(bank, "chat-1", "Let us meet at the bakery on Friday", 3)
    assert any(h.memory.id != secret.id for h in bank.recall("Xylophorix", k=5, touch=False))  # via a context
    bank.purge(secret.id)
    assert bank.recall("Xylophorix diagnosis", k=5, touch=False) == [] or all(
        "Xylophorix" not in h.memory.text for h in bank.recall("Xylophorix diagnosis", k=5, touch=False))
    match = bank.db.conn.execute("SELECT rowid FROM memory_fts WHERE memory_fts MATCH 'Xylophorix'").fetchall()
    assert match == []
    assert leftovers(isolated_home) == []
    contexts = [r[0] for r in bank.db.conn.execute("SELECT context FROM memory_fts ORDER BY rowid")]
    assert contexts == ["Ana: Let us meet at the bakery on Friday", "Ana: We should plan the garden this spring"]


def test_editing_a_memory_rewrites_its_neighbours_context(bank: MemoryBank, isolated_home: Path) -> None:
    turn(bank, "chat-1", "We should plan the garden this spring", 1)
    secret = turn(bank, "chat-1", "The Xylophorix account password is hunter2", 2)
    bank.update(secret.id, text="The bank account password is in the safe")
    match = bank.db.conn.execute("SELECT rowid FROM memory_fts WHERE memory_fts MATCH 'Xylophorix'").fetchall()
    assert match == []


def test_purging_merged_ids_together_is_all_or_nothing(bank: MemoryBank, isolated_home: Path) -> None:
    first = bank.log_turn("chat", "Xylophorix clinic results arrive on Tuesday", speaker="me").memory
    copy = bank.log_turn("chat", "Xylophorix clinic results arrive on Tuesday", speaker="me").memory
    other = bank.remember("Buy oat milk and bread")
    assert first and copy and copy.replaced_by == first.id
    with pytest.raises(NotFound, match=r"No memories with ids 998, 999; nothing was changed"):
        bank.purge_many([first.id, 998, other.id, 999])
    assert len(bank.list("all")) == 3
    bank.purge_many([first.id, copy.id, other.id])  # the copy goes with its survivor: no "not found"
    assert bank.list("all") == [] and leftovers(isolated_home) == []


def test_forget_restore_and_pin_many_are_atomic(bank: MemoryBank) -> None:
    a, b = bank.remember("alpha note about tea"), bank.remember("beta note about coffee")
    for action in (bank.forget_many, bank.restore_many, bank.pin_many):
        with pytest.raises(NotFound, match="No memory with id 77; nothing was changed"):
            action([a.id, 77])
    assert not bank.get(a.id).forgotten and not bank.get(a.id).pinned
    assert [m.forgotten for m in bank.forget_many([a.id, b.id, a.id])] == [True, True]
    assert [m.forgotten for m in bank.restore_many([b.id, a.id])] == [False, False]
    assert all(m.pinned for m in bank.pin_many([a.id, b.id]))
    with pytest.raises(NotFound):
        bank.get(2**70)  # too large for SQLite: still just "not found"


def test_purge_erases_facts_extracted_from_the_same_turn(bank: MemoryBank, isolated_home: Path) -> None:
    said = bank.log_turn("chat-9", "My Xylophorix test is on Monday", speaker="user", turn="T1").memory
    assert said is not None
    fact = bank.remember("The user has a Xylophorix test on Monday", kind="fact",
                         source=Source("conversation", "chat-9", ("T1",), 1e9, "user"))
    bank.purge(said.id)
    with pytest.raises(NotFound):
        bank.get(fact.id)
    assert leftovers(isolated_home) == []


def test_conversation_log_is_listable_and_purgeable(bank: MemoryBank, isolated_home: Path) -> None:
    bank.log_turn("ask-1", "Where is my Xylophorix prescription?", speaker="user", memorable=False)
    kept = bank.log_turn("ask-1", "I take Xylophorix pills every morning", speaker="user").memory
    bank.log_turn("ask-2", "What is the weather like?", speaker="user", memorable=False)
    assert [(c.name, c.turns, c.memories) for c in bank.conversations()] == [("ask-2", 1, 0), ("ask-1", 2, 1)]
    assert [t.text for t in bank.conversation("ask-1")][0] == "Where is my Xylophorix prescription?"
    with pytest.raises(NotFound, match="'nope'.*nothing was changed"):
        bank.purge_conversation(["ask-1", "nope"])
    result = bank.purge_conversation(["ask-1"], with_memories=True)
    assert result["memories_purged"] == [kept.id]  # type: ignore[union-attr]
    assert [c.name for c in bank.conversations()] == ["ask-2"]
    assert leftovers(isolated_home) == []


def test_a_reader_with_an_old_snapshot_makes_purge_refuse(isolated_home: Path, clock: ManualClock) -> None:
    settings = from_mapping({"storage": {"busy_timeout_ms": 200}})
    with MemoryBank.open(isolated_home / "memory.db", settings, clock=clock) as bank:
        m = bank.remember("My Xylophorix results are in")
        bank.remember("Buy bread")
        reader = dbmod.connect(isolated_home / "memory.db")
        reader.conn.execute("BEGIN")
        reader.conn.execute("SELECT COUNT(*) FROM memories").fetchone()  # holds a snapshot with the text
        with pytest.raises(DatabaseBusy, match="Another program is reading .* nothing was changed"):
            bank.purge(m.id)
        assert bank.get(m.id).text == "My Xylophorix results are in"
        reader.conn.execute("COMMIT")
        bank.purge(m.id)
        reader.close()
        assert leftovers(isolated_home) == []


def test_a_reader_arriving_mid_purge_is_reported_and_the_log_emptied_later(isolated_home: Path,
                                                                           clock: ManualClock) -> None:
    settings = from_mapping({"storage": {"busy_timeout_ms": 200}})
    path = isolated_home / "memory.db"
    with MemoryBank.open(path, settings, clock=clock) as bank:
        m = bank.remember("My Xylophorix results are in")
        bank.db.clear_wal()
        reader = dbmod.connect(path)
        reader.conn.execute("BEGIN")
        reader.conn.execute("SELECT COUNT(*) FROM memories").fetchone()  # started before the purge wrote
        with pytest.raises(DatabaseBusy, match="is done, but another program"):
            bank.purge(m.id)
        with pytest.raises(NotFound):
            bank.get(m.id)
        reader.conn.execute("COMMIT")
        reader.close()
    with MemoryBank.open(path, Settings(), clock=clock) as again:  # finishes the scrub on open
        assert again.db.conn.execute("SELECT value FROM meta WHERE key = 'scrub_pending'").fetchone() is None
    assert leftovers(isolated_home) == []
