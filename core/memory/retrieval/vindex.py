"""Vector search: binary codes for a fast prefilter, exact cosine re-scoring of the survivors.

Each vector gets a 1-bit-per-dimension code of its sign after subtracting the bank's centre
(sign codes of raw sentence embeddings are skewed; centring makes every bit informative). A query
first ranks memories by Hamming distance between codes, then the best ``rescore`` of them by
exact cosine similarity of the float vectors. The codes are searched either by sqlite-vec inside
SQLite (no warm-up; used by one-shot commands) or by :class:`CodeIndex`, an in-memory copy kept in
step with the database (used by long-lived processes: the daemon, benchmarks).
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from cairn.core.memory.storage import store

log = logging.getLogger(__name__)

try:  # the C helper from native/hamming.c; optional
    from cairn.core.memory.retrieval import _hamming  # type: ignore[attr-defined]  # a C extension: no stub
except ImportError:  # pragma: no cover - depends on the build
    _hamming = None


def encode(vectors: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Packed sign codes, shape (n, dim/8) bytes."""
    return np.packbits(np.asarray(vectors, dtype=np.float32) - centre > 0, axis=1)


def topk_hamming(codes: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    """Row indices of the ``k`` codes nearest to ``query`` (unordered). C when built, else NumPy."""
    n = codes.shape[0]
    k = min(k, n)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    words = codes.shape[1] // 8
    if _hamming is not None and codes.shape[1] % 8 == 0:
        raw = _hamming.topk(np.ascontiguousarray(codes), np.ascontiguousarray(query), words, k)
        return np.frombuffer(raw, dtype=np.int64)
    return _topk_numpy(codes, query, k)


def _topk_numpy(codes: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    dist = np.bitwise_count(np.bitwise_xor(codes, query)).sum(1, dtype=np.int32)
    return np.argpartition(dist, k - 1)[:k] if k < len(dist) else np.arange(len(dist))


PARALLEL_FROM = 200_000  # rows; below this one thread is faster than splitting the scan


class CodeIndex:
    """In-memory codes of the live memories, reloaded when another process changes the database.

    Large scans are split across threads (the C helper releases the GIL). Call :meth:`close`."""

    def __init__(self, threads: int = 0) -> None:
        self.threads = threads or min(4, os.cpu_count() or 1)
        self._pool: ThreadPoolExecutor | None = None
        self.ids = np.zeros(0, dtype=np.int64)
        self.codes = np.zeros((0, 0), dtype=np.uint8)
        self._pos: dict[int, int] = {}
        self._version: int | None = None
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def sync(self, conn: Any) -> None:
        """Load (or reload) the codes if the database changed under us."""
        version = store.data_version(conn)
        if version == self._version:
            return
        ids, codes = store.live_codes(conn)
        self.ids, self.codes, self._n = ids, codes, len(ids)
        self._pos = {int(i): p for p, i in enumerate(ids)}
        self._version = version
        log.debug("vector index loaded: %d codes", self._n)

    def add(self, memory_id: int, code: np.ndarray) -> None:
        if memory_id in self._pos or self._version is None:
            return
        if self._n == len(self.ids):
            grow = max(1024, self._n)
            self.ids = np.concatenate([self.ids, np.zeros(grow, dtype=np.int64)])
            width = code.shape[0] if self.codes.size == 0 else self.codes.shape[1]
            self.codes = np.concatenate([self.codes.reshape(-1, width), np.zeros((grow, width), dtype=np.uint8)])
        self.ids[self._n] = memory_id
        self.codes[self._n] = code
        self._pos[memory_id] = self._n
        self._n += 1

    def remove(self, memory_id: int) -> None:
        pos = self._pos.pop(memory_id, None)
        if pos is None:
            return
        last = self._n - 1
        if pos != last:
            moved = int(self.ids[last])
            self.ids[pos], self.codes[pos] = moved, self.codes[last]
            self._pos[moved] = pos
        self._n = last

    def invalidate(self) -> None:
        self._version = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _shortlist(self, codes: np.ndarray, code: np.ndarray, k: int) -> np.ndarray:
        """Rows of (at least) the k nearest codes; in parallel slices for large indexes."""
        n = len(codes)
        if n < PARALLEL_FROM or self.threads < 2 or _hamming is None:
            return topk_hamming(codes, code, k)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="cairn-vindex")
        bounds = np.linspace(0, n, self.threads + 1, dtype=np.int64)
        jobs = [self._pool.submit(topk_hamming, codes[lo:hi], code, k) for lo, hi in zip(bounds, bounds[1:], strict=False)]
        return np.concatenate([job.result() + lo for job, lo in zip(jobs, bounds, strict=False)])

    def search(self, code: np.ndarray, k: int, query: np.ndarray | None = None, widen: int = 4) -> list[int]:
        """The ``k`` best codes for a query. With the float ``query`` (already centred), a wider
        Hamming shortlist is re-ranked by the asymmetric estimate (query floats against code signs),
        which orders near neighbours far better than Hamming distance alone."""
        if self._n == 0:
            return []
        codes = self.codes[: self._n]
        if query is None:
            rows = self._shortlist(codes, code, k)
            return [int(i) for i in self.ids[rows[:k]]] if len(rows) <= k else self._closest(codes, code, rows, k)
        rows = self._shortlist(codes, code, k * widen)
        signs = np.unpackbits(codes[rows], axis=1)[:, : len(query)].astype(np.float32)
        estimate = signs @ (2.0 * query)
        best = rows[np.argpartition(-estimate, k - 1)[:k]] if len(rows) > k else rows
        return [int(i) for i in self.ids[best]]

    def _closest(self, codes: np.ndarray, code: np.ndarray, rows: np.ndarray, k: int) -> list[int]:
        dist = np.bitwise_count(np.bitwise_xor(codes[rows], code)).sum(1)
        return [int(i) for i in self.ids[rows[np.argpartition(dist, k - 1)[:k]]]]
