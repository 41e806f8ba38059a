"""Convert a sentence-transformers BERT model (safetensors + configs) into an ONNX model folder."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import onnx

from cairn.core import ModelLoadError
from cairn.models.bert import BertConfig
from cairn.models.bert_onnx import build


def load_weights(path: Path) -> dict[str, Any]:
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises SafetensorError / OSError
        raise ModelLoadError(f"Cannot read the weights {path} ({str(exc)[:160]}).") from exc


def convert_sentence_transformer(source: Path, dest: Path) -> Path:
    """Write ``dest/model.onnx`` and ``dest/tokenizer.json`` from a sentence-transformers folder."""
    for needed in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (source / needed).is_file():
            raise ModelLoadError(f"{source} lacks {needed}: not a sentence-transformers model folder.")
    try:
        cfg = BertConfig.from_file(source / "config.json")
    except (ValueError, KeyError) as exc:
        raise ModelLoadError(f"Cannot convert {source}: {exc}.") from exc
    model = build(load_weights(source / "model.safetensors"), cfg, name=source.name)
    dest.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dest / "model.onnx"))
    shutil.copy(source / "tokenizer.json", dest / "tokenizer.json")
    return dest / "model.onnx"
