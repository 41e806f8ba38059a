"""Binary-code prefilter: C helper and NumPy fallback agree; the in-memory index tracks the bank."""

from pathlib import Path

import numpy as np
import pytest

from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.retrieval import vindex
from cairn.core.memory.retrieval.vectors import CENTRE_SAMPLE


def test_c_helper_agrees_with_numpy() -> None:
    if vindex._hamming is None:
        pytest.skip("the C helper was not built (no compiler at install time)")
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 256, (5000, 48), dtype=np.uint8)
    q = rng.integers(0, 256, 48, dtype=np.uint8)
    dist = np.bitwise_count(codes ^ q).sum(1)
    for k in (1, 10, 300, 5000, 6000):
        got = vindex.topk_hamming(codes, q, k)
        assert len(got) == min(k, 5000) and len(set(got.tolist())) == len(got)
        assert dist[got].max() == np.sort(dist)[min(k, 5000) - 1]
        fallback = vindex._topk_numpy(codes, q, min(k, 5000))
        assert sorted(dist[got]) == sorted(dist[fallback])


def test_in_memory_index_follows_writes(isolated_home: Path) -> None:
    path = isolated_home / "m.db"
    with MemoryBank.open(path, in_memory_index=True) as bank:
        ids = [bank.remember(f"note {i} about topic {i % 7}").id for i in range(CENTRE_SAMPLE + 20)]
        assert bank.db.conn.execute("SELECT value FROM meta WHERE key = 'vector_centre'").fetchone()
        bank.recall("topic 3")  # loads the index
        assert len(bank.vectors.index) == len(ids)
        late = bank.remember("a brand new memory about kayaks")
        assert len(bank.vectors.index) == len(ids) + 1
        assert bank.recall("kayaks", k=1)[0].memory.id == late.id
        bank.forget(late.id)
        assert len(bank.vectors.index) == len(ids)
        assert all(h.memory.id != late.id for h in bank.recall("kayaks", k=5))
        bank.restore(late.id)
        assert bank.recall("kayaks", k=1)[0].memory.id == late.id
        with MemoryBank.open(path) as other:  # another connection writes: the index reloads
            other_id = other.remember("written by another process about canoes").id
        assert bank.recall("canoes", k=1)[0].memory.id == other_id


def test_sqlite_vec_and_memory_paths_agree(isolated_home: Path) -> None:
    path = isolated_home / "m.db"
    with MemoryBank.open(path) as bank:
        for i in range(400):
            bank.remember(f"diary entry {i}: walked {i % 13} km by the river with {i % 5} friends")
    queries = ["walked 7 km by the river", "friends by the river", "diary entry 123"]
    with MemoryBank.open(path) as plain, MemoryBank.open(path, in_memory_index=True) as fast:
        for q in queries:
            assert [h.memory.id for h in plain.recall(q, touch=False)] == [h.memory.id for h in fast.recall(q, touch=False)]


def test_query_over_the_length_limit(bank: MemoryBank) -> None:
    from cairn.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="Query is 5,000 bytes; the limit is 4,096"):
        bank.recall("q" * 5000)
