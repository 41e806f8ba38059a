"""Retention in the bank: arrival, the conversation log, consolidation, reinforcement, sweeps."""

import random
from pathlib import Path

import pytest

from cairn.core.clock import ManualClock
from cairn.core.config import RetentionSettings, Settings
from cairn.core.errors import InvalidInput
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.retention.forgetting import DAY
from cairn.core.memory.storage.records import Source


def test_remember_scores_importance_and_strength(bank: MemoryBank) -> None:
    fact = bank.remember("My sister Ana moved to Porto in March 2023.")
    chit = bank.remember("haha ok cool thanks")
    assert fact.importance > chit.importance
    assert fact.strength > chit.strength > 0
    assert set(fact.importance_parts) >= {"info_background", "novelty", "names"}
    given = bank.remember("a note with a set importance", importance=0.9)
    assert given.importance == 0.9
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        bank.remember("bad", importance=1.5)


def test_log_turn_keeps_trivia_in_the_log_only(bank: MemoryBank) -> None:
    q = bank.log_turn("chat-1", "How was the weekend?", speaker="Ben", turn="D1:1")
    a = bank.log_turn("chat-1", "I adopted a greyhound called Pixel on Saturday!", speaker="Ana", turn="D1:2")
    t = bank.log_turn("chat-1", "haha thanks", speaker="Ben", turn="D1:3")
    assert t.memory is None and "log only" in t.reason
    assert a.memory is not None and a.memory.source.turns == ("D1:2",) and a.memory.source.ref == "chat-1"
    assert a.memory.importance_parts["answers_question"] == 1.0
    pinned = bank.log_turn("chat-1", "ok", speaker="Ben", pinned=True)
    assert pinned.memory is not None and pinned.memory.pinned
    from cairn.core.memory.storage import store_retention
    log = store_retention.conversation(bank.db.conn, "chat-1")
    assert [x.text for x in log] == ["How was the weekend?", "I adopted a greyhound called Pixel on Saturday!",
                                     "haha thanks", "ok"]
    assert log[1].memory_id == a.memory.id and log[2].memory_id is None and q.log_id == log[0].id


def test_near_duplicates_merge_with_both_provenances(bank: MemoryBank, clock: ManualClock) -> None:
    first = bank.log_turn("c", "I am training for the Lisbon half marathon in May", speaker="Ana", turn="D1:4")
    clock.advance(3600)
    again = bank.log_turn("c", "I am training for the Lisbon half marathon in May", speaker="Ana", turn="D2:7")
    assert again.memory is not None and again.memory.replaced_by == first.memory.id  # type: ignore[union-attr]
    survivor = bank.get(first.memory.id)  # type: ignore[union-attr]
    assert survivor.source.turns == ("D1:4", "D2:7") and not survivor.forgotten
    assert [h.action for h in bank.history(survivor.id)] == ["add", "merge"]
    hits = bank.recall("Lisbon half marathon", k=5, touch=False)
    assert [h.memory.id for h in hits].count(survivor.id) == 1 and again.memory.id not in [h.memory.id for h in hits]
    restored = bank.restore(again.memory.id)  # nothing lost: the merged copy comes back
    assert not restored.forgotten and restored.replaced_by is None


def test_same_words_a_year_apart_are_a_new_event(bank: MemoryBank) -> None:
    a = bank.remember("went hiking with friends", source=Source(time=1_600_000_000.0))
    b = bank.remember("went hiking with friends", source=Source(time=1_600_000_000.0 + 365 * DAY))
    assert b.replaced_by is None and not b.forgotten and a.id != b.id


def test_a_changed_statement_supersedes_the_older(isolated_home: Path, clock: ManualClock) -> None:
    settings = Settings(retention=RetentionSettings(supersede_similarity=0.5))
    with MemoryBank.open(isolated_home / "m.db", settings, clock=clock) as bank:
        old = bank.remember("my favourite colour is blue", source=Source(speaker="Ana"))
        clock.advance(DAY)
        new = bank.remember("my favourite colour is green", source=Source(speaker="Ana"))
        older = bank.get(old.id)
        assert older.valid_to == new.valid_from == clock.now() and not older.forgotten
        assert bank.history(old.id)[-1].action == "supersede"
        other = bank.remember("my favourite colour is red", source=Source(speaker="Ben"))
        assert bank.get(new.id).valid_to is None and other.valid_to is None  # another speaker: no change
        report = bank.sweep(budget=2)  # superseded memories go first
        assert report.ids == [old.id]


