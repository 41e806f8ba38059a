"""The retrieval gate against a real bank: signals, decisions, state, the LLM's vote, the bench."""

import json
from pathlib import Path

import pytest

from cairn.core.bench import gate as gate_bench
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.embed import HashingEmbedder
from cairn.core.memory.gate import FEATURES, Gate, State, signals
from cairn.core.memory.logistic import LogisticModel
from cairn.core.memory.records import Source
from tests.core.bench.test_bench import CONV


@pytest.fixture
def chat_bank(bank: MemoryBank) -> MemoryBank:
    bank.remember("I adopted a greyhound called Pixel", source=Source("conversation", "c", speaker="Ana"))
    bank.remember("My pottery teacher praised my vase", source=Source("conversation", "c", speaker="Ben"))
    return bank


def test_signals_see_speakers_names_and_forms(chat_bank: MemoryBank) -> None:
    probe = chat_bank.probe()
    s = signals("What did Ana name her greyhound?", probe)
    assert set(s) == set(FEATURES) and s["known_speaker"] > 0 and s["bank_support"] > 0
    w = signals("In what city was Aarno Maliniemi born?", probe)
    assert w["unknown_names"] > 0 and w["known_speaker"] == 0
    assert signals("Write a haiku about rain", probe)["task_request"] == 1.0
    assert signals("What is 17 * 23?", probe)["arithmetic"] == 1.0
    assert signals("hello!", probe)["greeting"] == 1.0
    assert signals("When is my dentist appointment?", probe)["first_person"] == 1.0


def test_shipped_gate_decides_and_explains(chat_bank: MemoryBank) -> None:
    g = Gate.load()
    probe = chat_bank.probe()
    personal = g.decide("What did Ana name her greyhound?", probe)
    assert personal.retrieve and personal.confidence > 0.5 and "known_speaker" in personal.reason
    for other in ("In what city was Aarno Maliniemi born?", "Write a haiku about rain", "hello!", "What is 17 * 23?"):
        d = g.decide(other, probe)
        assert not d.retrieve, (other, d)
    assert json.loads(json.dumps(g.decide("hello", probe).to_dict()))["retrieve"] is False


def test_state_and_llm_vote_shift_the_decision(chat_bank: MemoryBank) -> None:
    g = Gate.load()
    probe = chat_bank.probe()
    q = "and what about the vase?"
    alone = g.decide(q, probe).confidence
    assert g.decide(q, probe, State(previous_used_memory=True)).confidence > alone
    assert g.decide(q, probe, State(llm_ret=0.99)).confidence > alone > g.decide(q, probe, State(llm_ret=0.01)).confidence


def test_gate_bench_contract_and_fit(tmp_path: Path) -> None:
    personal = tmp_path / "locomo.json"
    personal.write_text(json.dumps([CONV]))
    world = tmp_path / "popqa.json"
    world.write_text(json.dumps({str(i): {"question": f"In what city was Person Number{i} born?"} for i in range(12)}))
    report = gate_bench.run(personal, world, embedder=HashingEmbedder())
    assert set(report) >= {"accuracy", "retrieve_precision", "retrieve_recall", "skip_rate", "latency_ms", "baselines"}
    assert set(report["baselines"]) == {"always", "never"} and report["baselines"]["always"]["skip_rate"] == 0.0
    assert report["accuracy"] >= 0.9 and report["latency_ms"]["p95"] < 2.0
    model = gate_bench.fit_gate(personal, world, embedder=HashingEmbedder())
    assert isinstance(model, LogisticModel) and model.features == FEATURES
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(Exception, match="PopQA-format"):
        gate_bench.run(personal, tmp_path / "bad.json", embedder=HashingEmbedder())
