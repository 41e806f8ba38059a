"""The assistant turn on real parts: a real bank, the shipped gate, and (when given) real llama.cpp."""

from dataclasses import replace
from pathlib import Path

from cairn.core import assistant as assistant_mod
from cairn.core import grounding
from cairn.core.assistant import NOTHING, Assistant
from cairn.core.clock import ManualClock
from cairn.core.config import AssistantSettings, Settings
from cairn.core.llm import kv
from cairn.core.llm.chat import Chat
from cairn.core.llm.loader import ModelChoice
from cairn.core.llm.options import LoadOptions
from cairn.core.llm.runtime import Runtime
from cairn.core.llm.sampling import Sampling
from cairn.core.llm.session import Session
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.gate.decision import Gate
from cairn.core.paths import resolve
from cairn.models import tiny_gguf

GREEDY = ModelChoice(Sampling(temperature=0.0), 24, "phrased", llm_vote=False, extract_facts=False)


def test_memory_only_mode_quotes_the_right_memories(bank: MemoryBank) -> None:
    a = Assistant(bank, Gate.load())
    noted = a.ask("My sister Ana moved to Porto last March.")
    assert noted.text.startswith("Noted (memory #") and noted.stored and noted.kind == "statement"
    a.ask("I am allergic to penicillin.")
    a.new_conversation()
    answer = a.ask("What am I allergic to?")
    assert answer.mode == "memory-only" and answer.decision.retrieve and answer.kind == "extractive"
    assert [h.memory.text for h in answer.used][:1] == ["I am allergic to penicillin."]
    assert "penicillin" in answer.text and "said by user" in answer.quotes[0] and answer.stored == []
    assert answer.cited == [answer.used[0].memory.id]
    assert a.ask("What is my favourite film?").text == NOTHING
    world = a.ask("In what city was Aarno Maliniemi born?")
    assert not world.decision.retrieve and world.used == [] and world.kind == "no-model"
    assert "penicillin" in a.why(answer.used[0].memory.id) and "add" in a.why(answer.used[0].memory.id)


def test_only_the_memories_shown_are_reinforced(bank: MemoryBank, clock: ManualClock) -> None:
    kept = bank.remember("I am allergic to penicillin.")
    others = [bank.remember(t) for t in ("The car needs new tyres.", "Lena likes jazz.", "The wifi is slow.")]
    a = Assistant(bank, Gate.load(), settings=AssistantSettings(k=4, min_cosine=0.35))
    answer = a.ask("What am I allergic to?")
    assert [h.memory.id for h in answer.used] == [kept.id]
    assert bank.get(kept.id).recall_count == 1
    assert [bank.get(m.id).recall_count for m in others] == [0, 0, 0]  # recalled, below the floor, not shown


def test_a_question_about_someone_no_memory_is_about_is_declined(bank: MemoryBank) -> None:
    a = Assistant(bank, Gate.load())
    bank.remember("I painted a sunrise over the lake last weekend.", source=_said("Ana"))
    bank.remember("I went running by the river yesterday.", source=_said("Melanie"))
    answer = a.ask("What did Melanie paint last weekend?")
    assert answer.kind == "declined" and "Melanie" in answer.text and answer.cited == []
    assert a.ask("What did Ana paint last weekend?").kind == "extractive"


def _said(who: str):  # type: ignore[no-untyped-def]
    from cairn.core.memory.storage.records import Source

    return Source("conversation", "c1", ("D1:1",), 1_700_000_000.0, who)


def test_a_random_models_answers_never_reach_the_user_unchecked(isolated_home: Path, tmp_path: Path) -> None:
    """Random weights phrase nonsense: the check replaces every unsupported or empty answer with the
    memory's own sentence, and general questions still go to the model without memory."""
    model = tiny_gguf.write(tmp_path / "tiny.gguf")
    with MemoryBank.open(isolated_home / "m.db", Settings(), clock=ManualClock(1.7e9)) as bank, \
            Runtime(model, LoadOptions(n_ctx=512, n_batch=64)) as rt:
        chat = Chat(rt, Session(rt, kv.Eviction("sink_window")), system="You are Cairn.")
        a = Assistant(bank, Gate.load(), chat, choice=GREEDY)
        fact = a.ask("I keep the spare house key under the blue flowerpot.").stored[0]
        a.new_conversation()
        answer = a.ask("Where do I keep my spare house key?")
        assert answer.mode == "llm" and answer.cited == [fact.id] and answer.kind in ("phrased", "extractive")
        assert grounding.unsupported(answer.text, [fact], "Where do I keep my spare house key?") == []
        assert answer.kind == "phrased" or answer.note.startswith("The model's answer")
        assert rt.kv_pos_max(0) == -1  # phrasing ran on the scratch sequence: the chat cache is untouched
        skipped = a.ask("Write a haiku about the sea")
        assert not skipped.decision.retrieve and skipped.used == [] and skipped.kind == "general"
        for i in range(16):  # past the context window: evicted spans become candidate memories
            a.ask(f"Write a haiku about the sea and {i} boats")
        assert chat.session.stats.events > 0
        assert any((m.source.ref or "").endswith("#evicted") for m in bank.list("all"))


