"""Bursts: a thought sent as several messages in a row becomes one memory, and only then."""

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from cairn.core.clock import ManualClock
from cairn.core.config import Settings, from_mapping
from cairn.core.errors import InvalidInput
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.chatlog import ChatMessage, parse_chat
from cairn.core.memory.retrieval.embed import HashingEmbedder
from cairn.core.memory.storage.records import Memory, Source

BURST = ["so guess what happened today", "I got the job at the Lisbon aquarium", "starting on 3 March!"]


def live(bank: MemoryBank) -> list[Memory]:
    return bank.list("live")


def send(bank: MemoryBank, clock: ManualClock, messages: list[tuple[str, str]], gap: float = 20.0) -> None:
    for n, (who, text) in enumerate(messages, start=1):
        bank.log_turn("chat-1", text, speaker=who, turn=f"D1:{n}")
        clock.advance(gap)


@pytest.fixture
def fast(isolated_home: Path, clock: ManualClock):  # type: ignore[no-untyped-def]
    """A bank with the in-memory vector index, so a grown memory's new vector must reach it."""
    b = MemoryBank.open(isolated_home / "memory.db", Settings(), clock=clock, in_memory_index=True)
    yield b
    b.close()


def test_a_burst_of_messages_is_one_memory_with_every_turn(fast: MemoryBank, clock: ManualClock) -> None:
    send(fast, clock, [("Ana", text) for text in BURST])
    [memory] = live(fast)
    assert memory.text == " ".join(BURST)
    assert memory.source.turns == ("D1:1", "D1:2", "D1:3") and memory.source.speaker == "Ana"
    hidden = [m for m in fast.list("all") if m.forgotten]
    assert len(hidden) == 2 and all(m.replaced_by == memory.id and m.forgotten_by == "merged" for m in hidden)
    assert [h.memory.id for h in fast.recall("When does Ana start at the aquarium?", k=1, touch=False)] == [memory.id]
    reasons = [h.reason or "" for h in fast.history(memory.id) if h.action == "merge"]
    assert len(reasons) == 2 and all(r.startswith("continued") for r in reasons)


def test_the_grown_memory_is_scored_again_as_its_whole_text(bank: MemoryBank, clock: ManualClock) -> None:
    send(bank, clock, [("Ana", "guess what happened"), ("Ana", "my flight to Oslo is next Friday at 7:40")])
    [memory] = live(bank)
    assert memory.importance_parts["numbers"] > 0 and memory.importance_parts["time_refs"] > 0


@pytest.mark.parametrize("case", ["other speaker between", "too late", "switched off", "too long"])
def test_what_is_not_a_burst_stays_apart(isolated_home: Path, clock: ManualClock, case: str) -> None:
    settings = from_mapping({"retention": {"burst_seconds": 0.0 if case == "switched off" else 120.0,
                                           "burst_chars": 30 if case == "too long" else 800}})
    with MemoryBank.open(isolated_home / "memory.db", settings, clock=clock) as bank:
        first = ("Ana", "I got the job at the Lisbon aquarium")
        second = ("Ana", "starting on 3 March with the penguins")
        between = [("Ben", "ok")] if case == "other speaker between" else []  # log only, yet someone spoke
        send(bank, clock, [first, *between, second], gap=600.0 if case == "too late" else 20.0)
        assert sorted(m.text for m in live(bank)) == [first[1], second[1]]


def test_remember_and_the_assistants_own_log_never_join_messages(bank: MemoryBank) -> None:
    source = Source("conversation", "chat-1", ("T1",), None, "me")
    a = bank.remember("My sister moved to Porto", source=source)
    b = bank.remember("I am allergic to penicillin", source=source)
    c = bank.log_turn("chat-1", "I take the 8:10 train", speaker="me", continues=False).memory
    assert c is not None and len({a.id, b.id, c.id}) == 3 and len(live(bank)) == 3
    d = bank.remember("and I work nights on Fridays", kind="conversation", source=source, continues=True)
    assert d.replaced_by == c.id


def test_a_repeated_message_merges_as_a_copy_not_as_more_text(bank: MemoryBank, clock: ManualClock) -> None:
    send(bank, clock, [("Ana", BURST[1]), ("Ana", BURST[1])])
    [memory] = live(bank)
    assert memory.text == BURST[1] and memory.source.turns == ("D1:1", "D1:2")


def test_purging_one_message_of_a_burst_erases_its_text_everywhere(bank: MemoryBank, isolated_home: Path,
                                                                    clock: ManualClock) -> None:
    send(bank, clock, [("Ana", "so guess what happened today"), ("Ana", "my Xylophorix results came back")])
    message = next(m for m in bank.list("all") if m.text == "my Xylophorix results came back")
    bank.purge(message.id)
    assert all("Xylophorix" not in m.text for m in bank.list("all"))
    assert bank.db.conn.execute("SELECT rowid FROM memory_fts WHERE memory_fts MATCH 'Xylophorix'").fetchall() == []
    assert live(bank) == [] and not any(b"Xylophorix" in f.read_bytes() for f in isolated_home.glob("memory.db*"))


