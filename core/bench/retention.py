"""`cairn bench retention`: how many later-asked-about turns survive a storage budget.

Each LoCoMo-format conversation is fed turn by turn through the real conversation path
(:meth:`MemoryBank.log_turn`, with the clock at each session's date); after each session a
real sweep runs with a budget of ``budget`` x the turns seen so far. Reported: the share of
evidence turns (categories 1-4) still held by a live memory, next to baselines computed in the
same process on the same turns (keep the most recent, a random, the longest, or the highest
unigram-surprisal share), LoCoMo recall@10 over what was kept, and how much of each gold answer's
content words the ten memories recalled still hold (what an answer could be written from).

``cross_validate`` runs each conversation with importance weights fitted on the others only
(leave one conversation out): the honest figure for conversations the weights never saw.
"""

from __future__ import annotations

import math
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from cairn.core.bench.locomo import CATEGORIES, Conversation, load
from cairn.core.bench.metrics import Tally, at_k
from cairn.core.clock import ManualClock
from cairn.core.config import Settings
from cairn.core.errors import InvalidInput
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.retention.importance import (
    FEATURES,
    ImportanceModel,
    TokenSurprisal,
    content_words,
    fit,
    words,
)
from cairn.core.memory.retrieval.embed import Embedder

Progress = Callable[[str, int, int], None]
BASELINES = ("recency", "random", "length", "unigram_surprisal")


def evidence(conv: Conversation) -> set[str]:
    return set().union(*(q.evidence for q in conv.questions)) if conv.questions else set()


def feed(bank: MemoryBank, clock: ManualClock, conv: Conversation, budget: float | None,
         progress: Progress | None = None) -> list[dict[str, Any]]:
    """All turns through ``log_turn``; a sweep after each session when ``budget`` is set."""
    sweeps: list[dict[str, Any]] = []
    for n, turn in enumerate(conv.turns, start=1):
        clock.set(turn.time)
        bank.log_turn(conv.sample_id, turn.text, speaker=turn.speaker, turn=turn.dia_id, at=turn.time)
        session_ends = n == len(conv.turns) or conv.turns[n].session != turn.session
        if budget is not None and session_ends:
            sweeps.append(bank.sweep(turn.time, max(1, int(budget * n))).to_dict())
        if progress and n % 50 == 0:
            progress(f"feed {conv.sample_id}", n, len(conv.turns))
    return sweeps


def kept_turns(bank: MemoryBank) -> set[str]:
    return {t for m in bank.list("live") for t in m.source.turns}


def kept_text(bank: MemoryBank) -> int:
    """Characters of text the live memories hold (what the budget really stores)."""
    return sum(len(m.text) for m in bank.list("live"))


def recall_after(bank: MemoryBank, conv: Conversation, k: int, tally: Tally, answers: list[float]) -> None:
    """Each question's recall@k over what is live, and (into ``answers``) the share of its gold
    answer's content words that the text of the ``k`` memories recalled still holds."""
    for q in conv.questions:
        hits = bank.recall(q.text, k=k, touch=False)
        tally.add(q.category, at_k([h.memory.source.turns for h in hits], q.evidence, k))
        gold = set(content_words(words(q.answer)))
        if gold:
            held = set(words(" ".join(h.memory.text for h in hits)))
            answers.append(len(gold & held) / len(gold))


def baseline_keeps(conv: Conversation, budget: float, seed: int = 0) -> dict[str, set[str]]:
    """Turn ids each baseline keeps under the same budget."""
    turns = conv.turns
    n = max(1, int(budget * len(turns)))
    counts = Counter(w for t in turns for w in words(t.text))
    total = sum(counts.values())

    def surprisal(text: str) -> float:  # plain: every word, against the conversation's own counts
        return sum(-math.log2(counts[w] / total) for w in words(text))

    return {
        "recency": {t.dia_id for t in turns[-n:]},
        "random": {t.dia_id for t in random.Random(seed).sample(turns, n)},
        "length": {t.dia_id for t in sorted(turns, key=lambda t: -len(t.text))[:n]},
        "unigram_surprisal": {t.dia_id for t in sorted(turns, key=lambda t: -surprisal(t.text))[:n]},
    }


