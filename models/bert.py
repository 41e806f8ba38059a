"""BERT-family encoders from safetensors weights: configuration and a NumPy reference forward pass.

The reference is the yardstick the ONNX conversion is proved against (to 1e-4). It is written
for clarity, not speed, and needs nothing beyond NumPy.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MASK_VALUE = -1e9  # added to attention scores of padding positions


@dataclass(frozen=True)
class BertConfig:
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    layer_norm_eps: float
    max_positions: int
    vocab_size: int

    @classmethod
    def from_file(cls, path: Path) -> BertConfig:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("model_type") not in ("bert", None) or raw.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"{path}: not a BERT-family encoder with GELU (model_type={raw.get('model_type')!r})")
        return cls(raw["hidden_size"], raw["num_hidden_layers"], raw["num_attention_heads"],
                   raw["intermediate_size"], float(raw.get("layer_norm_eps", 1e-12)),
                   raw.get("max_position_embeddings", 512), raw["vocab_size"])


def strip_prefix(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Accept both `embeddings.x` and `bert.embeddings.x` style names."""
    return {k.removeprefix("bert."): v for k, v in weights.items()}


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out: np.ndarray = (x - mean) / np.sqrt(var + eps) * w + b
    return out


def _gelu(x: np.ndarray) -> np.ndarray:
    from math import erf
    out: np.ndarray = 0.5 * x * (1.0 + np.vectorize(erf)(x / math.sqrt(2.0)))
    return out


def _dense(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    out: np.ndarray = x @ w[f"{name}.weight"].T.astype(np.float64) + w[f"{name}.bias"]
    return out


def reference_forward(weights: dict[str, np.ndarray], cfg: BertConfig, input_ids: np.ndarray,
                      attention_mask: np.ndarray, token_type_ids: np.ndarray | None = None) -> np.ndarray:
    """Last hidden states, shape (batch, seq, hidden), computed in float64."""
    w = strip_prefix(weights)
    token_type_ids = np.zeros_like(input_ids) if token_type_ids is None else token_type_ids
    seq = input_ids.shape[1]
    x = (w["embeddings.word_embeddings.weight"][input_ids].astype(np.float64)
         + w["embeddings.position_embeddings.weight"][:seq]
         + w["embeddings.token_type_embeddings.weight"][token_type_ids])
    x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], cfg.layer_norm_eps)
    bias = (1.0 - attention_mask[:, None, None, :].astype(np.float64)) * MASK_VALUE
    for i in range(cfg.num_layers):
        x = _layer(x, w, f"encoder.layer.{i}", cfg, bias)
    return x


def _layer(x: np.ndarray, w: dict[str, np.ndarray], p: str, cfg: BertConfig, bias: np.ndarray) -> np.ndarray:
    b, s, h = x.shape
    hd = h // cfg.num_heads

    def heads(t: np.ndarray) -> np.ndarray:
        return t.reshape(b, s, cfg.num_heads, hd).transpose(0, 2, 1, 3)

    q = heads(_dense(x, w, f"{p}.attention.self.query"))
    k = heads(_dense(x, w, f"{p}.attention.self.key"))
    v = heads(_dense(x, w, f"{p}.attention.self.value"))
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd) + bias
    scores = np.exp(scores - scores.max(-1, keepdims=True))
    probs = scores / scores.sum(-1, keepdims=True)
    ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(b, s, h)
    x = _layer_norm(_dense(ctx, w, f"{p}.attention.output.dense") + x, w[f"{p}.attention.output.LayerNorm.weight"],
                    w[f"{p}.attention.output.LayerNorm.bias"], cfg.layer_norm_eps)
    ff = _dense(_gelu(_dense(x, w, f"{p}.intermediate.dense")), w, f"{p}.output.dense")
    return _layer_norm(ff + x, w[f"{p}.output.LayerNorm.weight"], w[f"{p}.output.LayerNorm.bias"], cfg.layer_norm_eps)


def mean_pool(hidden: np.ndarray, attention_mask: np.ndarray, normalize: bool = True) -> np.ndarray:
    """Sentence-transformers mean pooling over real tokens, then optional L2 normalisation."""
    mask = attention_mask[..., None].astype(hidden.dtype)
    pooled = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
    if normalize:
        pooled = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
    out: np.ndarray = pooled
    return out
