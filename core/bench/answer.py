"""`cairn bench answer`: memory-only answers to LoCoMo questions, through the real assistant turn.

Each conversation goes into a fresh bank (the real remember path); every question is asked through
:class:`cairn.core.assistant.Assistant` without a model. Reported: how often the gate sends a
personal question (categories 1-4) to memory, how often the quoted memories include an evidence
turn (and with its date), and how often an unanswerable question (category 5, its premise is not
in the conversation) gets "I have nothing about that".
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cairn.core.assistant import NOTHING, Assistant
from cairn.core.bench.locomo import CATEGORIES, ingest, load
from cairn.core.bench.metrics import Tally
from cairn.core.clock import ManualClock, iso
from cairn.core.config import Settings
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.embed import Embedder
from cairn.core.memory.gate import Gate

Progress = Callable[[str, int, int], None]


def run(path: Path, *, embedder: Embedder, settings: Settings | None = None,
        progress: Progress | None = None) -> dict[str, Any]:
    tally, abstained, asked = Tally(), 0, 0
    gate = Gate.load()
    with tempfile.TemporaryDirectory(prefix="cairn-answer-") as tmp:
        for conv in load(path):
            clock = ManualClock()
            with MemoryBank.open(Path(tmp) / f"{conv.sample_id}.db", settings or Settings(), embedder=embedder,
                                 clock=clock, in_memory_index=True) as bank:
                ingest(bank, clock, conv, progress)
                assistant = Assistant(bank, gate, extract_facts=False)
                for q in conv.questions:
                    answer = assistant.ask(q.text)
                    quoted = [h.memory for h in answer.used if set(h.memory.source.turns) & q.evidence]
                    dated = any((iso(m.source.time) or "")[:10] in answer.text for m in quoted)
                    tally.add(q.category, {"retrieved": float(answer.decision.retrieve),
                                           "evidence_quoted": float(bool(quoted)), "with_date": float(dated)})
                for text in conv.unanswerable:
                    asked += 1
                    abstained += assistant.ask(text).text == NOTHING
    return {"macro": tally.macro(CATEGORIES), "per_category": tally.per_category(), "questions": tally.questions,
            "unanswerable": {"questions": asked, "nothing_rate": round(abstained / max(asked, 1), 4)},
            "embedder": {"id": embedder.id, "dim": embedder.dim}}
