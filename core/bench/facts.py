"""`cairn bench facts`: what the model's fact extraction gives on real conversation turns.

LoCoMo turns (sampled evenly over the conversations) go through the assistant's own extraction
prompt with the model; each offered fact is checked the way the assistant checks it before
storing (every name, number and date in the turn, most content words too). Reported: facts
offered and kept per statement, the share of offered facts the turn supports (the grounding
bar a model must pass before ``assistant.extract_facts = auto`` turns extraction on), the share
that merely copy the turn, and milliseconds per turn.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cairn.core.assistant import SYSTEM, Assistant, grounded_facts
from cairn.core.bench.locomo import load
from cairn.core.config import Settings
from cairn.core.llm.chat import Chat
from cairn.core.llm.options import LoadOptions
from cairn.core.llm.runtime import Runtime
from cairn.core.llm.session import Session
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.gate.decision import Gate
from cairn.core.memory.retrieval.embed import Embedder

Progress = Callable[[str, int, int], None]
GROUNDING_BAR = 0.9  # share of offered facts the statement must support for extraction to be on


def run(path: Path, model: Path, *, embedder: Embedder, settings: Settings | None = None, limit: int = 100,
        progress: Progress | None = None) -> dict[str, Any]:
    settings = settings or Settings()
    turns = [t.text for conv in load(path) for t in conv.turns]
    step = max(len(turns) // max(limit, 1), 1)
    picked = turns[::step][:limit]
    offered, kept, copies, seconds = [], [], 0, []
    with Runtime(model, LoadOptions.from_settings(settings.llm)) as rt, \
            tempfile.TemporaryDirectory(prefix="cairn-facts-") as tmp, \
            MemoryBank.open(Path(tmp) / "b.db", settings, embedder=embedder) as bank:
        assistant = Assistant(bank, Gate.load(), Chat(rt, Session(rt), system=SYSTEM), settings.assistant)
        for n, text in enumerate(picked, start=1):
            start = time.perf_counter()
            facts = assistant.propose_facts(text)
            seconds.append(time.perf_counter() - start)
            offered.append(len(facts))
            kept.append(len(grounded_facts(facts, text)))
            copies += sum(f.casefold() == text.strip().casefold() for f in facts)
            if progress:
                progress("facts", n, len(picked))
    total = max(sum(offered), 1)
    supported = sum(kept) / total
    return {"model": str(model), "statements": len(picked), "facts_offered_per_statement": _mean(offered),
            "facts_kept_per_statement": _mean(kept), "share_grounded": round(supported, 4),
            "share_copying_the_turn": round(copies / total, 4), "ms_per_turn": round(1000 * _mean(seconds), 1),
            "ms_per_turn_p95": round(1000 * sorted(seconds)[int(0.95 * (len(seconds) - 1))], 1) if seconds else 0.0,
            "grounding_bar": GROUNDING_BAR, "passes_bar": supported >= GROUNDING_BAR}


def _mean(values: list[float] | list[int]) -> float:
    return round(statistics.fmean(values), 3) if values else 0.0
