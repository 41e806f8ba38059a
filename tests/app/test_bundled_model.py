"""End to end with the real bundled model (SmolLM2-135M-Instruct) and the real MiniLM embedder:
a two-session conversation through the assembled assistant, `cairn chat` and `cairn ask --json`."""

import json

from cairn.core import assistant as assistant_mod
from cairn.core import grounding
from cairn.core.config import Settings
from cairn.core.llm import catalog
from cairn.core.paths import resolve

SESSION_ONE = ["I'm allergic to penicillin - it gave me hives when I was twelve.",
               "My brother Tomas lives in Porto and his birthday is on the 14th of April.",
               "Booked a trip to Kyoto with Lena for the first two weeks of October."]


def test_bundled_model_is_installed_and_listed(cairn) -> None:  # type: ignore[no-untyped-def]
    assert catalog.bundled_file() is not None, catalog.bundled_spec().install_hint
    r = cairn("models", "list")
    assert r.code == 0 and catalog.bundled_spec().id in r.out and "bundled" in r.out


def test_two_sessions_answer_from_memory_with_proof(isolated_home) -> None:  # type: ignore[no-untyped-def]
    with assistant_mod.open(Settings(), resolve()) as a:
        stored = [a.ask(text).stored[0] for text in SESSION_ONE]
        a.new_conversation()
        for question, memory in (("What am I allergic to?", stored[0]), ("Who am I going to Kyoto with?", stored[2]),
                                 ("When is my brother's birthday?", stored[1])):
            answer = a.ask(question)
            assert answer.mode == "llm" and answer.cited == [memory.id], answer
            assert memory.id in [h.memory.id for h in answer.used] and f"[#{memory.id} " in answer.quotes[0]
            assert grounding.unsupported(answer.text, [h.memory for h in answer.used], question) == [], answer
            assert answer.kind in ("phrased", "extractive") and answer.finish != "length"
        why = a.ask("Why do you know that?")
        assert why.kind == "provenance" and "14th of April" in why.text and "said by user" in why.text
        general = a.ask("What is the capital of France?")
        assert not general.decision.retrieve and general.used == [] and general.kind == "general"
        assert general.text.strip() and "without your memories" in general.note


def test_cli_chat_and_ask_show_the_proof(cairn) -> None:  # type: ignore[no-untyped-def]
    script = SESSION_ONE[0] + "\n/new\nWhat am I allergic to?\n/quit\n"
    r = cairn("chat", input=script)
    assert r.code == 0 and "Memory-only" not in r.err, r.err
    assert "Noted (memory #1)." in r.out and "From your memories:\n  [#1 " in r.out and "penicillin" in r.out
    assert cairn("remember", SESSION_ONE[1]).code == 0
    answer = json.loads(cairn("ask", "When is my brother's birthday?", "--json").out)
    assert answer["kind"] == "extractive" and "14th of April" in answer["text"]
    assert answer["quotes"][0]["id"] == 2 and "Porto" in answer["quotes"][0]["line"]
    general = json.loads(cairn("ask", "Write one sentence about the sea.", "--json").out)
    assert general["gate"]["retrieve"] is False and general["used"] == [] and general["mode"] == "llm"
    assert general["text"].strip()


def test_the_cached_phrasing_prompt_answers_exactly_as_the_whole_prompt(isolated_home) -> None:  # type: ignore[no-untyped-def]
    from cairn.core.phrasing import Phraser

    with assistant_mod.open(Settings(), resolve()) as a:
        memory = a.ask(SESSION_ONE[1]).stored[0]
        chat = a.chat
        assert chat is not None
        plain = Phraser(chat.rt, chat.template).phrase("When is Tomas's birthday?", [memory])
        cache = isolated_home / "prompt-cache"
        for _ in range(2):  # evaluated and saved, then loaded
            cached = Phraser(chat.rt, chat.template, cache_dir=cache).phrase("When is Tomas's birthday?", [memory])
            assert cached.text == plain.text and cached.completion.finish == plain.completion.finish
        assert len(list(cache.glob("*.kv"))) == 1


def test_fact_extraction_bench_measures_the_grounding_bar(cairn, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.core.bench.test_bench import CONV

    path = tmp_path / "conv.json"
    path.write_text(json.dumps([CONV]))
    r = cairn("bench", "facts", str(path), "--limit", "2", "--json", timeout=300)
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["statements"] == 2 and report["grounding_bar"] == 0.9
    assert 0.0 <= report["share_grounded"] <= 1.0 and report["ms_per_turn"] > 0
    assert report["facts_kept_per_statement"] <= report["facts_offered_per_statement"]
    assert cairn("bench", "facts", str(path), "--model", "none").code == 2


def test_the_bundled_model_reordering_recall_still_cites_the_memory_that_answers(isolated_home) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    settings = Settings()
    settings = dataclasses.replace(settings, assistant=dataclasses.replace(settings.assistant, rerank="on"))
    with assistant_mod.open(settings, resolve()) as a:
        stored = [a.ask(text).stored[0] for text in SESSION_ONE]
        a.new_conversation()
        for question, memory in (("What am I allergic to?", stored[0]), ("Who am I going to Kyoto with?", stored[2])):
            answer = a.ask(question)
            assert answer.cited == [memory.id], answer
            assert answer.used and all("likelihood" in h.signals for h in answer.used)
