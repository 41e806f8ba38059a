"""`cairn bench scale`: search and remember speed, and vector recall loss, at large bank sizes.

Memories are synthetic one-sentence diary entries. Embedding a million sentences would take
hours on a laptop CPU, so only a base set is embedded with the real embedder; each memory's
vector is a random mix of two base vectors plus noise (the same anisotropy and neighbourhood
structure as real embeddings, at a fraction of the cost). Queries are embedded for real. The
exact reference is brute-force cosine over every stored vector.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from cairn.core.bench.metrics import latency
from cairn.core.clock import ManualClock
from cairn.core.config import Settings
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.retention.forgetting import DAY, initial_strength
from cairn.core.memory.retrieval.embed import Embedder
from cairn.core.memory.retrieval.vindex import encode
from cairn.core.memory.storage import store
from cairn.core.memory.storage.records import Source

Progress = Callable[[str, int, int], None]
YEAR = 365 * DAY
NAMES = ["Ana", "Ben", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lena", "Maya", "Noor"]
PLACES = ["Lisbon", "the park", "the lake", "Kyoto", "the library", "the gym", "the market", "Porto", "the beach",
          "the office", "the cabin", "the museum", "the clinic", "the bakery", "the station", "the garden"]
ACTS = ["went running", "had dinner", "painted a sunrise", "fixed the bike", "read a novel", "planted tomatoes",
        "adopted a puppy", "baked bread", "learned a cello piece", "watched a film", "booked a trip",
        "visited the dentist", "wrote a letter", "played chess", "bought new shoes", "cooked curry"]
FEELS = ["and loved it", "and felt tired", "with friends", "for the first time", "after work", "in the rain",
         "on the weekend", "before sunrise", "with the kids", "to relax", "despite the cold", "again"]


def sentence(rng: np.random.Generator) -> str:
    def pick(items: list[str]) -> str:
        return items[int(rng.integers(len(items)))]

    return f"{pick(NAMES)} {pick(ACTS)} at {pick(PLACES)} {pick(FEELS)} on day {int(rng.integers(1, 3650))}."


def synth_vectors(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    a, b = rng.integers(0, len(base), n), rng.integers(0, len(base), n)
    w = rng.random((n, 1), dtype=np.float32)
    v = w * base[a] + (1 - w) * base[b] + 0.03 * rng.standard_normal((n, base.shape[1]), dtype=np.float32)
    out: np.ndarray = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def populate(bank: MemoryBank, n: int, rng: np.random.Generator, progress: Progress | None, batch: int = 5000) -> float:
    base = bank.embedder.embed([sentence(rng) for _ in range(min(2000, max(50, n // 50)))])
    start = time.perf_counter()
    for done in range(0, n, batch):
        size = min(batch, n - done)
        vectors = synth_vectors(base, size, rng)
        with bank.db.atomic() as conn:
            for vector in vectors:
                importance = float(rng.random())
                created = float(rng.random()) * YEAR  # spread over a year, for the sweep figures
                values = {"uid": f"{rng.integers(1 << 62):016x}{done}", "text": sentence(rng), "kind": "note",
                          "created_at": created, "updated_at": created, "source_type": "manual",
                          "importance": importance, "strength": initial_strength(importance)}
                bank.insert_row(conn, values, vector)
        if progress:
            progress("populate", done + size, n)
    bank.vectors.invalidate()
    return time.perf_counter() - start


def exact_top(conn: Any, queries: np.ndarray, k: int) -> list[set[int]]:
    """Brute-force cosine top-k over every stored live vector, in chunks."""
    best = [np.zeros(0, dtype=np.int64)] * len(queries)
    best_s = [np.zeros(0, dtype=np.float32)] * len(queries)
    live = set(store.live_codes(conn)[0].tolist())
    for ids, matrix in store.iter_vectors(conn, 50_000):
        keep = np.array([i in live for i in ids])
        idx, sims = np.asarray(ids)[keep], matrix[keep] @ queries.T
        for q in range(len(queries)):
            s = np.concatenate([best_s[q], sims[:, q]])
            i = np.concatenate([best[q], idx])
            top = np.argsort(-s)[:k]
            best[q], best_s[q] = i[top], s[top]
    return [set(b.tolist()) for b in best]


def run(n: int, queries: int = 100, k: int = 10, *, embedder: Embedder, settings: Settings | None = None,
        progress: Progress | None = None, seed: int = 7) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    settings = settings or Settings()
    with tempfile.TemporaryDirectory(prefix="cairn-scale-") as tmp:
        path = Path(tmp) / "memory.db"
        with MemoryBank.open(path, settings, embedder=embedder, clock=ManualClock(),
                             in_memory_index=True) as bank:
            populate_s = populate(bank, n, rng, progress)
            texts = [sentence(rng) for _ in range(queries)]
            qvecs = embedder.embed(texts)
            report: dict[str, Any] = {"n": n, "populate_s": round(populate_s, 1),
                                      "fusion": "learned" if bank.ranker is not None else "fixed"}
            report.update(_search_figures(bank, texts, qvecs, k))
            report["remember_ms"] = _remember_figures(bank, rng)
            report["sweep"] = _sweep_figures(bank, n)
            bank.db.clear_wal()
        report["database_mb"] = round(sum(f.stat().st_size for f in Path(tmp).glob("memory.db*")) / 1e6, 1)
    report["embedder"] = {"id": embedder.id, "dim": embedder.dim}
    return report


def _search_figures(bank: MemoryBank, texts: list[str], qvecs: np.ndarray, k: int) -> dict[str, Any]:
    conn, settings = bank.db.conn, bank.settings.recall
    start = time.perf_counter()
    if bank.vectors.index is not None:
        bank.vectors.index.sync(conn)
    load_s = time.perf_counter() - start
    vector_t, approx = [], []
    for q in qvecs:
        t = time.perf_counter()
        approx.append({i for i, _ in bank.vectors.nearest(conn, q, k, settings.rescore)})
        vector_t.append(time.perf_counter() - t)
    exact = exact_top(conn, qvecs, k)
    overlap = float(np.mean([len(a & e) / k for a, e in zip(approx, exact, strict=False)]))
    recall_t = []
    for text in texts:
        t = time.perf_counter()
        bank.recall(text, k=k, touch=False)
        recall_t.append(time.perf_counter() - t)
    sqlite_t = []
    for q in qvecs[:20]:
        t = time.perf_counter()
        store.vec_knn_codes(conn, _code(bank, q), min(settings.rescore, 4096))
        sqlite_t.append(time.perf_counter() - t)
    return {"index_load_s": round(load_s, 2), "vector_search_ms": latency(vector_t),
            "recall_loss_vs_exact": round(1 - overlap, 4), "recall_ms": latency(recall_t),
            "sqlite_vec_bit_knn_ms": latency(sqlite_t)}


def _code(bank: MemoryBank, q: np.ndarray) -> np.ndarray:
    code: np.ndarray = encode(q[None, :], bank.vectors.centre(bank.db.conn))[0]
    return code


def _sweep_figures(bank: MemoryBank, n: int) -> dict[str, Any]:
    """A sweep a year on (decay, then a budget of 80% of the memories), then the same sweep again."""
    first = bank.sweep(now=2 * YEAR, budget=int(0.8 * n))
    again = bank.sweep(now=2 * YEAR, budget=int(0.8 * n))
    return {"seconds": first.seconds, "archived": first.archived, "by_rule": first.by_rule,
            "repeat_seconds": again.seconds, "repeat_archived": again.archived}


def _remember_figures(bank: MemoryBank, rng: np.random.Generator, samples: int = 50) -> dict[str, float]:
    times = []
    for _ in range(samples):
        text = sentence(rng)
        t = time.perf_counter()
        bank.remember(text, source=Source("manual"))
        times.append(time.perf_counter() - t)
    return latency(times)
