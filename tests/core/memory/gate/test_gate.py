"""The retrieval gate against real banks (hashing and real MiniLM): signals, decisions, state, the
LLM's vote, one embedding per turn, fitting, and the per-source bench."""

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from cairn.core.bench import gate as gate_bench
from cairn.core.bench import personas
from cairn.core.clock import ManualClock
from cairn.core.config import Settings
from cairn.core.errors import InvalidInput
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.gate import fit as gate_fit
from cairn.core.memory.gate.decision import FEATURES, Gate, State, signals
from cairn.core.memory.gate.signals import Context
from cairn.core.memory.retrieval.embed import Embedder, HashingEmbedder, Wrapped, make_embedder
from cairn.core.memory.storage.records import Source
from tests.core.bench.test_bench import CONV

DIARY = [  # a person's own notes, as `cairn remember` stores them (speaker "user")
    "My sister Ana moved to Lisbon last spring and works at a bakery near the river.",
    "Our cat Biscuit needs kidney medication twice a day, half a tablet with food.",
    "My manager Priya asked for the quarterly report by Friday.",
    "Cello lesson with Mrs. Okafor every Tuesday at six; she wants me to practise scales.",
    "Booked the apartment in Sopot: parking space number 17, check-in after 3 pm.",
]


@pytest.fixture
def diary_bank(isolated_home: Path) -> MemoryBank:
    clock = ManualClock(1_700_000_000.0)
    b = MemoryBank.open(isolated_home / "diary.db", Settings(), clock=clock, models_dir=isolated_home / "models")
    for text in DIARY:
        clock.advance(86_400)
        b.remember(text, source=Source("manual", speaker="user"))
    yield b
    b.close()


@pytest.fixture
def chat_bank(bank: MemoryBank) -> MemoryBank:
    bank.remember("I adopted a greyhound called Pixel", source=Source("conversation", "c", speaker="Ana"))
    bank.remember("My pottery teacher praised my vase", source=Source("conversation", "c", speaker="Ben"))
    return bank


def test_signals_see_the_bank_and_the_form(chat_bank: MemoryBank) -> None:
    probe = chat_bank.probe()
    s = signals("What did Ana name her greyhound?", probe)
    assert set(s) == set(FEATURES) and s["speaker_named"] == 1.0 and s["bank_support"] > 0
    assert s["keyword_cover"] > 0 and math.isnan(s["similarity"])  # no embedder named: no evidence, not zero
    w = signals("In what city was Aarno Maliniemi born?", probe)
    assert w["names_unknown"] > 0 and w["speaker_named"] == 0 and w["keyword_cover"] == 0
    assert signals("Write a haiku about rain", probe)["task_request"] == 1.0
    assert signals("What is 17 * 23?", probe)["arithmetic"] == 1.0
    assert signals("hello!", probe)["greeting"] == 1.0
    assert signals("when was the first field night", probe)["greeting"] == 0.0
    assert signals("When is my dentist appointment?", probe)["first_person"] == 1.0
    assert signals("how do I bleed car brakes?", probe)["how_to"] == 1.0
    assert signals("and the vase?", probe, Context(previous_used_memory=True))["elliptic_after_memory"] == 1.0


def test_a_misspelt_word_counts_as_the_word_the_bank_holds(diary_bank: MemoryBank) -> None:
    probe = diary_bank.probe()
    typed = signals("sopot apartmnt parkng space?", probe)
    clean = signals("sopot apartment parking space?", probe)
    assert typed["bank_support"] == clean["bank_support"] == 1.0
    assert typed["keyword_cover"] == pytest.approx(clean["keyword_cover"])
    assert probe.near_spellings(["apartmnt", "zzzzzz"]) == {"apartmnt": ("apartment", 1)}


def test_a_persons_own_bank_goes_to_memory_and_the_world_does_not(diary_bank: MemoryBank) -> None:
    g = Gate.load()
    probe = diary_bank.probe()
    for question in ("Where does Ana work?", "What does Priya need by Friday?", "What medication does Biscuit need?",
                     "when is my cello lesson again?", "sopot parking space number"):
        d = g.decide(question, probe)
        assert d.retrieve, (question, d)
    for question in ("What is the capital of Portugal?", "How do I convert 12 km to miles?", "Write a haiku about rain",
                     "hello!", "Who wrote Don Quixote?"):
        d = g.decide(question, probe)
        assert not d.retrieve, (question, d)
    decision = g.decide("Where does Ana work?", probe).to_dict()
    assert json.loads(json.dumps(decision))["retrieve"] is True and decision["reason"]
    assert not math.isnan(decision["signals"]["form_score"])  # the real embedder: the form model is used


