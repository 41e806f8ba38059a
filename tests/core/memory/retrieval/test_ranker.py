"""The learned ranker: its features, its shipped weights, and recall ranked by it."""

import json
import math
from pathlib import Path

import pytest

from cairn.core.config import RecallSettings, Settings
from cairn.core.errors import ModelLoadError
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.retrieval.embed import make_embedder
from cairn.core.memory.retrieval.ranker import (
    FEATURES,
    OWNERS,
    Ranker,
    describe,
    fit,
    long_query,
    ranker_for,
    stems,
    switched_off,
)
from cairn.core.memory.retrieval.retrieve import Retrievers
from cairn.core.memory.storage.records import Source

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
TURNS = [("Ana", "I adopted a greyhound called Pixel last week!"), ("Ben", "Congrats! What colour is she?"),
         ("Ana", "Grey with a white patch, she loves the beach."), ("Ben", "I started pottery classes on Monday."),
         ("Ana", "How is the pottery going?"), ("Ben", "My teacher praised my first vase."),
         ("Ana", "I am training for a half marathon in Lisbon."), ("Ben", "Good luck with the race!")]


def row(**values: float) -> dict[str, float]:
    return {f: values.get(f, 0.0) for f in FEATURES}


def chat(bank: MemoryBank) -> list[int]:
    return [bank.remember(text, source=Source("conversation", "chat-1", (f"D1:{n}",), None, who)).id
            for n, (who, text) in enumerate(TURNS, start=1)]


def test_long_query_ramps_from_questions_to_passages() -> None:
    assert long_query("what is the name of the dog") == 0.0
    assert long_query(" ".join(["word"] * 36)) == pytest.approx(0.5)
    assert long_query(" ".join(["word"] * 200)) == 1.0


def test_coverage_counts_the_query_words_a_memory_holds() -> None:
    from cairn.core.memory.retrieval.ranker import Candidates, features
    from cairn.core.memory.storage.records import Memory

    assert stems("What paintings did Ana paint?") == {"paint", "ana"}
    def memory(i: int, text: str, speaker: str | None = None) -> Memory:
        return Memory(i, f"u{i}", text, "turn", Source(speaker=speaker), 0.0, 0.0, False, 0.5, 1.0, None, 0, None)

    memories = {1: memory(1, "I painted a sunset", "Ana"), 2: memory(2, "Nice weather today")}
    rows = features(Candidates(memories, {1: {}, 2: {}}, {}, {}, [], None, 0.0, stems("What paintings did Ana paint?")))
    assert rows[1]["coverage"] == 1.0 and rows[2]["coverage"] == 0.0


def test_dates_the_query_names_match_when_said_and_what_was_meant() -> None:
    from datetime import UTC, datetime

    from cairn.core.memory.retrieval.ranker import Candidates, features
    from cairn.core.memory.retrieval.timeref import date_range, day_range
    from cairn.core.memory.storage.records import Memory

    def memory(i: int, text: str, day: int) -> Memory:
        said = datetime(2022, 11, day, 15, tzinfo=UTC).timestamp()
        return Memory(i, f"u{i}", text, "turn", Source(time=said), said, said, False, 0.5, 1.0, None, 0, None)

    memories = {1: memory(1, "I made lasagne yesterday", 10), 2: memory(2, "I made lasagne", 9),
                3: memory(3, "I made lasagne", 10), 4: memory(4, "I made lasagne last month", 10)}
    query = "What dish did Nate make on 9 November, 2022?"
    rows = features(Candidates(memories, dict.fromkeys(memories, {}), {}, {}, [], date_range(query), 0.0,
                               stems(query), day_range(query)))
    assert [rows[i]["day"] for i in memories] == [0.0, 1.0, 0.0, 0.0]
    assert [rows[i]["event_time"] for i in memories] == [1.0, 0.0, 0.0, 0.0]
    assert all(rows[i]["time"] == 1.0 for i in memories)
    query = "What did Nate cook in October 2022?"  # no day named: the month is what "last month" must hit
    rows = features(Candidates(memories, dict.fromkeys(memories, {}), {}, {}, [], date_range(query), 0.0,
                               stems(query), day_range(query)))
    assert [rows[i]["event_time"] for i in memories] == [0.0, 0.0, 0.0, 1.0]
    assert all(rows[i]["day"] == 0.0 and rows[i]["time"] == 0.0 for i in memories)


def test_switched_off_parts_own_their_features() -> None:
    assert switched_off(Retrievers()) == ()
    off = switched_off(Retrievers(keyword=False, time=False))
    assert set(off) == {"keyword", "keyword_rrf", "keyword_long", "keyword_rrf_long", "coverage", "coverage_long", "time", "day",
                        "event_time"}
    assert all(f in FEATURES for owned in OWNERS.values() for f in owned)


