"""`cairn bench gate` and `cairn gate fit`: does the gate retrieve exactly when memory is needed?

Labelled sources, each reported on its own: LoCoMo questions (categories 1-5, each conversation
ingested into its own bank through the real remember path) must retrieve; PopQA questions and a
chit-chat/task set written here, spread evenly over the same banks, must not; and each persona of
a persona file (``cairn.core.bench.personas``: a person's own bank, with personal questions that
must retrieve, world questions and tasks naming the bank's own entities and chit-chat that must
not, and follow-ups labelled by their context). ``cross_validate`` scores every bank with weights
fitted on the others only (leave-one-persona-out, leave-one-conversation-out).
"""

from __future__ import annotations

import itertools
import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cairn.core.bench import personas as persona_sets
from cairn.core.bench.gate_data import CHITCHAT, FIRST_PERSON
from cairn.core.bench.gate_vote import Voter
from cairn.core.bench.locomo import ingest, load
from cairn.core.bench.metrics import latency
from cairn.core.clock import ManualClock
from cairn.core.config import Settings
from cairn.core.errors import InvalidInput
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.gate import fit as gate_fit
from cairn.core.memory.gate.decision import Gate, State
from cairn.core.memory.gate.signals import Context, signals
from cairn.core.memory.retrieval.embed import Embedder

Progress = Callable[[str, int, int], None]
QUESTION = "question"  # field of the PopQA format (the data itself is never in the repository)


@dataclass(frozen=True)
class Item:
    text: str
    label: bool
    source: str
    previous_used_memory: bool = False


@dataclass
class Labelled:
    group: str
    bank: MemoryBank
    items: list[Item]


def load_world(path: Path) -> list[str]:
    try:
        data = json.loads(Path(path).read_bytes())
        return [str(item[QUESTION]) for item in data.values()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"{path} is not a PopQA-format file (a JSON object of {{id: {{question: ...}}}}): "
                           f"{exc}.") from exc


@contextmanager
def labelled(personal: Path | None, world: Path | None, persona_file: Path | None, *, embedder: Embedder,
             settings: Settings, progress: Progress | None, for_fitting: bool = False) -> Iterator[list[Labelled]]:
    """Every bank with its labelled items (closed and deleted on exit). ``for_fitting`` adds the
    first-person set to the conversations' banks."""
    with tempfile.TemporaryDirectory(prefix="cairn-gate-") as tmp, ExitStack() as stack:
        numbers = itertools.count()

        def open_bank(name: str) -> tuple[MemoryBank, ManualClock]:
            clock = ManualClock()
            bank = MemoryBank.open(Path(tmp) / f"{next(numbers)}-{name}.db", settings, embedder=embedder, clock=clock)
            stack.callback(bank.close)
            return bank, clock

        out = _conversations(personal, world, open_bank, progress, for_fitting) if personal and world else []
        for persona in persona_sets.load(persona_file) if persona_file != Path("-") else []:
            bank, clock = open_bank(persona.id)
            persona_sets.ingest(bank, clock, persona)
            out.append(Labelled(persona.id, bank, [Item(i.text, i.retrieve, "persona_" + i.kind, i.previous_retrieve)
                                                   for i in persona.items]))
        yield out


def _conversations(personal: Path, world: Path, open_bank: Callable[[str], tuple[MemoryBank, ManualClock]],
                   progress: Progress | None, for_fitting: bool) -> list[Labelled]:
    conversations, others = load(personal), load_world(world)
    out = []
    for i, conv in enumerate(conversations):
        bank, clock = open_bank(conv.sample_id)
        ingest(bank, clock, conv, progress)
        spread = len(conversations)
        items = [Item(q.text, True, "locomo") for q in conv.questions]
        items += [Item(q, True, "locomo") for q in conv.unanswerable]
        items += [Item(q, True, "first_person") for q in FIRST_PERSON[i::spread]] if for_fitting else []
        items += [Item(q, False, "popqa") for q in others[i::spread]]
        items += [Item(q, False, "chitchat") for q in CHITCHAT[i::spread]]
        out.append(Labelled(conv.sample_id, bank, items))
    return out


def examples(sets: list[Labelled], embedder_id: str) -> list[gate_fit.Example]:
    """The gate's signals (and question embeddings) for every labelled item."""
    out = []
    for s in sets:
        probe = s.bank.probe()
        for item in s.items:
            values = signals(item.text, probe, Context(item.previous_used_memory), embedder_id)
            out.append(gate_fit.Example(values, probe.embedding(item.text, embedder_id), item.label, item.source,
                                        s.group))
    return out


