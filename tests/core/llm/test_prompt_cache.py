"""The on-disk cache of a fixed prompt beginning, on real llama.cpp with a tiny model."""

from pathlib import Path

from cairn.core.llm import prompt_cache
from cairn.core.llm.runtime import CONVERSATION, SCRATCH, Runtime
from cairn.core.llm.sampling import Sampling

GREEDY = Sampling(temperature=0.0)


def test_a_cached_beginning_gives_the_same_reply_and_is_loaded_next_time(runtime: Runtime, tmp_path: Path) -> None:
    head = runtime.tokenize("You answer from notes. Example: the sea is blue.", special=False)
    prompt = head + runtime.tokenize(" Question: what colour is the sea?", special=False)
    plain = runtime.generate(prompt, GREEDY, 12)
    assert prompt_cache.warm(runtime, head, tmp_path) == len(head)
    saved = list(tmp_path.glob("*.kv"))
    assert len(saved) == 1 and saved[0].stat().st_mode & 0o777 == 0o600
    assert runtime.generate(prompt, GREEDY, 12, cached=len(head)).text == plain.text
    assert prompt_cache.warm(runtime, head, tmp_path) == len(head)  # loaded, not re-evaluated
    assert runtime.kv_pos_max(SCRATCH) + 1 == len(head)
    assert runtime.generate(prompt, GREEDY, 12, cached=len(head)).text == plain.text


def test_a_damaged_cache_file_is_rebuilt_and_a_busy_conversation_skips_caching(runtime: Runtime,
                                                                               tmp_path: Path) -> None:
    head = runtime.tokenize("A fixed beginning of some length.", special=False)
    (tmp_path / f"{prompt_cache.key(runtime, head)}.kv").write_bytes(b"not a llama.cpp state")
    assert prompt_cache.warm(runtime, head, tmp_path) == len(head)
    assert runtime.kv_pos_max(SCRATCH) + 1 == len(head)
    assert (tmp_path / f"{prompt_cache.key(runtime, head)}.kv").stat().st_size > 100
    runtime.decode(runtime.tokenize("a conversation", special=False), 0, CONVERSATION, logits="none")
    assert prompt_cache.warm(runtime, head, tmp_path) == 0
    assert prompt_cache.warm(runtime, head, None) == 0
