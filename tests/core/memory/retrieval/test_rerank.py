"""The second stage over recall: a scorer's values reorder the best hits, recall's judgement kept."""

import math

import pytest

from cairn.core.clock import parse_when
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.retrieval.rerank import passage, reorder, rerank
from cairn.core.memory.storage.records import Recalled, Source

TURNS = [("Ana", "I adopted a greyhound called Pixel last week."), ("Ben", "I started pottery classes."),
         ("Ana", "Pixel loves the beach near our flat."), ("Ben", "My teacher praised my first vase.")]


def recalled(bank: MemoryBank) -> list[Recalled]:
    when = parse_when("2023-05-08T14:00:00")
    for n, (who, text) in enumerate(TURNS, start=1):
        bank.remember(text, source=Source("conversation", "chat-1", (f"D1:{n}",), when, who))
    return bank.recall("Pixel the greyhound", k=4, touch=False)


def test_a_passage_shows_date_speaker_and_text(bank: MemoryBank) -> None:
    hit = recalled(bank)[0]
    assert passage(hit.memory) == f"(8 May 2023) {hit.memory.source.speaker}: {hit.memory.text}"


def test_reorder_adds_the_scorers_z_score_to_recalls_logit() -> None:
    scores, values = [0.9, 0.5, 0.1], [-30.0, -10.0, -20.0]
    assert reorder(scores, values, 0.0) == [0, 1, 2]
    # logits 2.20, 0, -2.20; z-scores -1.22, 1.22, 0: a weight of 1 lifts the second above the first
    assert reorder(scores, values, 1.0) == [1, 0, 2]
    assert reorder(scores, values, 10.0) == [1, 2, 0]
    assert reorder([1.0, 0.0], [-1.0, -1.0], 5.0) == [0, 1]  # equal values: recall's order, no infinite logit
    with pytest.raises(ValueError, match="2 values for 3 memories"):
        reorder(scores, values[:2], 1.0)


def test_rerank_moves_the_scorers_choice_up_and_keeps_the_rest(bank: MemoryBank) -> None:
    hits = recalled(bank)
    assert len(hits) == 4
    target = hits[2].memory.text
    seen: list[list[str]] = []

    def scorer(query: str, passages: list[str]) -> list[float]:
        seen.append(passages)
        return [0.0 if target in p else -40.0 for p in passages]

    out = rerank("Pixel the greyhound", hits, scorer, depth=3, weight=50.0)
    assert out[0].memory.text == target and out[3] is hits[3]  # below the depth: untouched
    assert len(seen) == 1 and len(seen[0]) == 3 and all(p.startswith("(8 May 2023) ") for p in seen[0])
    assert out[0].signals["likelihood"] == 0.0 and "likelihood" not in out[3].signals
    assert sorted(h.memory.id for h in out) == sorted(h.memory.id for h in hits)


def test_rerank_changes_nothing_when_the_scorer_declines_or_weighs_nothing(bank: MemoryBank) -> None:
    hits = recalled(bank)
    assert rerank("Pixel", hits, lambda q, ps: None, depth=4, weight=1.0) == hits
    calls: list[str] = []
    assert rerank("Pixel", hits, lambda q, ps: calls.append(q) or [], depth=4, weight=0.0) == hits
    assert rerank("Pixel", hits[:1], lambda q, ps: calls.append(q) or [0.0], depth=4, weight=1.0) == hits[:1]
    assert calls == []  # nothing to reorder: the scorer is not asked
    with pytest.raises(ValueError, match="1 values for 4 memories"):
        rerank("Pixel", hits, lambda q, ps: [math.nan], depth=4, weight=1.0)
