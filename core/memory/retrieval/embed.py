"""Embedders turn text into unit vectors.

:class:`Embedder` is the protocol every embedder follows. :class:`HashingEmbedder` needs no
weights at all (feature hashing of words, word pairs and character n-grams), is deterministic
across processes and machines, and so lets Cairn always work; learned embedders (ONNX) plug in
behind the same protocol.
"""

from __future__ import annotations

import logging
import re
import unicodedata
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from cairn.core.config import Settings
from cairn.core.errors import ConfigError, ModelLoadError
from cairn.core.memory.lexicon import is_stopword

log = logging.getLogger(__name__)
_WORD = re.compile(r"\w+", re.UNICODE)


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to L2-normalised float32 vectors of a fixed dimension."""

    @property
    def id(self) -> str:
        """Stable name of the model and its version; stored with the vectors it made."""

    @property
    def dim(self) -> int:
        """Vector dimension."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return an array of shape (len(texts), dim), each row of unit length (or all zero)."""


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _features(text: str) -> list[tuple[str, float]]:
    """Weighted features: words, adjacent word pairs, and character 3-5-grams of each word."""
    words = _WORD.findall(_normalise(text))
    feats: list[tuple[str, float]] = [("w:" + w, 0.1 if is_stopword(w) else 1.0) for w in words]
    content = [w for w in words if not is_stopword(w)]
    feats += [("b:" + a + " " + b, 0.7) for a, b in zip(content, content[1:], strict=False)]
    for word in content:
        padded = f"<{word}>"
        for n in (3, 4, 5):
            feats += [("c:" + padded[i:i + n], 0.25) for i in range(len(padded) - n + 1)]
    if not feats:  # no word characters at all: fall back to the raw characters
        feats = [("r:" + ch, 1.0) for ch in _normalise(text) if not ch.isspace()]
    return feats


class HashingEmbedder:
    """Signed feature hashing (crc32) into ``dim`` buckets, L2-normalised. No weights."""

    VERSION = "hashing-v1"

    def __init__(self, dim: int = 384) -> None:
        if dim < 16:
            raise ValueError("dim must be at least 16")
        self._dim = dim

    @property
    def id(self) -> str:
        return self.VERSION

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row] = self._embed_one(text)
        return out

    def _embed_one(self, text: str) -> np.ndarray:
        feats = _features(text)
        if not feats:
            return np.zeros(self._dim, dtype=np.float32)
        hashes = np.fromiter((zlib.crc32(f.encode("utf-8")) for f, _ in feats),
                             dtype=np.uint64, count=len(feats))
        weights = np.fromiter((w for _, w in feats), dtype=np.float64, count=len(feats))
        signs = np.where((hashes >> np.uint64(31)) & np.uint64(1), -1.0, 1.0)
        buckets = (hashes % np.uint64(self._dim)).astype(np.int64)
        vec = np.bincount(buckets, weights=weights * signs, minlength=self._dim)
        norm = float(np.linalg.norm(vec))
        return (vec / norm).astype(np.float32) if norm > 0 else vec.astype(np.float32)


DEFAULT_MODEL = "all-minilm-l6-v2"


def make_embedder(settings: Settings, models_dir: Path | None = None) -> Embedder:
    """The embedder the settings ask for.

    ``auto`` uses the MiniLM sentence embedder when it is installed in ``models_dir`` or can be
    installed from the bundled package without a network, and the hashing embedder otherwise. A
    model that is installed but broken is an error, never a silent fallback.
    """
    name = settings.memory.embedder
    if name == "hashing" or (name == "auto" and models_dir is None):
        return HashingEmbedder(settings.memory.hashing_dim)
    if models_dir is None:
        raise ConfigError([f"memory.embedder: {name!r} needs a models folder"])
    from cairn.core.memory.retrieval.onnx_embed import MANIFEST, OnnxEmbedder

    model = DEFAULT_MODEL if name == "auto" else name
    folder = models_dir / "embedders" / model
    _clean_interrupted(models_dir)
    if not (folder / MANIFEST).is_file():
        try:
            _install_bundled(models_dir, model)
        except ModelLoadError:
            if name != "auto":
                raise
            log.info("no sentence-embedding model installed; using the hashing embedder")
            return HashingEmbedder(settings.memory.hashing_dim)
    return OnnxEmbedder(folder, threads=settings.memory.embed_threads)


def _clean_interrupted(models_dir: Path) -> None:
    """Remove what a killed install left behind (a glob when there is nothing to do)."""
    parent = models_dir / "embedders"
    if parent.is_dir() and any(p.is_dir() for p in parent.glob(".*-*")):
        from cairn.models.embedders import clean_interrupted

        clean_interrupted(models_dir)


def _install_bundled(models_dir: Path, model: str) -> None:
    from cairn.models.embedders import install_bundled  # conversion tools live in cairn.models

    log.info("installing %s from its bundled package (one time)", model)
    install_bundled(models_dir, model)


class Wrapped:
    """An embedder around another one: same id and dimension, ``embed`` passed through."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner

    @property
    def id(self) -> str:
        return self.inner.id

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed(texts)


class QueryCache(Wrapped):
    """An embedder that remembers its last few single-text results, so a turn's question is
    embedded once and shared by the retrieval gate and recall."""

    def __init__(self, inner: Embedder, size: int = 8) -> None:
        super().__init__(inner)
        self.size = size
        self._recent: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:
            return self.inner.embed(texts)
        text = texts[0]
        if text not in self._recent:
            if len(self._recent) >= self.size:
                self._recent.pop(next(iter(self._recent)))
            self._recent[text] = self.inner.embed([text])[0]
        return self._recent[text][None, :].copy()