def _open(tmp: str, name: str, settings: Settings, embedder: Embedder, clock: ManualClock,
          scorer: TokenSurprisal | None = None) -> MemoryBank:
    bank = MemoryBank.open(Path(tmp) / f"{name}.db", settings, embedder=embedder, clock=clock, in_memory_index=True)
    if scorer is not None:
        bank.retention.use_token_surprisal(scorer)
    return bank


def labelled_parts(conversations: list[Conversation], *, embedder: Embedder, settings: Settings,
                   progress: Progress | None = None,
                   scorer: TokenSurprisal | None = None) -> dict[str, tuple[list[dict[str, float]], list[bool]]]:
    """Per conversation: the importance parts of every memory stored (no sweeps) and whether any
    of its turns is evidence for a later question."""
    out = {}
    with tempfile.TemporaryDirectory(prefix="cairn-fit-") as tmp:
        for conv in conversations:
            clock = ManualClock()
            with _open(tmp, conv.sample_id, settings, embedder, clock, scorer) as bank:
                bank.retention.use_importance_model(ImportanceModel.neutral())
                feed(bank, clock, conv, None, progress)
                gold = evidence(conv)
                mems = [m for m in bank.list("live") if m.importance_parts]
                out[conv.sample_id] = ([m.importance_parts for m in mems],
                                       [bool(set(m.source.turns) & gold) for m in mems])
    return out


def fit_weights(path: Path, *, embedder: Embedder, settings: Settings | None = None,
                exclude: tuple[str, ...] = (), progress: Progress | None = None) -> ImportanceModel:
    """Fit importance weights on every conversation in ``path`` except ``exclude``."""
    conversations = [c for c in load(path) if c.sample_id not in exclude]
    parts = labelled_parts(conversations, embedder=embedder, settings=settings or Settings(), progress=progress)
    return _fit(parts, list(parts))


def _fit(parts: dict[str, tuple[list[dict[str, float]], list[bool]]], names: list[str],
         background: str = "wordfreq-en") -> ImportanceModel:
    rows = [r for n in names for r in parts[n][0]]
    labels = [y for n in names for y in parts[n][1]]
    meta = {"fitted_on": names, "examples": len(rows), "positives": sum(labels),
            "label": "a later question cites one of the memory's turns (LoCoMo categories 1-4)",
            "background": background, "date": date.today().isoformat()}
    return fit(rows, labels, meta=meta)


def run(path: Path, budget: float = 0.3, *, embedder: Embedder, settings: Settings | None = None,
        cross_validate: bool = False, ablate: bool = False, k: int = 10,
        progress: Progress | None = None, scorer: TokenSurprisal | None = None) -> dict[str, Any]:
    """The whole benchmark; returns the JSON-ready report. With ``scorer`` (a loaded LLM), memories'
    information is its token surprisal, and the same run with word frequencies is reported beside."""
    if not 0 < budget <= 1:
        raise InvalidInput(f"The budget is a share of the turns, between 0 and 1; got {budget}.")
    conversations = load(path)
    settings = settings or Settings()
    report = _arm(conversations, budget, embedder, settings, cross_validate, k, progress, scorer)
    compared = ("evidence_kept", "text_kept", f"recall@{k}_after_sweep", f"answer_words@{k}_after_sweep")
    if scorer is not None:  # the same run with the word-frequency background, for comparison
        plain = _arm(conversations, budget, embedder, settings, cross_validate, k, progress, None)
        report["background"] = f"llm:{scorer.model_id}"
        report["word_frequency"] = {key: plain[key] for key in compared}
    if ablate:
        parts = labelled_parts(conversations, embedder=embedder, settings=settings, progress=progress, scorer=scorer)
        report["ablation"] = ablation(conversations, parts, budget)
    return report


def _arm(conversations: list[Conversation], budget: float, embedder: Embedder, settings: Settings,
         cross_validate: bool, k: int, progress: Progress | None, scorer: TokenSurprisal | None) -> dict[str, Any]:
    """One background's run: weights fitted on the others (``cross_validate``) with that same
    background, then every conversation fed and swept."""
    folds: dict[str, ImportanceModel] = {}
    if cross_validate:
        parts = labelled_parts(conversations, embedder=embedder, settings=settings, progress=progress, scorer=scorer)
        background = f"llm:{scorer.model_id}" if scorer else "wordfreq-en"
        folds = {c.sample_id: _fit(parts, [n for n in parts if n != c.sample_id], background) for c in conversations}
    return _measure(conversations, budget, embedder, settings, folds, k, progress, scorer)