def test_recall_reinforces_with_spacing(bank: MemoryBank, clock: ManualClock) -> None:
    m = bank.remember("The wifi password at the cabin is larch-42")
    s0 = m.strength
    clock.advance(1)
    bank.recall("cabin wifi password", k=1)
    s1 = bank.get(m.id).strength
    clock.advance(200 * DAY)
    bank.recall("cabin wifi password", k=1)
    s2 = bank.get(m.id)
    assert s0 < s1 < s2.strength and s2.recall_count == 2 and s2.last_recalled_at == clock.now()
    assert s2.strength - s1 > s1 - s0  # a recall after a long gap raises strength more


def test_sweep_archives_faded_then_over_budget_and_restores(bank: MemoryBank, clock: ManualClock) -> None:
    weak = bank.remember("meh", importance=0.0)  # strength 7 days
    strong = bank.remember("Ana's birthday is 4 June", importance=0.9)
    pin = bank.remember("blood type O negative", importance=0.0, pinned=True)
    mid = [bank.remember(f"note number {i} about gardening", importance=0.2 + i / 100) for i in range(5)]
    clock.advance(30 * DAY)  # weak: retention exp(-30/7) < 0.05
    report = bank.sweep(budget=4)
    assert report.by_rule == {"decay": 1, "budget": 3} and weak.id in report.ids
    assert report.ids[1:] == [mid[0].id, mid[1].id, mid[2].id]  # least important first
    live = {m.id for m in bank.list("live")}
    assert live == {strong.id, pin.id, mid[3].id, mid[4].id}
    assert bank.sweep(budget=4).archived == 0  # idempotent
    archived = bank.get(weak.id)
    assert archived.archived and {m.id for m in bank.list("archived")} == set(report.ids)
    entry = bank.history(weak.id)[-1]
    assert entry.action == "archive" and entry.new["retention"] < 0.05 and "fell below" in entry.reason  # type: ignore[index]
    assert weak.id not in [h.memory.id for h in bank.recall("meh", k=10, touch=False)]
    back = bank.restore(weak.id)
    assert not back.forgotten and back.last_recalled_at == clock.now()
    assert [h.action for h in bank.history(weak.id)] == ["add", "archive", "restore"]
    assert bank.sweep(budget=0).archived == 0  # restored counts as recalled: not archived straight away


def test_explain_has_parts_curve_and_history(bank: MemoryBank, clock: ManualClock) -> None:
    m = bank.remember("I start the new job at the observatory on 2 May")
    clock.advance(10 * DAY)
    why = bank.explain(m.id, days=30)
    assert why["importance"]["score"] == m.importance and set(why["importance"]["contributions"]) == set(
        why["importance"]["parts"])
    assert len(why["curve"]) == 31 and why["curve"][0][1] == pytest.approx(why["retention_now"])
    assert why["curve"][-1][1] < why["retention_now"] < 1.0
    assert why["days_until_archive"] > 0 and why["history"][0]["action"] == "add"