def test_facts_are_kept_only_when_the_turn_supports_them(isolated_home: Path, tmp_path: Path) -> None:
    model = tiny_gguf.write(tmp_path / "tiny.gguf")
    with MemoryBank.open(isolated_home / "f.db", Settings(), clock=ManualClock(1.7e9)) as bank, \
            Runtime(model, LoadOptions(n_ctx=1024, n_batch=128)) as rt:
        a = Assistant(bank, Gate.load(), Chat(rt, Session(rt)), choice=replace(GREEDY, extract_facts=True))
        text = "My sister Ana moved to Porto in March 2024."
        stored = a.ask(text).stored
        facts = [m for m in stored if m.kind == "fact"]
        assert stored[0].kind == "conversation" and stored[0].source.turns == ("T1",)
        for fact in facts:  # a random model's facts are noise: only those the turn supports survive
            assert fact.source.turns == ("T1",) and grounding.supported_by(fact.text, text)
        p = rt.choice(rt.tokenize("<|im_start|>user\nhi<|im_end|>\n"), ["<RET>", "NO"])
        assert len(p) == 2 and abs(sum(p) - 1) < 1e-9 and rt.kv_pos_max(1) == -1
        assert isinstance(a.llm_vote("Where does my sister live?"), float)
    assert grounding.supported_by("Ana moved to Porto.", text)
    assert not grounding.supported_by("Ana is a renowned cellist in Lisbon.", text)


def test_memory_only_answers_locomo_style_questions_with_turns_and_dates(isolated_home: Path) -> None:
    import json

    from cairn.core.bench import locomo
    from tests.core.bench.test_bench import CONV

    path = isolated_home / "conv.json"
    path.write_text(json.dumps([CONV]))
    conv = locomo.load(path)[0]
    clock = ManualClock()
    with MemoryBank.open(isolated_home / "l.db", Settings(), clock=clock) as bank:
        locomo.ingest(bank, clock, conv)
        a = Assistant(bank, Gate.load())
        answer = a.ask("What is the name of the greyhound Ana adopted?")
        assert answer.decision.retrieve and answer.used[0].memory.source.turns == ("D1:1",)
        assert "Pixel" in answer.text and "2023-05-08" in answer.quotes[0] and "turn D1:1" in answer.quotes[0]


def test_why_do_you_know_that_shows_the_provenance_trail(bank: MemoryBank) -> None:
    a = Assistant(bank, Gate.load())
    a.ask("I am allergic to penicillin.")
    asked = a.ask("What am I allergic to?")
    trail = a.ask("Why do you know that?")
    assert trail.mode == "provenance" and [h.memory.id for h in trail.used] == asked.cited
    assert "penicillin" in trail.text and "said by user" in trail.text and "add" in trail.text


def test_open_assembles_from_settings_and_loads_the_model_only_when_needed(isolated_home: Path,
                                                                            tmp_path: Path) -> None:
    paths = resolve()
    with assistant_mod.open(replace(Settings(), llm=replace(Settings().llm, model="none")), paths) as a:
        assert not a.has_model and "llm.model = none" in a.no_model_reason
        a.ask("I am allergic to penicillin.")
        assert a.ask("Write a haiku about rain").note.startswith("Memory-only mode: the settings say")
    model = tiny_gguf.write(tmp_path / "tiny.gguf")
    settings = replace(Settings(), llm=replace(Settings().llm, model=str(model), n_ctx=512))
    with assistant_mod.open(settings, paths) as a:
        assert a.has_model and a.model_name == "tiny.gguf" and a.chat is not None
    with assistant_mod.open(settings, paths) as a:
        a.ask("I started the cello two weeks ago.")
        when = a.ask("When did I start the cello?")
        assert when.kind == "extractive" and a._slot is not None and a._slot.loaded is None  # no model needed
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    with assistant_mod.open(replace(settings, llm=replace(settings.llm, model=str(broken))), paths) as a:
        answer = a.ask("Write a haiku about rain")
        assert answer.mode == "memory-only" and "did not load" in answer.note


def test_the_model_reorders_recall_only_when_asked_and_never_loads_for_it_alone(isolated_home: Path,
                                                                               tmp_path: Path) -> None:
    model = tiny_gguf.write(tmp_path / "tiny.gguf")
    base = replace(Settings(), llm=replace(Settings().llm, model=str(model), n_ctx=1024))
    facts = ["I keep the spare house key under the blue flowerpot.", "My sister Ana moved to Porto last March.",
             "I started the cello two weeks ago."]
    for mode in ("off", "on"):
        settings = replace(base, assistant=replace(base.assistant, rerank=mode, min_cosine=-1.0))
        with assistant_mod.open(settings, resolve()) as a:
            for text in facts if mode == "off" else []:  # one bank for both runs
                a.ask(text)
            a.new_conversation()
            when = a.ask("When did I start the cello?")  # a date answer: the model stays unloaded
            assert when.kind == "extractive" and a._slot is not None and a._slot.loaded is None
            assert all("likelihood" not in h.signals for h in when.used)
            answer = a.ask("Where do I keep my spare house key?")
            scored = ["likelihood" in h.signals for h in answer.used]
            assert len(answer.used) >= 2 and all(scored) == (mode == "on") and any(scored) == (mode == "on")
