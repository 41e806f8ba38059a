"""Sentence embeddings from a BERT-family ONNX model with onnxruntime and `tokenizers` (no PyTorch).

A model folder holds `model.onnx`, `tokenizer.json` and `embedder.json` (the manifest: id,
dimension, pooling, normalisation, maximum sequence length). Inputs and outputs follow the Hugging
Face ONNX exports, so converted and downloaded models run the same way.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cairn.core.errors import ModelLoadError
from cairn.core.privacy import lock_down

log = logging.getLogger(__name__)
MANIFEST = "embedder.json"


@dataclass(frozen=True)
class Manifest:
    id: str
    dim: int
    max_seq_length: int = 256
    pooling: str = "mean"
    normalize: bool = True
    source: str = ""

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        path = folder / MANIFEST
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(raw["id"], int(raw["dim"]), int(raw.get("max_seq_length", 256)), raw.get("pooling", "mean"),
                       bool(raw.get("normalize", True)), raw.get("source", ""))
        except FileNotFoundError as exc:
            raise ModelLoadError(f"The embedder folder {folder} has no {MANIFEST}.",
                                 hint="Install the embedder again (cairn embedders install).") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(f"The embedder manifest {path} is damaged ({exc}).",
                                 hint="Install the embedder again (cairn embedders install).") from exc

    def write(self, folder: Path) -> None:
        data = {"id": self.id, "dim": self.dim, "max_seq_length": self.max_seq_length,
                "pooling": self.pooling, "normalize": self.normalize, "source": self.source}
        (folder / MANIFEST).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


class OnnxEmbedder:
    """Tokenize, run the encoder, mean-pool over real tokens, L2-normalise. Batches by length."""

    def __init__(self, folder: Path, threads: int = 0, batch_size: int = 32) -> None:
        self.folder = folder
        self.manifest = Manifest.read(folder)
        self.batch_size = batch_size
        self._tokenizer = _load_tokenizer(folder / "tokenizer.json", self.manifest.max_seq_length)
        self._session = load_session(folder / "model.onnx", threads)
        self._names = {i.name for i in self._session.get_inputs()}
        self._probe()

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def dim(self) -> int:
        return self.manifest.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            out[chunk] = self._embed_batch([texts[i] for i in chunk])
        return out

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = self._run(ids, mask)
        if self.manifest.pooling == "cls":
            pooled = hidden[:, 0, :]
        else:
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(1) / np.clip(weights.sum(1), 1e-9, None)
        if self.manifest.normalize:
            pooled = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return pooled.astype(np.float32)

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        out: np.ndarray = self._session.run(None, feeds)[0]
        return out

    def _probe(self) -> None:
        """Run the highest token id through the model: a tokenizer from another model fails here."""
        top = self._tokenizer.get_vocab_size() - 1
        ids = np.array([[0, top]], dtype=np.int64)
        try:
            hidden = self._run(ids, np.ones_like(ids))
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelLoadError(
                f"The tokenizer in {self.folder} does not match its model (token id {top} is out of the "
                f"model's vocabulary: {str(exc).splitlines()[0][:160]}).",
                hint="Install the embedder again so tokenizer and model come from the same source.") from exc
        if hidden.ndim != 3 or hidden.shape[-1] != self.dim:
            raise ModelLoadError(f"The model in {self.folder} gives vectors of size {hidden.shape[-1]}, but its "
                                 f"manifest says {self.dim}.")


def _load_tokenizer(path: Path, max_len: int) -> Any:
    from tokenizers import Tokenizer

    if not path.is_file():
        raise ModelLoadError(f"The embedder tokenizer {path} is missing.",
                             hint="Install the embedder again (cairn embedders install).")
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on bad JSON
        raise ModelLoadError(f"The embedder tokenizer {path} is damaged ({str(exc)[:160]}).",
                             hint="Install the embedder again (cairn embedders install).") from exc
    tok.enable_truncation(max_len)
    tok.enable_padding()
    return tok


def load_session(path: Path, threads: int) -> Any:
    lock_down()  # again, in case the environment was changed since cairn.core was imported
    import onnxruntime as ort

    if not path.is_file():
        raise ModelLoadError(f"The embedder model {path} is missing.",
                             hint="Install the embedder again (cairn embedders install).")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Idle worker threads sleep instead of spinning: they would otherwise steal the cores that
    # SQLite and the vector scan need between two embeddings.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # InvalidProtobuf, Fail, ... all mean the file is unusable
        raise ModelLoadError(f"The embedder model {path} is damaged or truncated ({str(exc).splitlines()[0][:160]}).",
                             hint="Install the embedder again (cairn embedders install).") from exc
