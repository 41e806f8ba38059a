"""The benchmarks on small made-up data in the public formats (the real data is never copied here)."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from cairn.core.bench import locomo, madial, scale
from cairn.core.bench.metrics import Tally, at_k
from cairn.core.config import Settings
from cairn.core.errors import InvalidInput
from cairn.core.memory.retrieval.embed import HashingEmbedder

CONV = {
    "sample_id": "made-up-1",
    "conversation": {
        "speaker_a": "Ana", "speaker_b": "Ben",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            {"speaker": "Ana", "dia_id": "D1:1", "text": "I adopted a greyhound called Pixel yesterday!"},
            {"speaker": "Ben", "dia_id": "D1:2", "text": "Congrats! I started pottery classes on Monday."},
            {"speaker": "Ana", "dia_id": "D1:3", "text": "Nice. Pixel loves the beach.",
             "blip_caption": "a photo of a dog running on sand"},
        ],
        "session_2_date_time": "10:00 am on 20 June, 2023",
        "session_2": [
            {"speaker": "Ben", "dia_id": "D2:1", "text": "My pottery teacher praised my first vase."},
            {"speaker": "Ana", "dia_id": "D2:2", "text": "I'm training for a half marathon in Lisbon."},
        ],
        "session_3_date_time": "not a list, ignored",
    },
    "qa": [
        {"question": "What is the name of the greyhound Ana adopted?", "answer": "Pixel", "evidence": ["D1:1"], "category": 4},
        {"question": "When did Ben start pottery?", "answer": "May 2023", "evidence": ["D1:2"], "category": 2},
        {"question": "What did Ben make in pottery class and who praised it?", "evidence": ["D2:1; D:1:2"],
         "category": 1},
        {"question": "Where will Ana run a race?", "evidence": ["D2:02", "D9:9"], "category": 3},
        {"question": "What is Ben's cat called?", "adversarial_answer": "Tom", "evidence": [], "category": 5},
    ],
}


def test_evidence_cleaning() -> None:
    valid = {"D1:2", "D11:26", "D30:5"}
    assert locomo.clean_evidence(["D:11:26", "D30:05; D1:2", "", "D99:1"], valid) == valid


def test_metrics() -> None:
    m = at_k([("a",), ("b", "c"), ("d",)], {"c", "z"}, 2)
    assert m == {"recall@2": 0.5, "hit@2": 1.0, "all@2": 0.0}
    t = Tally()
    t.add("1", {"recall@1": 1.0})
    t.add("1", {"recall@1": 0.0})
    t.add("2", {"recall@1": 1.0})
    assert t.macro() == {"recall@1": 0.75} and t.questions == 3


def test_locomo_contract_and_sanity(tmp_path: Path) -> None:
    path = tmp_path / "conv.json"
    path.write_text(json.dumps([CONV]))
    convs = locomo.load(path)
    assert len(convs[0].turns) == 5 and "[shares a photo: a photo of a dog" in convs[0].turns[2].text
    assert len(convs[0].questions) == 4  # category 5 is not a retrieval question
    report = locomo.run(path, [1, 5, 10], ablate=True, embedder=HashingEmbedder())
    assert report["questions"] == 4
    assert set(report["macro"]) >= {"recall@1", "recall@5", "recall@10", "hit@10", "all@10"}
    assert set(report["per_category"]) == {"1", "2", "3", "4"}
    assert set(report["latency_ms"]) == {"p50", "p95"}
    assert set(report["baselines"]) == {"bm25", "dense", "rrf"} and "recall@10" in report["baselines"]["bm25"]["macro"]
    assert report["per_category"]["4"]["recall@1"] == 1.0  # the greyhound -> the Pixel turn
    assert report["macro"]["recall@10"] == 1.0  # five turns, k=10: everything is found
    assert "without_vector" in report["ablation"]


def test_locomo_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a list"}')
    with pytest.raises(InvalidInput, match="not a LoCoMo-format file"):
        locomo.load(bad)
    bad.write_text('[{"sample_id": "x", "conversation": {"session_1": [{}], "session_1_date_time": "bad"}}]')
    with pytest.raises(InvalidInput, match="conversation x: Unknown date format 'bad'"):
        locomo.load(bad)
    bad.write_text('[{"sample_id": "x", "conversation": {"session_1": [{}], "session_1_date_time": "29.12.2023, 22:42:04"}}]')
    with pytest.raises(InvalidInput, match="conversation x is malformed"):
        locomo.load(bad)


def test_madial(tmp_path: Path) -> None:
    mem = tmp_path / "mem.jsonl"
    mem.write_text("\n".join(json.dumps(x) for x in [
        {"1": {"time": "2023-12-25", "event": "Bart danced at the Christmas party and felt very happy."}},
        {"2": {"time": "2023-03-07", "event": "Bart won the 100 meters race at school."}},
        {"3": {"time": "2023-05-15", "event": "Bart tried mango ice cream at a new shop."}}]))
    dia = tmp_path / "dia.jsonl"
    dia.write_text(json.dumps({"dialogue": ["<BOD>\n", '<Bart>: "I will dance at the party tonight!"\n',
                                            '<Assistant>: "Remember the Christmas party?"\n', "<EOD>\n"],
                               "test-turn": [2], "relevant-id": [1, 99], "user-id": 1}))
    report = madial.run(dia, mem, [1, 3], embedder=HashingEmbedder())
    assert report["dialogues"] == 1 and report["memories"] == 3
    assert report["macro"]["recall@1"] == 1.0
    assert set(report["baselines"]) == {"bm25", "dense"}


def test_scale_small() -> None:
    report = scale.run(600, queries=5, embedder=HashingEmbedder(64))
    assert report["n"] == 600 and report["recall_loss_vs_exact"] <= 0.05
    for key in ("vector_search_ms", "recall_ms", "remember_ms", "sqlite_vec_bit_knn_ms"):
        assert set(report[key]) == {"p50", "p95"}
    assert report["database_mb"] > 0


def _diary_conversation(sample_id: str, seed: int) -> dict:
    """A made-up chat: facts (later asked about) interleaved with small talk."""
    import random

    rng = random.Random(seed)
    facts = ["I adopted a greyhound called {x} in May", "My sister {x} moved to Porto last year",
             "I started cello lessons with Mrs {x} on Monday", "We booked a trip to Kyoto with {x} for October",
             "I ran a 10k charity race for {x} hospital on Saturday", "My new job at {x} starts on 3 June"]
    chatter = ["wow, that's great! so happy for you", "haha thanks, that means a lot to me",
               "How was your week? anything fun?", "Totally agree, nature is so relaxing",
               "That's so cool, congrats! you deserve it", "Yeah, really nice, love that for you"]
    names = ["Pixel", "Ana", "Okafor", "Lena", "Clare", "Hendry"]
    turns, qa = [], []
    for i in range(24):
        dia = f"D{1 + i // 8}:{1 + i % 8}"
        if i % 2 == 0:
            name = rng.choice(names)
            text = facts[(i // 2) % len(facts)].format(x=name)
            qa.append({"question": f"What about {text.split()[2]}?", "evidence": [dia], "category": 4, "answer": name})
        else:
            text = rng.choice(chatter)
        turns.append({"speaker": "Ana" if i % 2 == 0 else "Ben", "dia_id": dia, "text": text})
    conv = {"speaker_a": "Ana", "speaker_b": "Ben"}
    for s in range(3):
        conv[f"session_{s + 1}_date_time"] = f"10:00 am on {s + 1} May, 2023"
        conv[f"session_{s + 1}"] = turns[8 * s: 8 * s + 8]
    return {"sample_id": sample_id, "conversation": conv, "qa": qa}


def test_retention_bench_fit_cross_validation_and_ablation(tmp_path: Path) -> None:
    from cairn.core.bench import retention

    path = tmp_path / "chats.json"
    path.write_text(json.dumps([_diary_conversation("a", 1), _diary_conversation("b", 2)]))
    model = retention.fit_weights(path, embedder=HashingEmbedder())
    assert model.meta["fitted_on"] == ["a", "b"] and 20 <= model.meta["positives"] <= 24  # repeats merge
    report = retention.run(path, 0.5, embedder=HashingEmbedder(), cross_validate=True, ablate=True)
    assert report["turns"] == 48 and report["evidence_turns"] == 24 and report["cross_validated"]
    assert report["baselines"]["recency"] == 0.5  # facts are every other turn
    assert report["evidence_kept"] >= 0.9  # facts vs small talk: importance must tell them apart
    assert report["answer_words@10_after_sweep"] >= 0.9  # the kept facts hold the answers' names
    tight = retention.run(path, 0.1, embedder=HashingEmbedder())
    assert tight["answer_words@10_after_sweep"] < report["answer_words@10_after_sweep"]  # 4 of 12 facts stay
    assert report["ablation"]["all_parts"] >= 0.9 and "without_novelty" in report["ablation"]
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        retention.run(path, 1.5, embedder=HashingEmbedder())


def test_rerank_bench_scores_the_held_out_rankers_best_and_chooses_its_weight_elsewhere(tmp_path: Path) -> None:
    from cairn.core.bench import rerank
    from cairn.models import tiny_gguf

    path = tmp_path / "chats.json"
    path.write_text(json.dumps([_diary_conversation(name, seed) for seed, name in enumerate("abc", start=1)]))
    model = tiny_gguf.write(tmp_path / "tiny.gguf")
    settings = replace(Settings(), llm=replace(Settings().llm, n_ctx=512))
    record = tmp_path / "scores.jsonl"
    report = rerank.run(path, None, [1, 5], model, depth=6, every=3, embedder=HashingEmbedder(), settings=settings,
                        record=record)
    assert report["questions"] == {"a": 4, "b": 4, "c": 4} and report["depth"] == 6
    assert set(report["weights_chosen"]) == {"a", "b", "c"}
    assert all(w in rerank.WEIGHTS for w in report["weights_chosen"].values())
    part = report["locomo"]
    assert part["by_weight"]["0.0"] == part["ranker_held_out"]  # no weight: exactly the ranker's order
    assert set(part["reranked_held_out"]) >= {"recall@1", "recall@5"} and report["ms_per_question"]["p50"] > 0
    assert set(part["by_depth"]) == {"5"} and len(part["by_depth"]["5"]["weights_chosen"]) == 3
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert len(lines) == 12 and all(len(x["values"]) == len(x["turns"]) == len(x["labels"]) == 6 for x in lines)
    assert all(label == bool(set(turns) & set(x["evidence"]))
               for x in lines for turns, label in zip(x["turns"], x["labels"], strict=True))
    assert all(x["values"][0] < 0 for x in lines)  # log-likelihoods of the question, one per candidate


def test_answer_bench_contract(tmp_path: Path) -> None:
    from cairn.core.bench import answer

    path = tmp_path / "conv.json"
    path.write_text(json.dumps([CONV]))
    report = answer.run(path, embedder=HashingEmbedder())
    assert report["questions"] == 5 and report["model"] is None and set(report["arms"]) == {"memory_only"}
    arm = report["arms"]["memory_only"]
    assert arm["declined_5"] == 1.0  # nobody ever mentioned Ben's cat: declined, nothing made up
    assert arm["per_category"]["4"]["evidence_shown"] == 1.0  # the greyhound -> the Pixel turn
    assert arm["per_category"]["2"]["f1"] > 0.5  # "When did Ben start pottery?" -> the resolved date
    assert arm["macro_1to4"]["unsupported_shown"] == 0.0


def test_ranker_bench_held_out_and_saved_weights(tmp_path: Path) -> None:
    from cairn.core.bench import ranking
    from cairn.core.memory.retrieval.ranker import Ranker

    path = tmp_path / "chats.json"
    path.write_text(json.dumps([_diary_conversation(name, seed) for seed, name in enumerate("abc", start=1)]))
    saved = tmp_path / "ranker.json"
    report = ranking.run(path, None, [1, 5], saved, embedder=HashingEmbedder())
    assert report["groups"] == {"a": 12, "b": 12, "c": 12}
    locomo_part = report["locomo"]
    assert set(locomo_part["learned_held_out"]) >= {"recall@1", "recall@5"} and "recall@5" in locomo_part["fixed"]
    # the fact turns hold every answer: weights fitted on two chats must find them in the third
    assert locomo_part["learned_held_out"]["recall@5"] >= 0.5
    ranker = Ranker.load(saved)
    assert ranker.model.meta["fitted_on"] == ["a", "b", "c"] and ranker.model.meta["embedder"] == HashingEmbedder().id
    assert report["saved"]["weights"].keys() == set(ranker.model.features)
