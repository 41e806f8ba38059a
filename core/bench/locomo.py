"""`cairn bench locomo`: evidence-turn recall on LoCoMo-format conversations.

Each conversation goes into a fresh temporary bank through the real remember path (one memory
per turn with its dia_id, speaker and session date), every question of categories 1-4 is asked
through the real recall path, and the retrieved memories' turn ids are scored against the
question's evidence. Baselines run in the same process on the same data, each the standard
method on "Speaker: text [+ photo caption]" turns: plain FTS5 BM25, plain dense search with the
same embedder (cosine, top-k, no prefilter), and their reciprocal-rank fusion.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from cairn.core.bench.metrics import Tally, at_ks, latency
from cairn.core.clock import ManualClock
from cairn.core.config import Settings
from cairn.core.errors import InvalidInput
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.chatlog import conversation_of, locomo_turns
from cairn.core.memory.retrieval.embed import Embedder
from cairn.core.memory.retrieval.retrieve import Retrievers
from cairn.core.memory.storage.records import Source
from cairn.core.memory.storage.scratch import ScratchIndex

CATEGORIES = ("1", "2", "3", "4")
Progress = Callable[[str, int, int], None]


@dataclass
class Turn:
    dia_id: str
    speaker: str
    text: str
    session: int
    time: float


@dataclass
class Question:
    text: str
    category: str
    evidence: set[str]
    answer: str = ""  # the gold answer (category 5: the adversarial answer the premise invites)


@dataclass
class Conversation:
    sample_id: str
    turns: list[Turn] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    unanswerable: list[str] = field(default_factory=list)  # category 5: the premise is not in the conversation
    adversarial: list[Question] = field(default_factory=list)  # the same category-5 questions, with evidence


def clean_evidence(raw: list[str], valid: set[str]) -> set[str]:
    """Split on separators, repair `D:11:26` -> `D11:26` and `D30:05` -> `D30:5`, drop unknown ids."""
    out = set()
    for item in raw:
        for part in re.split(r"[;,\s]+", item):
            fixed = re.sub(r"^D:(\d+)", r"D\1", part)
            match = re.fullmatch(r"D(\d+):(\d+)", fixed)
            if match and (ident := f"D{int(match.group(1))}:{int(match.group(2))}") in valid:
                out.add(ident)
    return out


def load(path: Path) -> list[Conversation]:
    """LoCoMo-format conversations from a JSON file (a list of them, or one), or from every
    ``*.json`` file of a folder (REALTALK ships one conversation a file)."""
    path = Path(path)
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files:
        raise InvalidInput(f"{path} holds no .json files.")
    out = []
    for file in files:
        try:
            data = json.loads(file.read_bytes())
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"Cannot read the LoCoMo file {file}: {exc}.") from exc
        items = data if isinstance(data, list) else [data]
        out += [_conversation(item, n, file) for n, item in enumerate(items, start=1)]
    return out


def _conversation(item: Any, n: int, path: Path) -> Conversation:
    try:
        _, raw = conversation_of(item, n)
    except InvalidInput as exc:
        raise InvalidInput(f"{path} is not a LoCoMo-format file: {exc.message}") from exc
    name = str(item.get("sample_id") or (path.stem if n == 1 else f"{path.stem}-{n}"))  # unique per file
    try:
        conv = Conversation(name)
        conv.turns = [Turn(t.dia_id, t.speaker, t.text, t.session, t.time) for t in locomo_turns(raw)]
        valid = {t.dia_id for t in conv.turns}
        for q in item.get("qa", []):
            evidence = clean_evidence(q.get("evidence", []), valid)
            if str(q.get("category")) in CATEGORIES and evidence:
                conv.questions.append(Question(q["question"], str(q["category"]), evidence, str(q.get("answer", ""))))
            elif str(q.get("category")) == "5":
                conv.unanswerable.append(q["question"])
                conv.adversarial.append(Question(q["question"], "5", evidence, str(q.get("adversarial_answer", ""))))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(f"{path}: conversation {name} is malformed ({exc!r}).") from exc
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: conversation {name}: {exc.message}") from exc
    if not conv.turns:
        raise InvalidInput(f"{path}: conversation {name} has no turns.")
    return conv


def ingest(bank: MemoryBank, clock: ManualClock, conv: Conversation, progress: Progress | None = None) -> float:
    start = time.perf_counter()
    for n, turn in enumerate(conv.turns, start=1):
        clock.set(turn.time)
        source = Source("conversation", f"{conv.sample_id}:session_{turn.session}", (turn.dia_id,), turn.time,
                        turn.speaker)
        bank.remember(turn.text, kind="turn", source=source, continues=True)
        if progress and n % 25 == 0:
            progress(f"ingest {conv.sample_id}", n, len(conv.turns))
    return time.perf_counter() - start


def _turn_ids(hits: list[Any]) -> list[tuple[str, ...]]:
    return [h.memory.source.turns for h in hits]


def evaluate(bank: MemoryBank, conv: Conversation, ks: list[int], tally: Tally, use: Retrievers,
             timings: list[float] | None = None) -> None:
    for q in conv.questions:
        start = time.perf_counter()
        hits = bank.recall(q.text, k=max(ks), touch=False, use=use)
        if timings is not None:
            timings.append(time.perf_counter() - start)
        tally.add(q.category, at_ks(_turn_ids(hits), q.evidence, ks))


BASELINES = ("bm25", "dense", "rrf")
FUSION_DEPTH = 100  # how deep each ranking goes into reciprocal-rank fusion
RRF_K = 60  # the constant of Cormack et al. (2009)


def turn_text(t: Turn) -> str:
    """What the baselines index: "Speaker: text" (a photo's caption is already in the text)."""
    return f"{t.speaker}: {t.text}"


def rrf(rankings: list[list[int]], depth: int) -> list[int]:
    """Reciprocal-rank fusion: sum of 1 / (60 + rank) over the rankings, best first."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores, key=lambda i: -scores[i])[:depth]


def baselines(embedder: Embedder, conv: Conversation, ks: list[int], tallies: dict[str, Tally]) -> None:
    """The standard methods on the same "Speaker: text" turns, nothing else: plain FTS5 BM25 (the
    bank's tokenizer), plain dense search (the same embedder, cosine, top-k over every turn), and
    their reciprocal-rank fusion."""
    texts = [turn_text(t) for t in conv.turns]
    vectors = embedder.embed(texts)  # unit rows (the Embedder contract): a dot product is the cosine
    ids = [(t.dia_id,) for t in conv.turns]
    with ScratchIndex(texts) as fts:
        for q in conv.questions:
            query = embedder.embed([q.text])[0]
            dense = [int(i) for i in np.argsort(-(vectors @ query))[:FUSION_DEPTH]]
            bm25 = fts.search(q.text, FUSION_DEPTH)
            for name, ranking in (("bm25", bm25), ("dense", dense), ("rrf", rrf([bm25, dense], FUSION_DEPTH))):
                tallies[name].add(q.category, at_ks([ids[i] for i in ranking[:max(ks)]], q.evidence, ks))


def run(path: Path, ks: list[int], ablate: bool = False, *, embedder: Embedder,
        settings: Settings | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """The whole benchmark; returns the JSON-ready report (the fusion recall uses, and the fixed
    fusion beside it when that is the learned one)."""
    conversations = load(path)
    settings = settings or Settings()
    tally, fixed, plain = Tally(), Tally(), {name: Tally() for name in BASELINES}
    ablations = {name: Tally() for name in _component_names()} if ablate else {}
    timings: list[float] = []
    ingest_s = 0.0
    fusion = "fixed"
    for done, conv in enumerate(conversations, start=1):
        with tempfile.TemporaryDirectory(prefix="cairn-bench-") as tmp:
            clock = ManualClock()
            with MemoryBank.open(Path(tmp) / "memory.db", settings, embedder=embedder, clock=clock,
                                 in_memory_index=True) as bank:
                ingest_s += ingest(bank, clock, conv, progress)
                evaluate(bank, conv, ks, tally, Retrievers(), timings)
                evaluate(bank, conv, ks, fixed, Retrievers(learned=False))
                baselines(embedder, conv, ks, plain)
                for name, t in ablations.items():
                    evaluate(bank, conv, ks, t, Retrievers(**{name: False}))
                fusion = "learned" if bank.ranker is not None else "fixed"
        if progress:
            progress("conversations", done, len(conversations))
    report = _report(tally, plain, ablations, timings, ingest_s, conversations, embedder)
    report["fusion"] = fusion
    report["fixed_fusion"] = {"macro": fixed.macro(CATEGORIES), "per_category": fixed.per_category()}
    return report


def _component_names() -> list[str]:
    return [f.name for f in fields(Retrievers)]


def _report(tally: Tally, plain: dict[str, Tally], ablations: dict[str, Tally], timings: list[float],
            ingest_s: float, conversations: list[Conversation], embedder: Embedder) -> dict[str, Any]:
    turns = sum(len(c.turns) for c in conversations)
    report: dict[str, Any] = {
        "questions": tally.questions,
        "conversations": len(conversations),
        "macro": tally.macro(CATEGORIES),
        "per_category": tally.per_category(),
        "latency_ms": latency(timings),
        "ingest": {"turns": turns, "seconds": round(ingest_s, 2),
                   "ms_per_turn": round(1000 * ingest_s / max(1, turns), 2)},
        "baselines": {name: {"macro": t.macro(CATEGORIES), "per_category": t.per_category()} for name, t in plain.items()},
        "embedder": {"id": embedder.id, "dim": embedder.dim},
    }
    if ablations:
        report["ablation"] = {f"without_{name}": t.macro(CATEGORIES) for name, t in ablations.items()}
    return report
