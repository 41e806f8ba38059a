"""`cairn bench answer`: LoCoMo questions answered through the real assistant turn.

Each conversation goes into a fresh bank (the real remember path). Every sampled question is
answered by up to four arms with the same model:

* ``memory``: the assistant as shipped (gate, recall, checked phrasing, quotes);
* ``memory_only``: the same assistant with no model (extractive answers);
* ``no_memory``: the model alone, with the same instruction and no notes;
* ``recent``: the model with the most recent turns that fit its context window as notes (the
  conversation's prefix stays cached between its questions, as a chat app would keep it).

Scored as LoCoMo does (:mod:`cairn.core.bench.scoring`); category 5 (false premise) as abstention.
Also reported: how often what the user is shown holds an evidence turn, how often the shown answer
has a name, number or date that neither the shown memories nor the question hold, how often it
cites a memory, runaway replies (the token cap reached), prompt tokens and seconds per answer.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from cairn.core import grounding
from cairn.core.answer import Answer
from cairn.core.assistant import SYSTEM, Assistant
from cairn.core.bench.locomo import CATEGORIES, Conversation, Question, Turn, ingest, load
from cairn.core.bench.metrics import Tally
from cairn.core.bench.scoring import score
from cairn.core.clock import ManualClock
from cairn.core.config import Settings
from cairn.core.llm.chat import Chat
from cairn.core.llm.loader import resolve_choice
from cairn.core.llm.options import LoadOptions
from cairn.core.llm.prefix import PrefixCache
from cairn.core.llm.runtime import Runtime
from cairn.core.llm.session import Session
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.gate.decision import Gate
from cairn.core.memory.retrieval.embed import Embedder
from cairn.core.memory.storage.records import Memory, MemoryId, Source
from cairn.core.phrasing import Phraser, messages, note

Progress = Callable[[str, int, int], None]
DECLINE = re.compile(r"\b(nothing about|no information|not mentioned|(?:don't|do not) know|not in (?:my|the) notes|"
                     r"notes do not say)\b", re.IGNORECASE)
ALL_CATEGORIES = (*CATEGORIES, "5")


def sample(convs: list[Conversation], limit: int | None) -> list[tuple[Conversation, Question]]:
    """``limit`` questions spread evenly over conversations and categories (all when None)."""
    cells = [(c, [q for q in c.questions + c.adversarial if q.category == cat]) for c in convs for cat in ALL_CATEGORIES]
    cells = [(c, qs) for c, qs in cells if qs]
    if limit is None:
        return [(c, q) for c, qs in cells for q in qs]
    quota = [0] * len(cells)
    left = limit
    while left > 0 and any(quota[i] < len(qs) for i, (_, qs) in enumerate(cells)):
        for i, (_, qs) in enumerate(cells):
            if left > 0 and quota[i] < len(qs):
                quota[i] += 1
                left -= 1
    out = []
    for (c, qs), n in zip(cells, quota, strict=False):
        out += [(c, qs[round(j * (len(qs) - 1) / max(n - 1, 1))]) for j in range(n)] if n > 1 else \
            [(c, qs[len(qs) // 2])] * n
    return out


def _declined(text: str, kind: str = "") -> bool:
    return kind in ("declined", "nothing") or bool(DECLINE.search(text))


def _assistant_row(q: Question, answer: Answer, seconds: float) -> dict[str, float]:
    shown = [h.memory for h in answer.used]
    row = _score(q, answer.text, _declined(answer.text, answer.kind))
    row |= {"evidence_shown": float(any(set(m.source.turns) & q.evidence for m in shown)),
            "unsupported_shown": float(bool(grounding.unsupported(answer.text, shown, q.text))),
            "cites": float(bool(answer.cited)), "replaced": float(bool(answer.unsupported)),
            "runaway": float(answer.finish in ("length", "context")),  # the model hit the cap (shown or not)
            "runaway_shown": float(answer.finish in ("length", "context") and answer.kind in ("phrased", "general")),
            "prompt_tokens": float(answer.prompt_tokens), "seconds": seconds}
    return row


def _score(q: Question, text: str, declined: bool) -> dict[str, float]:
    if q.category == "5":
        return {"f1": float(declined), "declined": float(declined)}
    return {"f1": score(q.category, text, q.answer), "declined": float(declined)}


def _model_row(q: Question, text: str, finish: str, prompt_tokens: int, seconds: float) -> dict[str, float]:
    return _score(q, text, _declined(text)) | {"runaway": float(finish in ("length", "context")),
                                               "prompt_tokens": float(prompt_tokens), "seconds": seconds}


class _ModelArms:
    """The model-based arms: the guarded assistant, the bare model, recent turns."""

    def __init__(self, model: Path, settings: Settings) -> None:
        options = LoadOptions.from_settings(settings.llm)
        self.rt = Runtime(model, options)
        self.recent_rt = Runtime(model, options)
        self.chat = Chat(self.rt, Session(self.rt), system=SYSTEM)
        self.choice = resolve_choice(settings.llm, settings.assistant, model)
        self.phraser = Phraser(self.rt, self.chat.template)
        self.prefix = PrefixCache(self.recent_rt)
        self.transcript: list[str] = []

    def close(self) -> None:
        self.rt.close()
        self.recent_rt.close()

    def start(self, conv: Conversation, settings: Settings) -> None:
        """The most recent turns of ``conv`` that fit the context beside the prompt and the reply."""
        budget = settings.llm.n_ctx - 64 - 48 - len(self.phraser.prompt("?", []))
        lines: list[str] = []
        for turn in reversed(conv.turns):
            line = note(_turn_memory(turn))
            budget -= len(self.rt.tokenize(line, special=False)) + 1
            if budget < 0:
                break
            lines.insert(0, line)
        self.transcript = lines
        self.prefix.clear()

    def no_memory(self, q: Question) -> dict[str, float]:
        started = time.perf_counter()
        done = self.phraser.bare(q.text)
        return _model_row(q, done.text, done.completion.finish, done.completion.prompt_tokens,
                          time.perf_counter() - started)

    def recent(self, q: Question) -> dict[str, float]:
        started = time.perf_counter()
        prompt = self.rt.tokenize(self.chat.template.render(messages(self.transcript, q.text), True), special=True)
        text, finish, evaluated = self.prefix.generate(prompt, 48, stop="\n")
        return _model_row(q, " ".join(text.split()), finish, evaluated, time.perf_counter() - started)


def _turn_memory(turn: Turn) -> Memory:
    """A conversation turn in the shape :func:`note` takes (it is not stored anywhere)."""
    source = Source("conversation", "", (turn.dia_id,), turn.time, turn.speaker)
    return Memory(MemoryId(0), "", turn.text, "turn", source, turn.time, turn.time, False, 0.0, 0.0, None, 0, None)


def _ask(assistant: Assistant, q: Question) -> dict[str, float]:
    assistant.new_conversation()
    started = time.perf_counter()
    answer = assistant.ask(q.text)
    return _assistant_row(q, answer, time.perf_counter() - started)


def run(path: Path, *, embedder: Embedder, settings: Settings | None = None, model: Path | None = None,
        limit: int | None = None, progress: Progress | None = None) -> dict[str, Any]:
    settings = settings or Settings()
    if model is not None:
        settings = replace(settings, llm=replace(settings.llm, model=str(model)))
    convs = load(path)
    picked = sample(convs, limit)
    arms = _ModelArms(model, settings) if model is not None else None
    tallies: dict[str, Tally] = {}
    gate = Gate.load()
    try:
        with tempfile.TemporaryDirectory(prefix="cairn-answer-") as tmp:
            for conv in convs:
                questions = [q for c, q in picked if c is conv]
                if questions:
                    _conversation(conv, questions, Path(tmp), embedder, settings, gate, arms, tallies, progress)
    finally:
        if arms is not None:
            arms.close()
    return _report(tallies, embedder, model, len(picked))


def _conversation(conv: Conversation, questions: list[Question], tmp: Path, embedder: Embedder, settings: Settings,
                  gate: Gate, arms: _ModelArms | None, tallies: dict[str, Tally], progress: Progress | None) -> None:
    clock = ManualClock()
    with MemoryBank.open(tmp / f"{conv.sample_id}.db", settings, embedder=embedder, clock=clock,
                         in_memory_index=True) as bank:
        ingest(bank, clock, conv, progress)
        memory_only = Assistant(bank, gate, None, replace(settings.assistant, extract_facts="off"))
        guarded = Assistant(bank, gate, arms.chat, settings.assistant, arms.choice) if arms else None
        if arms:
            arms.start(conv, settings)
        for n, q in enumerate(questions, start=1):
            tallies.setdefault("memory_only", Tally()).add(q.category, _ask(memory_only, q))
            if arms and guarded:
                tallies.setdefault("memory", Tally()).add(q.category, _ask(guarded, q))
                tallies.setdefault("no_memory", Tally()).add(q.category, arms.no_memory(q))
                tallies.setdefault("recent", Tally()).add(q.category, arms.recent(q))
            if progress:
                progress(f"answer {conv.sample_id}", n, len(questions))


def _report(tallies: dict[str, Tally], embedder: Embedder, model: Path | None, asked: int) -> dict[str, Any]:
    out: dict[str, Any] = {"questions": asked, "model": str(model) if model else None,
                           "embedder": {"id": embedder.id, "dim": embedder.dim}, "arms": {}}
    for name, tally in tallies.items():
        per = tally.per_category()
        answerable = tally.macro(CATEGORIES)
        out["arms"][name] = {"f1_1to4": answerable.get("f1", 0.0), "declined_5": per.get("5", {}).get("f1", 0.0),
                             "per_category": per, "macro_1to4": answerable}
    arms = out["arms"]
    if "memory" in arms and "no_memory" in arms:
        base = max(arms["no_memory"]["f1_1to4"], 1e-9)
        out["ratios"] = {"memory_vs_no_memory_f1": round(arms["memory"]["f1_1to4"] / base, 2),
                         "memory_vs_recent_f1": round(arms["memory"]["f1_1to4"] /
                                                      max(arms["recent"]["f1_1to4"], 1e-9), 2),
                         "memory_vs_memory_only_f1": round(arms["memory"]["f1_1to4"] /
                                                           max(arms["memory_only"]["f1_1to4"], 1e-9), 2)}
    return out