def test_a_chat_history_logged_at_once_joins_its_bursts_and_refuses_a_name_in_use(fast: MemoryBank) -> None:
    text = ("29.12.2023, 22:42 - Anna: so guess what happened today\n"
            "29.12.2023, 22:42 - Anna: I got the job at the Lisbon aquarium\n"
            "29.12.2023, 22:43 - Ben: Congratulations, my cousin works there too.\n"
            "29.12.2023, 22:44 - Anna: ok\n")
    [log] = parse_chat(text, "Chat with Anna")
    result = fast.log_turns(log.name, log.messages, new=True)
    assert (result.logged, result.stored, result.joined, result.log_only) == (4, 2, 1, 1)
    first, reply = live(fast)
    assert first.source.turns == ("L1", "L2") and first.source.speaker == "Anna"
    assert first.text == "so guess what happened today I got the job at the Lisbon aquarium"
    assert reply.source.turns == ("L3",) and reply.source.time == first.source.time + 60
    with pytest.raises(InvalidInput, match="already in the log"):
        fast.log_turns(log.name, log.messages, new=True)
    fast.log_turns(log.name, log.messages[3:], new=False)  # adding to it is what new=False is for
    assert len(fast.conversation(log.name)) == 5


def test_a_chat_history_is_checked_whole_before_anything_is_logged(isolated_home: Path, clock: ManualClock) -> None:
    settings = from_mapping({"memory": {"max_text_bytes": 100}})
    with MemoryBank.open(isolated_home / "memory.db", settings, clock=clock) as bank:
        messages = [ChatMessage("Anna", "I got the job", 1.7e9, "L1"), ChatMessage("Anna", "x" * 101, 1.7e9, "L2")]
        with pytest.raises(InvalidInput, match="Message L2 is 101 bytes"):
            bank.log_turns("chat", messages, new=True)
        assert bank.conversations() == [] and bank.list("all") == []


def test_a_slight_message_joins_its_speakers_burst_but_not_after_a_reply(fast: MemoryBank, clock: ManualClock) -> None:
    send(fast, clock, [("Ana", "I got a job offer yesterday"), ("Ana", "from Google")])
    [memory] = live(fast)
    assert memory.text == "I got a job offer yesterday from Google" and memory.source.turns == ("D1:1", "D1:2")
    send(fast, clock, [("Ben", "nice"), ("Ana", "haha")])  # Ben replied in between: Ana's "haha" stays apart
    assert [m.text for m in live(fast)] == ["I got a job offer yesterday from Google"]
    assert [t.memory_id for t in fast.conversation("chat-1")][2:] == [None, None]


class Watching(HashingEmbedder):
    """The hashing embedder, noting each batch it embeds and whether a write was open meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.bank: MemoryBank | None = None
        self.calls: list[tuple[list[str], bool]] = []
        self.during: Callable[[list[str]], None] = lambda texts: None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        writing = self.bank is not None and self.bank.db.conn.in_transaction
        self.calls.append((list(texts), writing))
        self.during(list(texts))
        return super().embed(texts)


def test_a_burst_is_embedded_before_the_write(isolated_home: Path, clock: ManualClock) -> None:
    watching = Watching()
    with MemoryBank.open(isolated_home / "memory.db", Settings(), embedder=watching, clock=clock) as bank:
        watching.bank = bank
        watching.calls.clear()
        send(bank, clock, [("Ana", text) for text in BURST])
        grown = [f"Ana: {BURST[0]}", f"Ana: {BURST[1]}", f"Ana: {' '.join(BURST[:2])}", f"Ana: {BURST[2]}",
                 f"Ana: {' '.join(BURST)}"]  # each message, then the burst it grows
        assert [texts for texts, _ in watching.calls] == [[t] for t in grown]
        assert not any(writing for _, writing in watching.calls)


def test_a_burst_another_writer_grew_meanwhile_is_embedded_again(isolated_home: Path, clock: ManualClock) -> None:
    watching = Watching()
    path = isolated_home / "memory.db"
    with MemoryBank.open(path, Settings(), embedder=watching, clock=clock) as bank, \
            MemoryBank.open(path, Settings(), clock=clock) as other:
        send(bank, clock, [("Ana", BURST[0])])

        def interleave(texts: list[str]) -> None:  # while the burst is embedded ahead, another message lands
            if texts == [f"Ana: {BURST[0]} {BURST[2]}"]:
                watching.during = lambda texts: None
                other.log_turn("chat-1", BURST[1], speaker="Ana", turn="D1:2")

        watching.during = interleave
        bank.log_turn("chat-1", BURST[2], speaker="Ana", turn="D1:3")
        [memory] = live(bank)
        assert memory.text == f"{BURST[0]} {BURST[1]} {BURST[2]}" and memory.source.turns == ("D1:1", "D1:2", "D1:3")
        assert watching.calls[-1][0] == ["Ana: " + memory.text]  # the stale burst was embedded again
        [top] = bank.recall(f"Ana: {memory.text}", k=1, touch=False)  # the vector holds the whole text
        assert top.memory.id == memory.id and top.signals["cosine"] > 0.99
