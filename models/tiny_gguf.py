"""Synthesize Llama-family GGUF models with random weights: tiny ones for tests, real shapes for
speed benchmarks (speed does not depend on weight values).

The tokenizer is a real byte-level BPE (GPT-2 style), trained here on a short built-in text, with
ChatML special tokens and a ChatML chat template in the metadata. Every token string is checked
for uniqueness before writing: llama.cpp aborts the whole process on a duplicate.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
CHATML = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
CORPUS = """The quick brown fox jumps over the lazy dog. My sister lives in Lisbon and works as a nurse.
I adopted a greyhound called Pixel last May. We booked a trip to Kyoto for October with friends.
What is the capital of France? Paris is the capital of France. Remember that my dentist is on Monday.
I like coffee with oat milk, and I do not eat red meat. The weather today is sunny and warm.
Hello! How are you? I am fine, thank you. Please write a short poem about the sea and the stars."""


@dataclass(frozen=True)
class Shape:
    """Model dimensions. ``vocab`` is the target vocabulary size (bytes + merges + fillers + specials)."""

    name: str
    vocab: int
    n_embd: int
    n_layer: int
    n_head: int
    n_head_kv: int
    n_ff: int
    n_ctx: int
    tied: bool = False  # the output projection reuses token_embd (no output.weight), as in Llama 3.2 1B


TINY = Shape("tiny", 512, 64, 2, 4, 2, 128, 4096)
QWEN_05B = Shape("0.5b", 151_936, 896, 24, 14, 2, 4864, 32_768)  # Qwen2.5-0.5B dimensions
LLAMA_1B = Shape("1b", 128_256, 2048, 16, 32, 8, 8192, 131_072, tied=True)  # Llama-3.2-1B dimensions


def byte_symbols() -> list[str]:
    """GPT-2's printable stand-ins for the 256 byte values."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    out, extra = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return [out[b] for b in range(256)]


def train_bpe(text: str, merges: int) -> list[tuple[str, str]]:
    """Greedy byte-level BPE merges learned from ``text`` (words keep their leading space)."""
    symbols = byte_symbols()
    words = Counter(tuple(symbols[b] for b in (" " + w).encode("utf-8")) for w in text.split())
    learned: list[tuple[str, str]] = []
    for _ in range(merges):
        pairs: Counter[tuple[str, str]] = Counter()
        for word, count in words.items():
            for pair in zip(word, word[1:], strict=False):
                pairs[pair] += count
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        learned.append(best)
        words = Counter({_merge(word, best): count for word, count in words.items()})
    return learned


def _merge(word: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    out: list[str] = []
    i = 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(word[i] + word[i + 1])
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def vocabulary(size: int) -> tuple[list[str], list[int], list[str]]:
    """(tokens, token types, merges) with ``size`` tokens in all, specials last."""
    tokens = byte_symbols()
    merges = train_bpe(CORPUS, max(0, min(400, size - 256 - len(SPECIALS))))
    seen = set(tokens)
    for a, b in merges:
        if a + b not in seen:
            tokens.append(a + b)
            seen.add(a + b)
    filler = 0
    while len(tokens) < size - len(SPECIALS):  # unreachable fillers give real-shape output layers
        candidate = f"<|filler_{filler}|>"
        filler += 1
        if candidate not in seen:
            tokens.append(candidate)
            seen.add(candidate)
    tokens += list(SPECIALS)
    if len(set(tokens)) != len(tokens):
        raise ValueError("duplicate token strings: llama.cpp would abort")
    types = [1] * (len(tokens) - len(SPECIALS)) + [3] * len(SPECIALS)
    return tokens, types, [f"{a} {b}" for a, b in merges]


def _q8_0(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """Random Q8_0 blocks written directly (an f16 scale + 32 int8 per block): fast at any size."""
    block = np.dtype([("d", "<f2"), ("qs", "i1", 32)])
    data = np.empty((rows, cols // 32), dtype=block)
    data["d"] = np.float16(0.02 / 64)
    data["qs"] = rng.integers(-127, 128, size=(rows, cols // 32, 32), dtype=np.int8)
    return data.view(np.uint8).reshape(rows, -1)


def _matrix(rows: int, cols: int, dtype: str, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
    import gguf

    if dtype == "q8_0":
        return _q8_0(rows, cols, rng), gguf.GGMLQuantizationType.Q8_0
    values = rng.standard_normal((rows, cols), dtype=np.float32) * np.float32(0.02)
    return (values.astype(np.float16), None) if dtype == "f16" else (values, None)


def write(path: Path, shape: Shape = TINY, dtype: str = "f32", seed: int = 0,
          chat_template: str | None = CHATML) -> Path:
    """Write a random-weight Llama GGUF of ``shape`` (weights f32, f16 or q8_0) to ``path``;
    ``chat_template=None`` leaves the template out of the metadata."""
    import gguf

    if dtype not in ("f32", "f16", "q8_0"):
        raise ValueError(f"unsupported weight type {dtype!r}")
    rng = np.random.default_rng(seed)
    tokens, types, merges = vocabulary(shape.vocab)
    w = gguf.GGUFWriter(str(path), "llama")
    _metadata(w, shape, tokens, types, merges, chat_template)
    head_dim = shape.n_embd // shape.n_head
    kv = shape.n_head_kv * head_dim
    ones = np.ones(shape.n_embd, dtype=np.float32)
    tensors: list[tuple[str, int, int]] = [("token_embd.weight", len(tokens), shape.n_embd)]
    if not shape.tied:
        tensors.append(("output.weight", len(tokens), shape.n_embd))
    for i in range(shape.n_layer):
        b = f"blk.{i}."
        tensors += [(b + "attn_q.weight", shape.n_embd, shape.n_embd), (b + "attn_k.weight", kv, shape.n_embd),
                    (b + "attn_v.weight", kv, shape.n_embd), (b + "attn_output.weight", shape.n_embd, shape.n_embd),
                    (b + "ffn_gate.weight", shape.n_ff, shape.n_embd), (b + "ffn_up.weight", shape.n_ff, shape.n_embd),
                    (b + "ffn_down.weight", shape.n_embd, shape.n_ff)]
        w.add_tensor(b + "attn_norm.weight", ones)
        w.add_tensor(b + "ffn_norm.weight", ones)
    w.add_tensor("output_norm.weight", ones)
    for name, rows, cols in tensors:
        data, raw = _matrix(rows, cols, "f32" if name == "token_embd.weight" and dtype == "f32" else dtype, rng)
        w.add_tensor(name, data, raw_dtype=raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def _metadata(w: Any, shape: Shape, tokens: list[str], types: list[int], merges: list[str],
              chat_template: str | None) -> None:
    w.add_name(f"cairn-random-{shape.name}")
    w.add_context_length(shape.n_ctx)
    w.add_embedding_length(shape.n_embd)
    w.add_block_count(shape.n_layer)
    w.add_feed_forward_length(shape.n_ff)
    w.add_head_count(shape.n_head)
    w.add_head_count_kv(shape.n_head_kv)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(shape.n_embd // shape.n_head)
    w.add_rope_freq_base(10000.0)
    w.add_vocab_size(len(tokens))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(tokens.index("<|endoftext|>"))
    w.add_eos_token_id(tokens.index("<|im_end|>"))
    w.add_add_bos_token(False)
    if chat_template is not None:
        w.add_chat_template(chat_template)
