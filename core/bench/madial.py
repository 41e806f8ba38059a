"""`cairn bench madial`: MADial-Bench memory recall mid-dialogue.

The memories go into a fresh temporary bank through the real remember path (event text, dated),
each on its own as a user's remembered event is (no shared source, so no neighbours or session);
each dialogue's turns before its first test turn form the query, asked through the real recall
path; recall@k is over the dialogue's `relevant-id` list. Baselines: plain FTS5 BM25 and plain
dense search, in the same process on the same data.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cairn.core.bench.locomo import Progress
from cairn.core.bench.metrics import Tally, at_ks, latency
from cairn.core.clock import ManualClock, parse_when
from cairn.core.config import Settings
from cairn.core.errors import CairnError, InvalidInput
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.retrieval.embed import Embedder
from cairn.core.memory.storage import store
from cairn.core.memory.storage.records import MemoryId, RecallFilters, Source

RELEVANT_ID = 'relevant-id'  # field name of the public format
_ROLE = re.compile(r"^<([^>]+)>:\s*")


@dataclass
class Dialogue:
    query: str
    relevant: set[str]


def _read_jsonl(path: Path) -> list[Any]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"Cannot read {path} as JSON Lines: {exc}.") from exc


def load_memories(path: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for row in _read_jsonl(path):
        if not isinstance(row, dict):
            raise InvalidInput(f"{path}: each line must be an object keyed by memory id.")
        out.update({str(k): v for k, v in row.items()})
    return out


def _line(text: str) -> str:
    text = _ROLE.sub(lambda m: f"{m.group(1)}: ", text.strip())
    return text.replace('"', "").strip()


def load_dialogues(path: Path, known: set[str]) -> list[Dialogue]:
    out = []
    for n, row in enumerate(_read_jsonl(path), start=1):
        try:
            turns, first = row["dialogue"], min(row["test-turn"])
            lines = [_line(t) for t in turns[:first] if t.strip() not in ("<BOD>", "<EOD>")]
            relevant = {str(r) for r in row[RELEVANT_ID]} & known
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"{path}: dialogue on line {n} is malformed ({exc!r}).") from exc
        if relevant and lines:
            out.append(Dialogue("\n".join(lines), relevant))
    return out


def ingest(bank: MemoryBank, clock: ManualClock, memories: dict[str, dict[str, Any]]) -> dict[MemoryId, str]:
    ids = {}
    for key, m in memories.items():
        when = parse_when(m["time"]) if m.get("time") else None
        if when is not None:
            clock.set(when)
        memory = bank.remember(m["event"], kind="event", source=Source("manual", None, (key,), when))
        ids[memory.id] = key
    return ids


def run(dialogues_path: Path, memories_path: Path, ks: list[int], *, embedder: Embedder,
        settings: Settings | None = None, progress: Progress | None = None) -> dict[str, Any]:
    memories = load_memories(memories_path)
    dialogues = load_dialogues(dialogues_path, set(memories))
    tally, bm25, dense, timings = Tally(), Tally(), Tally(), []
    with tempfile.TemporaryDirectory(prefix="cairn-bench-") as tmp:
        clock = ManualClock()
        with MemoryBank.open(Path(tmp) / "memory.db", settings or Settings(), embedder=embedder, clock=clock,
                             in_memory_index=True) as bank:
            ingest(bank, clock, memories)
            plain = embedder.embed([m["event"] for m in memories.values()])
            keys = list(memories)
            for n, d in enumerate(dialogues, start=1):
                timings.append(_ask(bank, d, ks, tally))
                _baselines(bank, d, ks, bm25, dense, plain, keys)
                if progress:
                    progress("dialogues", n, len(dialogues))
    return {"dialogues": len(dialogues), "memories": len(memories), "macro": tally.macro(),
            "latency_ms": latency(timings),
            "baselines": {"bm25": {"macro": bm25.macro()}, "dense": {"macro": dense.macro()}},
            "embedder": {"id": embedder.id, "dim": embedder.dim}}


def query_text(bank: MemoryBank, d: Dialogue) -> str:
    """The dialogue as the query, trimmed from the front to the query size limit."""
    limit = bank.settings.recall.max_query_bytes
    text = d.query
    while len(text.encode("utf-8")) > limit:
        text = text.split("\n", 1)[1] if "\n" in text else text[-limit // 4:]
    return text


def _ask(bank: MemoryBank, d: Dialogue, ks: list[int], tally: Tally) -> float:
    start = time.perf_counter()
    hits = bank.recall(query_text(bank, d), k=max(ks), touch=False)
    elapsed = time.perf_counter() - start
    tally.add("all", at_ks([h.memory.source.turns for h in hits], d.relevant, ks))
    return elapsed


def _baselines(bank: MemoryBank, d: Dialogue, ks: list[int], bm25: Tally, dense: Tally,
               plain: np.ndarray, keys: list[str]) -> None:
    query = query_text(bank, d)
    match = store.fts_query(query, "text")
    try:
        found = store.fts_search(bank.db.conn, match, max(ks), RecallFilters()) if match else []
    except CairnError:
        found = []
    mems = store.get_many(bank.db.conn, [i for i, _ in found])
    bm25.add("all", at_ks([mems[i].source.turns for i, _ in found if i in mems], d.relevant, ks))
    order = np.argsort(-(plain @ bank.embedder.embed([query])[0]))[: max(ks)]
    dense.add("all", at_ks([(keys[i],) for i in order], d.relevant, ks))
