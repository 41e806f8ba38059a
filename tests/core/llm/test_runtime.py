"""The runtime on real llama.cpp with a synthesized model: loading, tokens, KV edits, surprisal."""

import logging
from pathlib import Path

import numpy as np
import pytest

from cairn.core.errors import ContextFullError, ModelLoadError
from cairn.core.llm.options import LoadOptions
from cairn.core.llm.runtime import CONVERSATION, SCRATCH, Runtime, Sampler
from cairn.core.llm.sampling import Sampling
from cairn.core.llm.session import Session


def test_tokens_round_trip_and_metadata(runtime: Runtime) -> None:
    text = "My sister Ana lives in Lisbon, and the café opens at 7:30!"
    assert runtime.detokenize(runtime.tokenize(text, special=False)) == text
    assert runtime.tokenize("<|im_start|>", special=True) == [runtime.n_vocab - 2]
    assert "<|im_start|>" in (runtime.metadata("tokenizer.chat_template") or "")
    assert runtime.special_text("eos") == "<|im_end|>" and runtime.is_end(runtime.n_vocab - 1)
    assert runtime.metadata("no.such.key") is None


def test_missing_non_gguf_and_truncated_files(tmp_path: Path, tiny_model: Path) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        Runtime(tmp_path / "nope.gguf")
    (tmp_path / "text.gguf").write_text("hello, I am not a model")
    with pytest.raises(ModelLoadError, match="not a GGUF"):
        Runtime(tmp_path / "text.gguf")
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(tiny_model.read_bytes()[: tiny_model.stat().st_size // 2])
    with pytest.raises(ModelLoadError, match="truncated|damaged"):
        Runtime(cut)
    with pytest.raises(ModelLoadError, match="KV cache type"):
        Runtime(tiny_model, LoadOptions(kv_type="q3_x"))


def test_llama_logs_go_to_logging_not_stderr(tiny_model: Path, caplog: pytest.LogCaptureFixture,
                                             capfd: pytest.CaptureFixture[str]) -> None:
    with caplog.at_level(logging.DEBUG, logger="cairn.llm"):
        with Runtime(tiny_model, LoadOptions(n_ctx=128)):
            pass
    assert any("llama_model_loader" in r.getMessage() for r in caplog.records)
    assert "llama_model_loader" not in capfd.readouterr().err


def test_an_edit_matches_a_from_scratch_evaluation(runtime: Runtime) -> None:
    session = Session(runtime)
    a = runtime.tokenize("<|im_start|>user\nmy sister lives in Lisbon and loves the sea<|im_end|>\n")
    b = a[:9] + runtime.tokenize(" and Porto, she says<|im_end|>\n")
    session.sync(a)
    edited = session.sync(b)
    session.check()
    assert session.tokens == b
    runtime.kv_clear(CONVERSATION)
    scratch = runtime.decode(b, 0, logits="last")[-1]
    assert np.allclose(edited, scratch, atol=1e-5)


def test_incremental_turns_evaluate_only_new_tokens(runtime: Runtime) -> None:
    session = Session(runtime)
    first = runtime.tokenize("<|im_start|>user\nhello<|im_end|>\n")
    session.sync(first)
    more = first + runtime.tokenize("<|im_start|>user\nagain<|im_end|>\n")
    before = runtime.kv_pos_max(CONVERSATION)
    session.sync(more)
    assert before + 1 == len(first) and runtime.kv_pos_max(CONVERSATION) + 1 == len(more)


def test_a_prompt_longer_than_the_context_is_a_clear_error(runtime: Runtime) -> None:
    session = Session(runtime)
    with pytest.raises(ContextFullError, match="longer than the context window"):
        session.sync(runtime.tokenize("word " * 400, special=False))
    with pytest.raises(ContextFullError):
        runtime.decode([1] * 300, 0)


def test_token_surprisal_uses_scratch_space_only(runtime: Runtime) -> None:
    session = Session(runtime)
    session.sync(runtime.tokenize("<|im_start|>user\nhello<|im_end|>\n"))
    held = runtime.kv_pos_max(CONVERSATION)
    bits = runtime.token_surprisal("my sister lives in Lisbon")
    assert len(bits) == len(runtime.tokenize("my sister lives in Lisbon", special=False))
    assert all(b > 0 for _, b in bits) and "".join(p for p, _ in bits) == "my sister lives in Lisbon"
    assert runtime.kv_pos_max(CONVERSATION) == held and runtime.kv_pos_max(SCRATCH) == -1


def sample_after(runtime: Runtime, prompt: str, sampling: Sampling, n: int) -> str:
    """Up to ``n`` tokens sampled after ``prompt`` through a session (stops at end of turn)."""
    session = Session(runtime)
    session.sync(runtime.tokenize(prompt))
    out: list[int] = []
    with Sampler(runtime, sampling) as sampler:
        for _ in range(n):
            token = sampler.sample()
            if runtime.is_end(token):
                break
            out.append(token)
            session.extend([token])
    return runtime.detokenize(out)


def test_grammar_constrains_output(runtime: Runtime) -> None:
    text = sample_after(runtime, "<|im_start|>user\nyes or no?<|im_end|>\n<|im_start|>assistant\n",
                        Sampling(temperature=1.0, seed=3, grammar='root ::= "yes" | "no"'), 3)
    assert text in ("yes", "no")
    with pytest.raises(ModelLoadError, match="grammar"):
        Sampler(runtime, Sampling(grammar="root ::= ("))


def test_json_grammar_gives_parseable_json(runtime: Runtime) -> None:
    import json

    from cairn.core.llm.sampling import JSON_GRAMMAR

    text = sample_after(runtime, "<|im_start|>user\nfacts as JSON<|im_end|>\n<|im_start|>assistant\n",
                        Sampling(temperature=0.0, grammar=JSON_GRAMMAR), 40)
    try:
        json.loads(text)
    except json.JSONDecodeError:
        # 40 tokens may stop mid-value; the prefix must still be valid JSON so far
        assert text.lstrip()[:1] in "{[\"-0123456789tfn", text