def test_without_the_fitted_embedder_the_gate_still_decides(chat_bank: MemoryBank) -> None:
    g = Gate.load()
    probe = chat_bank.probe()
    personal = g.decide("What did Ana name her greyhound?", probe)
    assert personal.retrieve and personal.to_dict()["signals"]["form_score"] is None
    for other in ("In what city was Aarno Maliniemi born?", "Write a haiku about rain", "hello!", "What is 17 * 23?"):
        assert not g.decide(other, probe).retrieve, other


def test_state_and_llm_vote_shift_the_decision(diary_bank: MemoryBank) -> None:
    g = Gate.load()
    probe = diary_bank.probe()
    q = "and the address?"
    alone = g.decide(q, probe).confidence
    assert g.decide(q, probe, State(previous_used_memory=True)).confidence > alone
    assert g.decide(q, probe, State(llm_ret=0.99)).confidence > alone > g.decide(q, probe, State(llm_ret=0.01)).confidence


class CountingEmbedder(Wrapped):
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        super().__init__(inner)
        self.texts = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += len(texts)
        return self.inner.embed(texts)


def test_one_embedding_per_turn_shared_by_the_gate_and_recall(isolated_home: Path) -> None:
    counting = CountingEmbedder(make_embedder(Settings(), isolated_home / "models"))
    with MemoryBank.open(isolated_home / "c.db", Settings(), embedder=counting) as b:
        for text in DIARY:
            b.remember(text)
        before = counting.texts
        assert Gate.load().decide("Where does Ana work?", b.probe()).retrieve
        assert "bakery" in b.recall("Where does Ana work?", k=1, touch=False)[0].memory.text
        assert counting.texts - before == 1


def _examples(n: int, group: str) -> list[gate_fit.Example]:
    rng = np.random.default_rng(len(group))
    out = []
    for i in range(n):
        label = i % 2 == 0
        values = {f: float(rng.normal()) for f in FEATURES} | {"first_person": float(label)}
        vector = rng.normal(size=8) + (1.0 if label else -1.0)
        out.append(gate_fit.Example(values, vector / np.linalg.norm(vector), label,
                                    "mine" if label else "world", group))
    return out


def test_fit_is_judged_out_of_group_and_its_threshold_comes_from_the_costs() -> None:
    examples = _examples(40, "a") + _examples(40, "b") + _examples(40, "c")
    costs = gate_fit.Costs(wasted_s=1.0, missed_s=3.0)
    gate, probs = gate_fit.fit(examples, "test-embedder", costs)
    assert gate.threshold == 0.25 and gate.model.meta["threshold"] == 0.25 and gate.form is not None
    assert len(probs) == len(examples) and gate.model.meta["out_of_group_accuracy"] > 0.9
    with pytest.raises(InvalidInput, match="at least two banks"):
        gate_fit.fit_once(_examples(20, "a"), "test-embedder")


def test_gate_bench_reports_each_source_and_fits(tmp_path: Path) -> None:
    personal = tmp_path / "locomo.json"
    personal.write_text(json.dumps([CONV]))
    world = tmp_path / "popqa.json"
    world.write_text(json.dumps({str(i): {"question": f"In what city was Person Number{i} born?"} for i in range(12)}))
    report = gate_bench.run(personal, world, embedder=HashingEmbedder())
    sets = report["sets"]
    assert {"source:locomo", "source:popqa", "source:chitchat", "source:persona_personal", "source:persona_world",
            "source:persona_chitchat", "source:persona_follow_ups", "locomo_vs_popqa", "all_personas"} <= set(sets)
    assert {f"persona:{p.id}" for p in personas.load()} <= set(sets)
    assert report["baselines"]["always"]["skip_rate"] == 0.0 and report["baselines"]["never"]["skip_rate"] == 1.0
    assert report["macro"]["accuracy"] > report["baselines"]["always"]["accuracy"]
    assert report["latency_ms"]["p95"] < 50 and report["threshold"] == Gate.load().threshold
    cv = gate_bench.run(None, None, cross_validate=True, embedder=HashingEmbedder())
    assert cv["cross_validated"] and cv["sets"]["all_personas"]["n"] == sum(len(p.items) for p in personas.load())
    fitted = gate_bench.fit_gate(personal, world, embedder=HashingEmbedder())
    assert fitted.model.meta["embedder"] == HashingEmbedder().id and 0 < fitted.threshold < 1
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(InvalidInput, match="PopQA-format"):
        gate_bench.run(personal, tmp_path / "bad.json", embedder=HashingEmbedder())
    with pytest.raises(InvalidInput, match="not a persona file"):
        gate_bench.run(None, None, tmp_path / "bad.json", embedder=HashingEmbedder())