def test_a_simulated_year_stays_bounded(isolated_home: Path) -> None:
    """Daily diary entries and chit-chat for a year, occasional recalls, daily sweeps under a budget."""
    clock = ManualClock(1_700_000_000.0)
    budget = 150
    rng = random.Random(7)
    places = ["Porto", "Lisbon", "Kyoto", "Oslo", "Quito", "Accra", "Hanoi", "Lima"]
    with MemoryBank.open(isolated_home / "year.db", Settings(), clock=clock) as bank:
        pins = [bank.remember(f"Emergency contact: {n}", pinned=True).id for n in ("Ana 555-0101", "Ben 555-0199")]
        for day in range(365):
            place = rng.choice(places)
            bank.log_turn("diary", f"Day {day}: walked to the market in {place} and bought {rng.randint(2, 9)} "
                          f"figs for the {rng.choice(['soup', 'cake', 'salad'])}", speaker="me", turn=f"d{day}")
            bank.log_turn("diary", rng.choice(["ok", "fine", "tired today", "meh"]), speaker="me")
            if day % 9 == 0:
                bank.recall(f"market in {rng.choice(places)}", k=2)
            report = bank.sweep(budget=budget)
            assert report.live_after <= budget
            clock.advance(DAY)
        live = {m.id for m in bank.list("live")}
        assert set(pins) <= live and len(live) <= budget
        archived = bank.list("archived")
        assert len(archived) > 100
        for m in archived[:25]:
            history = [h.action for h in bank.history(m.id)]
            assert history[0] == "add" and history[-1] == "archive"
            back = bank.restore(m.id)
            assert not back.forgotten and [h.action for h in bank.history(m.id)] == [*history, "restore"]


class FakeSummariser:
    """Stands in for an LLM behind the Summariser interface: one fact per turn that names a pet."""

    def summarise(self, conversation: str, turns: list) -> list:
        from cairn.core.memory.retention.consolidate import Fact

        return [Fact(f"{speaker} has a pet: {text.split(' called ')[1]}", (turn,), speaker)
                for turn, speaker, text in turns if " called " in text]


def test_summarise_stores_facts_linked_to_turns(bank: MemoryBank) -> None:
    bank.log_turn("c9", "hello there", speaker="Ben", turn="D1:1", at=1_000.0)
    bank.log_turn("c9", "I adopted a greyhound called Pixel", speaker="Ana", turn="D1:2", at=2_000.0)
    facts = bank.summarise("c9", FakeSummariser())
    assert [f.text for f in facts] == ["Ana has a pet: Pixel"]
    assert facts[0].kind == "fact" and facts[0].source.turns == ("D1:2",) and facts[0].source.time == 2_000.0
    assert bank.summarise("c9", FakeSummariser(), after_log_id=10**6) == []


class AlwaysContradicts:
    def contradicts(self, older: str, newer: str) -> bool:
        return True


def test_a_judge_decides_supersede(isolated_home: Path, clock: ManualClock) -> None:
    settings = Settings(retention=RetentionSettings(supersede_similarity=0.3))
    with MemoryBank.open(isolated_home / "j.db", settings, clock=clock) as bank:
        old = bank.remember("we meet at the cafe on Fridays")
        bank.retention.use_judge(AlwaysContradicts())
        new = bank.remember("we meet at the library on Fridays now instead")
        assert bank.get(old.id).valid_to == new.valid_from


def test_recall_can_weigh_retention(isolated_home: Path, clock: ManualClock) -> None:
    settings = Settings(retention=RetentionSettings(recall_weight=1.0))
    with MemoryBank.open(isolated_home / "w.db", settings, clock=clock) as bank:
        faded = bank.remember("piano lesson notes", importance=0.0)
        clock.advance(60 * DAY)
        fresh = bank.remember("piano lesson notes", importance=0.0)
        hits = bank.recall("piano lesson notes", k=2, touch=False)
        assert [h.memory.id for h in hits] == [fresh.id, faded.id]
        assert hits[1].signals["retention"] < 0.01 < hits[0].signals["retention"]


def test_every_recall_is_logged_with_its_strength_and_purge_erases_the_log(bank, clock) -> None:  # type: ignore[no-untyped-def]
    memory = bank.remember("My sister Ana lives in Lisbon")
    clock.advance(3 * 86_400)
    bank.recall("where does Ana live?", k=1)
    clock.advance(5 * 86_400)
    bank.recall("where does Ana live?", k=1)
    log = bank.explain(memory.id)["recall_log"]
    assert [r["at"] for r in log] == [clock.now() - 5 * 86_400, clock.now()]
    assert log[0]["strength_before"] == memory.strength and log[0]["strength_after"] == log[1]["strength_before"]
    assert log[1]["strength_after"] == bank.get(memory.id).strength > memory.strength
    bank.purge(memory.id)
    with bank.db.guard():
        assert bank.db.conn.execute("SELECT count(*) FROM recall_log").fetchone()[0] == 0
