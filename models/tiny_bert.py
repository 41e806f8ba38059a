"""Synthesize a tiny random-weight BERT sentence encoder (config, safetensors, tokenizer) for tests.

The weights are random, so its vectors mean nothing; its shapes and files are those of a real
sentence-transformers model, so conversion, loading and every error path can be exercised fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ("the a i my you went to at in on and of cat dog park lake city music dinner friend sister brother "
         "birthday trip book coffee run paint garden work home school day night happy tired new old").split()


def _weights(hidden: int, layers: int, inter: int, vocab: int, positions: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    def mat(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.05).astype(np.float32)

    w = {"embeddings.word_embeddings.weight": mat(vocab, hidden),
         "embeddings.position_embeddings.weight": mat(positions, hidden),
         "embeddings.token_type_embeddings.weight": mat(2, hidden),
         "embeddings.LayerNorm.weight": np.ones(hidden, np.float32),
         "embeddings.LayerNorm.bias": np.zeros(hidden, np.float32)}
    for i in range(layers):
        p = f"encoder.layer.{i}"
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            w[f"{p}.{name}.weight"], w[f"{p}.{name}.bias"] = mat(hidden, hidden), mat(hidden)
        w[f"{p}.intermediate.dense.weight"], w[f"{p}.intermediate.dense.bias"] = mat(inter, hidden), mat(inter)
        w[f"{p}.output.dense.weight"], w[f"{p}.output.dense.bias"] = mat(hidden, inter), mat(hidden)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[f"{p}.{ln}.weight"], w[f"{p}.{ln}.bias"] = np.ones(hidden, np.float32), np.zeros(hidden, np.float32)
    return w


def tokenizer_json(vocab: list[str]) -> str:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab.index("[CLS]")), ("[SEP]", vocab.index("[SEP]"))])
    tok.decoder = decoders.WordPiece()
    return tok.to_str()


def synthesize(folder: Path, hidden: int = 32, layers: int = 2, heads: int = 4, seed: int = 0,
               extra_vocab: int = 0) -> Path:
    """Write a sentence-transformers-style folder; ``extra_vocab`` makes the tokenizer larger
    than the model's vocabulary (a mismatched pair, for error tests)."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    vocab = SPECIALS + WORDS
    rng = np.random.default_rng(seed)
    save_file(_weights(hidden, layers, hidden * 2, len(vocab), 64, rng), str(folder / "model.safetensors"))
    config = {"model_type": "bert", "hidden_act": "gelu", "hidden_size": hidden, "num_hidden_layers": layers,
              "num_attention_heads": heads, "intermediate_size": hidden * 2, "layer_norm_eps": 1e-12,
              "max_position_embeddings": 64, "vocab_size": len(vocab), "type_vocab_size": 2}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    tok_vocab = vocab + [f"extra{i}" for i in range(extra_vocab)]
    (folder / "tokenizer.json").write_text(tokenizer_json(tok_vocab), encoding="utf-8")
    return folder
