"""Chats on real llama.cpp: KV reuse across turns, eviction at 10x the context, per-turn context
removed from the cache, cancellation, stop sequences, snapshots."""

from pathlib import Path

import numpy as np
import pytest

from cairn.core.llm import kv, snapshot
from cairn.core.llm.chat import Chat
from cairn.core.llm.options import LoadOptions
from cairn.core.llm.runtime import CONVERSATION, Runtime
from cairn.core.llm.sampling import Sampling
from cairn.core.llm.session import Session
from cairn.core.memory.retention.importance import Context, ModelBackground, features

GREEDY = Sampling(temperature=0.0)


@pytest.mark.parametrize("policy", kv.POLICIES)
def test_ten_times_the_context_never_errors(runtime: Runtime, policy: str) -> None:
    evicted: list[str] = []
    session = Session(runtime, kv.Eviction(policy), on_evict=evicted.append)
    chat = Chat(runtime, session, system="You are Cairn, a private assistant.")
    system = list(session.tokens[: session.protected]) if session.tokens else None
    processed = 0
    for i in range(70):
        reply = chat.turn(f"Turn {i}: what do you remember about Lisbon?", max_tokens=16,
                          sampling=Sampling(temperature=0.9, seed=i))
        session.check()
        processed += reply.prompt_tokens + reply.tokens
        if system is None:
            system = list(session.tokens[: session.protected])
        assert session.tokens[: session.protected] == system  # the system prompt is never evicted
    assert processed > 10 * runtime.n_ctx
    assert session.stats.events > 5 and evicted and all(isinstance(t, str) for t in evicted)
    if policy == "entropy":
        assert len(session.stats.spans) > session.stats.events  # several spans per event


def test_turn_two_reuses_the_cache(runtime: Runtime) -> None:
    chat = Chat(runtime, Session(runtime), system="Be brief.")
    first = chat.turn("My sister Ana lives in Lisbon.", max_tokens=8, sampling=GREEDY)
    second = chat.turn("Where does she live?", max_tokens=8, sampling=GREEDY)
    whole = runtime.tokenize(chat.template.render(chat.messages[:-1], True))
    assert first.prompt_tokens > second.prompt_tokens and second.prompt_tokens < len(whole) // 2


def test_context_for_one_turn_leaves_the_cache(runtime: Runtime) -> None:
    session = Session(runtime)
    chat = Chat(runtime, session, system="Be brief.")
    chat.turn("hello", max_tokens=4, sampling=GREEDY)
    chat.turn("Where does Ana live?", context="[memory 12, 2024-05-08] Ana lives in Zanzibar", max_tokens=6,
              sampling=GREEDY)
    session.check()
    assert "Zanzibar" not in runtime.detokenize(session.tokens)
    third = chat.turn("thanks", max_tokens=4, sampling=GREEDY)
    whole = runtime.tokenize(chat.template.render(chat.messages[:-1], True))
    new = runtime.tokenize("<|im_end|>\n" + chat.template.render(chat.messages[-2:-1], True))
    assert third.prompt_tokens == len(new) < len(whole) // 2  # the history after the cut is the cached prefix


def test_cancellation_keeps_the_cache_consistent(runtime: Runtime) -> None:
    session = Session(runtime)
    chat = Chat(runtime, session)
    pieces: list[str] = []
    reply = chat.turn("Tell me a long story", max_tokens=50, sampling=Sampling(temperature=1.0, seed=1),
                      on_text=pieces.append, cancel=lambda: len(pieces) >= 3)
    assert reply.finish in ("cancelled", "stop") and reply.tokens <= 50
    session.check()
    again = chat.turn("go on", max_tokens=5, sampling=GREEDY)
    session.check()
    assert again.finish in ("length", "stop")


def test_stop_sequences_cut_the_reply_and_the_cache(tiny_model: Path) -> None:
    def run(stop: tuple[str, ...]) -> tuple[str, list[str], Session, Chat]:
        with Runtime(tiny_model, LoadOptions(n_ctx=256, n_batch=64)) as rt:
            session = Session(rt)
            chat = Chat(rt, session)
            streamed: list[str] = []
            reply = chat.turn("Say something", max_tokens=24, sampling=GREEDY, stop=stop, on_text=streamed.append)
            session.check()
            assert rt.detokenize(session.tokens).replace("\ufffd", "").endswith(reply.text)
            return reply.text, streamed, session, chat

    full, _, _, _ = run(())
    assert len(full) > 6
    stop = full[4:7]
    cut, streamed, _, _ = run((stop,))
    assert cut == full[: full.index(stop)] and "".join(streamed) == cut