def test_shipped_weights_load_and_name_their_origin() -> None:
    ranker = Ranker.load()
    assert set(ranker.model.features) <= set(FEATURES) and len(ranker.model.features) == len(FEATURES)
    meta = ranker.model.meta
    assert meta["embedder"] == MINILM and meta["questions"] > 100 and meta["positives"] > 0
    assert any(name.startswith("conv-") for name in meta["fitted_on"])
    weights = dict(zip(ranker.model.features, ranker.model.weights, strict=True))
    assert weights["dense"] > 0 and weights["keyword"] > 0  # matching the query makes evidence likelier


def test_ranker_for_settings_and_embedder(tmp_path: Path) -> None:
    assert ranker_for(RecallSettings(fusion="fixed"), MINILM) is None
    assert ranker_for(RecallSettings(), "hashing-v1") is None  # weights fitted on another embedder's cosines
    assert ranker_for(RecallSettings(), MINILM) is not None
    mine = tmp_path / "mine.json"
    fit([row(dense=1.0), row(dense=0.0)] * 6, [True, False] * 6).model.save(mine)  # no embedder recorded
    assert ranker_for(RecallSettings(ranker_file=str(mine)), "hashing-v1") is not None
    mine.write_text('{"features": ["dense"]}')
    with pytest.raises(ModelLoadError, match="ranker weights file .*mine.json is missing or malformed"):
        ranker_for(RecallSettings(ranker_file=str(mine)), MINILM)
    mine.write_text(json.dumps({"features": ["shoe_size"], "mean": [0], "scale": [1], "weights": [1], "bias": 0}))
    with pytest.raises(ModelLoadError, match=r"does not match this Cairn's features \(unknown: \['shoe_size'\]\)"):
        ranker_for(RecallSettings(ranker_file=str(mine)), MINILM)


def test_fit_learns_which_feature_marks_evidence() -> None:
    rows = [row(dense=d / 10, keyword=(d * 7 % 10) / 10) for d in range(10)] * 3
    labels = [r["keyword"] > 0.5 for r in rows]
    ranker = fit(rows, labels)
    ranked = ranker.rank(rows[:10], list(range(10)))
    assert {i for i, _ in ranked[:4]} == {i for i in range(10) if labels[i]}
    assert all(0.0 < p < 1.0 for _, p in ranked)


def test_why_names_the_features_that_pushed() -> None:
    rows = [row(dense=d / 10, keyword=(d * 7 % 10) / 10) for d in range(10)] * 3
    ranker = fit(rows, [r["keyword"] > 0.5 for r in rows])
    reasons = ranker.why({"f_keyword": 1.0, "f_dense": 0.0, "f_m_info_background": math.nan}, top=2)
    assert reasons[0][0] == "shares rare words" and reasons[0][1] > 0
    assert ranker.why({"cosine": 0.9}) == []  # a hit the fixed shares ranked has no features to explain
    assert describe("m_info_background") == "information: background"
    assert describe("keyword_long") == "shares rare words (long query)"


def test_learned_recall_ranks_with_features_it_explains(isolated_home: Path) -> None:
    embedder = make_embedder(Settings(), isolated_home / "models")
    with MemoryBank.open(isolated_home / "memory.db", Settings(), embedder=embedder) as bank:
        assert bank.ranker is not None  # MiniLM: the shipped weights apply
        ids = chat(bank)
        hits = bank.recall("What is the name of Ana's dog?", k=3, touch=False)
        assert hits[0].memory.id == ids[0]
        assert 0.0 < hits[0].score <= 1.0 and hits[0].signals["f_speaker"] == 1.0
        reasons = hits[0].why
        assert 1 <= len(reasons) <= 3 and list(reasons) == sorted(reasons, key=lambda r: -abs(r[1]))
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        pool = bank.recall("What is the name of Ana's dog?", k=3, touch=False, whole_pool=True)
        assert len(pool) == len(TURNS) and [h.memory.id for h in pool[:3]] == [h.memory.id for h in hits]
        rows = [{f: h.signals.get(f"f_{f}", math.nan) for f in FEATURES} for h in pool]
        # the benchmark refits on these rows: ranking them again gives recall's own order
        again = bank.ranker.rank(rows, [h.memory.id for h in pool])
        assert [i for i, _ in again] == [h.memory.id for h in pool]
        fixed = bank.recall("What is the name of Ana's dog?", k=3, touch=False, use=Retrievers(learned=False))
        assert "f_dense" not in fixed[0].signals


def test_switched_off_part_stands_at_its_mean(isolated_home: Path) -> None:
    embedder = make_embedder(Settings(), isolated_home / "models")
    with MemoryBank.open(isolated_home / "memory.db", Settings(), embedder=embedder) as bank:
        chat(bank)
        hits = bank.recall("pottery vase", k=2, touch=False, use=Retrievers(keyword=False, context=False))
        assert hits and all("f_keyword" not in h.signals and "f_dense" in h.signals for h in hits)