def fit_gate(personal: Path | None, world: Path | None, persona_file: Path | None = None, *, embedder: Embedder,
             settings: Settings | None = None, progress: Progress | None = None,
             costs: gate_fit.Costs = gate_fit.Costs()) -> Gate:
    """Fit the gate's weights and threshold on every labelled question."""
    with labelled(personal, world, persona_file, embedder=embedder, settings=settings or Settings(),
                  progress=progress, for_fitting=True) as sets:
        gate, _ = gate_fit.fit(examples(sets, embedder.id), embedder.id, costs)
    return gate


def run(personal: Path | None, world: Path | None, persona_file: Path | None = None, *, embedder: Embedder,
        settings: Settings | None = None, cross_validate: bool = False, vote_model: Path | None = None,
        progress: Progress | None = None) -> dict[str, Any]:
    """The whole benchmark; returns the JSON-ready report. With ``vote_model``, also the scores
    when that model's <RET> vote is asked inside the unsure band."""
    settings = settings or Settings()
    shipped = Gate.load()
    with ExitStack() as stack:
        voter = stack.enter_context(Voter(vote_model, settings, shipped.threshold)) if vote_model else None
        sets = stack.enter_context(labelled(personal, world, persona_file, embedder=embedder, settings=settings,
                                            progress=progress))
        if not sets:
            raise InvalidInput("Nothing to measure: give --personal and --world, or personas.")
        rows = _cross_validated(sets, embedder.id, shipped) if cross_validate else _shipped(sets, shipped, voter)
    report = summarise(rows)
    report.update({"cross_validated": cross_validate, "threshold": shipped.threshold})
    if not cross_validate:
        report["latency_ms"] = latency([r["seconds"] for r in rows])
        report["embed_ms"] = latency([r["embed_s"] for r in rows])
    if voter is not None:
        report["with_llm_vote"] = summarise([dict(r, retrieve=r["voted"]) for r in rows])["macro"] | voter.summary()
    return report


def _shipped(sets: list[Labelled], gate: Gate, voter: Voter | None) -> list[dict[str, Any]]:
    rows = []
    for s in sets:
        probe = s.bank.probe()
        for item in s.items:
            start = time.perf_counter()
            probe.embedding(item.text, gate.embedder_id)  # once per turn, shared with recall: timed apart
            embedded = time.perf_counter()
            state = State(item.previous_used_memory)
            decision = gate.decide(item.text, probe, state)
            done = time.perf_counter()
            voted = voter.decide(gate, item.text, decision) if voter else decision.retrieve
            rows.append({"group": s.group, "source": item.source, "label": item.label, "retrieve": decision.retrieve,
                         "voted": voted, "seconds": done - embedded, "embed_s": embedded - start})
    return rows


def _cross_validated(sets: list[Labelled], embedder_id: str, shipped: Gate) -> list[dict[str, Any]]:
    data = examples(sets, embedder_id)
    probs = gate_fit.out_of_group(data, embedder_id)
    return [{"group": e.group, "source": e.source, "label": e.label, "retrieve": p >= shipped.threshold}
            for e, p in zip(data, probs, strict=False)]


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Scores per source, per persona, LoCoMo vs PopQA, all personas, and the macro accuracy over
    sources, next to always- and never-retrieve."""
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by["source:" + r["source"]].append(r)
        if r["source"].startswith("persona_"):
            by["persona:" + r["group"]].append(r)
            by["all_personas"].append(r)
        if r["source"] in ("locomo", "popqa"):
            by["locomo_vs_popqa"].append(r)
    scored = {k: scores([r["retrieve"] for r in v], [r["label"] for r in v]) for k, v in sorted(by.items())}
    sources = [v["accuracy"] for k, v in scored.items() if k.startswith("source:")]
    labels = [r["label"] for r in rows]
    return {"macro": {"accuracy": round(sum(sources) / max(len(sources), 1), 4)}, "sets": scored,
            "questions": {"retrieve": sum(labels), "skip": len(labels) - sum(labels)},
            "baselines": {"always": scores([True] * len(labels), labels), "never": scores([False] * len(labels), labels)}}


def scores(decisions: list[bool], labels: list[bool]) -> dict[str, float]:
    tp = sum(d and y for d, y in zip(decisions, labels, strict=False))
    fp = sum(d and not y for d, y in zip(decisions, labels, strict=False))
    fn = sum(y and not d for d, y in zip(decisions, labels, strict=False))
    n = max(len(labels), 1)
    return {"accuracy": round(sum(d == y for d, y in zip(decisions, labels, strict=False)) / n, 4),
            "retrieve_precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
            "retrieve_recall": round(tp / (tp + fn), 4) if tp + fn else 0.0,
            "skip_rate": round(sum(not d for d in decisions) / n, 4), "n": len(labels)}