def test_snapshot_restores_exactly_and_refuses_a_mismatch(tiny_model: Path, tmp_path: Path) -> None:
    path = tmp_path / "kv" / "chat-1.kv"
    with Runtime(tiny_model, LoadOptions(n_ctx=256, n_batch=64)) as rt:
        session = Session(rt)
        chat = Chat(rt, session, system="Be brief.")
        chat.turn("My sister Ana lives in Lisbon.", max_tokens=8, sampling=GREEDY)
        probe = rt.tokenize("<|im_start|>user\nand?", special=True)
        tokens = list(session.tokens)
        assert snapshot.save(session, path) > 1000
        original = session.sync(tokens + probe)
    with Runtime(tiny_model, LoadOptions(n_ctx=256, n_batch=64)) as rt:
        fresh = Session(rt)
        assert snapshot.restore(fresh, path).ok and fresh.tokens == tokens
        fresh.check()
        assert np.allclose(fresh.sync(tokens + probe), original, atol=1e-5)
    with Runtime(tiny_model, LoadOptions(n_ctx=512, n_batch=64)) as rt:
        other = Session(rt)
        result = snapshot.restore(other, path)
        assert not result.ok and "n_ctx" in result.reason and other.tokens == []
        assert rt.kv_pos_max(CONVERSATION) == -1
        path.write_bytes(path.read_bytes()[:40])
        assert not snapshot.restore(other, path).ok


def test_the_runtime_feeds_importance_scoring(runtime: Runtime) -> None:
    background = ModelBackground(runtime)
    assert background.id == "llm:tiny.gguf"
    parts = features("My sister Ana moved to Porto", Context(), background)
    assert parts["info_background"] > 0


def test_logprobs_of_generated_tokens(runtime: Runtime) -> None:
    chat = Chat(runtime, Session(runtime))
    reply = chat.turn("hi", max_tokens=6, sampling=GREEDY, logprobs=True)
    assert len(reply.logprobs) == reply.tokens + (1 if reply.finish == "stop" else 0)
    assert all(lp <= 0 for lp in reply.logprobs) and reply.first_token_s > 0


def test_snapshot_paths_live_under_the_data_dir(tmp_path: Path) -> None:
    p = snapshot.path_for(tmp_path, "chat with Ana / 2024")
    assert p.parent == tmp_path / "kv" and p.suffix == ".kv" and "/" not in p.name


def test_rewind_keeps_the_system_prompt_cached(runtime: Runtime) -> None:
    chat = Chat(runtime, Session(runtime), system="You are Cairn, a careful assistant.")
    first = chat.turn("hello there", sampling=Sampling(temperature=0.0), max_tokens=4)
    kept = chat.session.protected
    chat.rewind()
    assert len(chat.session) == kept and [m.role for m in chat.messages] == ["system"]
    again = chat.turn("hello there", sampling=Sampling(temperature=0.0), max_tokens=4)
    assert again.text == first.text and again.prompt_tokens == first.prompt_tokens - kept


def test_prefix_cache_evaluates_only_what_changed(runtime: Runtime) -> None:
    from cairn.core.llm.prefix import PrefixCache

    cache = PrefixCache(runtime)
    shared = runtime.tokenize("Notes: a long shared transcript of a conversation. " * 4, special=False)
    text_a, _, first = cache.generate(shared + runtime.tokenize(" Question one?", special=False), 4)
    prompt_b = shared + runtime.tokenize(" Question two?", special=False)
    text_b, _, second = cache.generate(prompt_b, 4)
    assert first == len(shared) + len(runtime.tokenize(" Question one?", special=False))
    assert second < first // 2 and runtime.kv_pos_max(0) == len(prompt_b) - 1  # the reply left the cache
    cold = PrefixCache(runtime)
    cold.clear()
    assert cold.generate(shared + runtime.tokenize(" Question two?", special=False), 4)[0] == text_b


def test_generate_stops_at_a_stop_string(runtime: Runtime) -> None:
    done = runtime.generate(runtime.tokenize("Once upon a time"), Sampling(temperature=0.0), 24, stop=("e",))
    assert "e" not in done.text and done.finish in ("stop_sequence", "stop", "length")
    assert done.prompt_tokens == len(runtime.tokenize("Once upon a time"))