def _measure(conversations: list[Conversation], budget: float, embedder: Embedder, settings: Settings,
             folds: dict[str, ImportanceModel], k: int, progress: Progress | None,
             scorer: TokenSurprisal | None = None) -> dict[str, Any]:
    kept = dict.fromkeys(["cairn", *BASELINES], 0)
    per_conv, tally, started, chars = {}, Tally(), time.perf_counter(), 0
    answers: list[float] = []
    with tempfile.TemporaryDirectory(prefix="cairn-bench-") as tmp:
        for conv in conversations:
            clock = ManualClock()
            with _open(tmp, conv.sample_id, settings, embedder, clock, scorer) as bank:
                if conv.sample_id in folds:
                    bank.retention.use_importance_model(folds[conv.sample_id])
                sweeps = feed(bank, clock, conv, budget, progress)
                gold, live = evidence(conv), kept_turns(bank)
                recall_after(bank, conv, k, tally, answers)
                kept["cairn"] += len(gold & live)
                chars += kept_text(bank)
                for name, turns in baseline_keeps(conv, budget).items():
                    kept[name] += len(gold & turns)
                per_conv[conv.sample_id] = {"turns": len(conv.turns), "evidence_turns": len(gold),
                                            "evidence_kept": round(len(gold & live) / max(len(gold), 1), 4),
                                            "live_memories": sweeps[-1]["live_after"] if sweeps else 0,
                                            "archived": {r: sum(s["by_rule"][r] for s in sweeps)
                                                         for r in ("decay", "budget")},
                                            "sweep_seconds_max": max((s["seconds"] for s in sweeps), default=0.0)}
    total = sum(len(evidence(c)) for c in conversations)
    text = sum(len(t.text) for c in conversations for t in c.turns)
    return {"budget": budget, "evidence_kept": round(kept["cairn"] / max(total, 1), 4),
            "text_kept": round(chars / max(text, 1), 4),
            "baselines": {b: round(kept[b] / max(total, 1), 4) for b in BASELINES},
            "turns": sum(len(c.turns) for c in conversations), "evidence_turns": total,
            "cross_validated": bool(folds), f"recall@{k}_after_sweep": tally.macro(CATEGORIES).get(f"recall@{k}"),
            f"answer_words@{k}_after_sweep": round(sum(answers) / len(answers), 4) if answers else None,
            "per_conversation": per_conv, "seconds": round(time.perf_counter() - started, 1),
            "embedder": {"id": embedder.id, "dim": embedder.dim}}


def ablation(conversations: list[Conversation], parts: dict[str, tuple[list[dict[str, float]], list[bool]]],
             budget: float) -> dict[str, float]:
    """Share of evidence-bearing memories kept when ranking by importance alone (no sweeps),
    leave-one-conversation-out, with all parts and with each part left out of the fit."""
    out = {"all_parts": _static_kept(conversations, parts, budget, FEATURES)}
    for name in FEATURES:
        out[f"without_{name}"] = _static_kept(conversations, parts, budget, tuple(f for f in FEATURES if f != name))
    return out


def _static_kept(conversations: list[Conversation], parts: dict[str, tuple[list[dict[str, float]], list[bool]]],
                 budget: float, names: tuple[str, ...]) -> float:
    kept = total = 0
    for conv in conversations:
        others = [n for n in parts if n != conv.sample_id]
        model = fit([r for n in others for r in parts[n][0]], [y for n in others for y in parts[n][1]], names=names)
        rows, labels = parts[conv.sample_id]
        ranked = sorted(zip((model.score(r).score for r in rows), labels, strict=False), key=lambda p: -p[0])
        kept += sum(label for _, label in ranked[:max(1, int(budget * len(conv.turns)))])
        total += sum(labels)
    return round(kept / max(total, 1), 4)
