"""`cairn bench gate`: does the retrieval gate retrieve exactly when personal memory is needed?

Labelled mix: personal questions (LoCoMo categories 1-4, each conversation ingested into its own
temporary bank through the real remember path) must retrieve; world-knowledge questions (PopQA)
and a chit-chat/task set written here must not. World and chit-chat questions are spread evenly
over the same banks as the personal ones. Reported next to always-retrieve and never-retrieve.
``cross_validate`` scores each conversation's bank with weights fitted on the others only.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from cairn.core.bench.locomo import ingest, load
from cairn.core.bench.metrics import latency
from cairn.core.clock import ManualClock
from cairn.core.config import Settings
from cairn.core.errors import InvalidInput
from cairn.core.llm.chat import Chat
from cairn.core.llm.runtime import LoadOptions, Runtime
from cairn.core.llm.session import Session
from cairn.core.llm.vote import retrieval_vote
from cairn.core.memory import gate
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.embed import Embedder
from cairn.core.memory.logistic import LogisticModel, fit

Progress = Callable[[str, int, int], None]
QUESTION = "question"  # field of the PopQA format (the data itself is never in the repository)

CHITCHAT = [
    "hello!", "hi there", "good morning", "thanks a lot", "bye for now", "hey, how are you?",
    "Write a haiku about autumn leaves.", "Write a limerick about a cat who codes.",
    "Compose a short poem about the sea.", "Translate 'good night' into Spanish.",
    "Translate this to French: where is the station?", "What is 17 * 23?", "What's 144 / 12?",
    "Calculate 15% of 80.", "What is the square root of 81?", "Convert 10 miles to kilometres.",
    "Explain how a rainbow forms.", "Explain recursion to a beginner.", "Summarize the plot of Hamlet.",
    "Give me three tips for better sleep.", "Suggest a name for a bakery.", "Tell me a joke.",
    "Tell me a fun fact about octopuses.", "Write a Python function that reverses a string.",
    "How do I boil an egg?", "What does 'ephemeral' mean?", "Define photosynthesis.",
    "List five fruits that are high in vitamin C.", "Generate a random password idea.",
    "Rewrite this sentence more politely: give me the report now.", "Draft a short thank-you email.",
    "What rhymes with orange?", "Recommend a board game for four players.", "How many days are in a leap year?",
    "What is the boiling point of water in Fahrenheit?", "Solve 2x + 6 = 14.", "Can you write a riddle?",
    "Could you explain what an API is?", "Please write a two-line motivational quote.",
    "Create a grocery list for a pasta dinner.", "What time zone is used in Tokyo?",
    "Explain the difference between weather and climate.", "Write a tweet announcing a bake sale.",
    "Give me a synonym for happy.", "How do you say thank you in Japanese?", "What's 2 to the power of 10?",
    "Summarise the theory of evolution in two sentences.", "Write a short story opening line.",
    "Suggest a stretching routine for the morning.", "What are the primary colours?",
]


# First-person questions about the user's own life, used only when fitting (LoCoMo's questions name
# the speakers in the third person; a user asks about "my" things): they must retrieve.
FIRST_PERSON = [
    "What did I tell you about my sister?", "When is my dentist appointment?", "What's my wifi password at the cabin?",
    "Where did I park the car last week?", "What did I say my favourite book was?", "When is my brother's birthday?",
    "What medication does my cat need?", "Who is my cello teacher?", "What was I allergic to again?",
    "Which hotel did I book for the trip?", "What did we decide about the garden?", "Remind me what my boss asked for.",
    "What did I buy for Ana's birthday last year?", "Where does my sister live now?", "What was the name of my first dog?",
    "Did I already pay the electricity bill?", "What did I plan for the weekend?", "How far did I run on Sunday?",
    "What's the name of the restaurant I liked in Porto?", "When did I start my new job?",
    "What did my doctor say about my knee?", "Which train do I usually take to work?",
    "What did I promise to bring to the party?", "What are my goals for this year?",
    "Who did I meet at the conference?", "What did I write about the meeting on Monday?",
]


def load_world(path: Path) -> list[str]:
    try:
        data = json.loads(Path(path).read_bytes())
        return [str(item[QUESTION]) for item in data.values()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"{path} is not a PopQA-format file (a JSON object of {{id: {{question: ...}}}}): "
                           f"{exc}.") from exc


def labelled(personal: Path, world: Path, *, embedder: Embedder, settings: Settings, progress: Progress | None,
             work: Path, for_fitting: bool = False) -> list[tuple[str, MemoryBank, list[tuple[str, bool]]]]:
    """Per conversation: its bank and (question, must-retrieve) pairs, world and chit-chat spread
    evenly over the banks (``for_fitting`` adds the first-person set). The caller closes the banks."""
    conversations = load(personal)
    others = load_world(world) + CHITCHAT
    mine = FIRST_PERSON if for_fitting else []
    out = []
    for i, conv in enumerate(conversations):
        clock = ManualClock()
        bank = MemoryBank.open(work / f"{conv.sample_id}.db", settings, embedder=embedder, clock=clock)
        ingest(bank, clock, conv, progress)
        items = [(q.text, True) for q in conv.questions] + [(q, True) for q in mine[i::len(conversations)]]
        out.append((conv.sample_id, bank, items + [(q, False) for q in others[i::len(conversations)]]))
    return out


def rows(bank: MemoryBank, items: list[tuple[str, bool]]) -> tuple[list[dict[str, float]], list[bool]]:
    probe = bank.probe()
    return [gate.signals(q, probe) for q, _ in items], [label for _, label in items]


def fit_gate(personal: Path, world: Path, *, embedder: Embedder, settings: Settings | None = None,
             progress: Progress | None = None) -> LogisticModel:
    """Fit the gate's weights on every labelled question."""
    with tempfile.TemporaryDirectory(prefix="cairn-gate-") as tmp:
        banks = labelled(personal, world, embedder=embedder, settings=settings or Settings(), progress=progress,
                         work=Path(tmp), for_fitting=True)
        try:
            return _fit({name: rows(bank, items) for name, bank, items in banks})
        finally:
            for _, bank, _ in banks:
                bank.close()


def _fit(data: dict[str, tuple[list[dict[str, float]], list[bool]]], exclude: str | None = None) -> LogisticModel:
    names = [n for n in data if n != exclude]
    meta = {"fitted_on": names, "label": "retrieve for LoCoMo questions (categories 1-4) and first-person "
            "questions; not for PopQA and chit-chat/task prompts", "date": date.today().isoformat()}
    return fit([r for n in names for r in data[n][0]], [y for n in names for y in data[n][1]], gate.FEATURES,
               meta=meta)


def run(personal: Path, world: Path, *, embedder: Embedder, settings: Settings | None = None,
        cross_validate: bool = False, vote_model: Path | None = None,
        progress: Progress | None = None) -> dict[str, Any]:
    """The whole benchmark; returns the JSON-ready report. With ``vote_model``, also the accuracy
    when that model's <RET> vote is asked in the unsure band (``assistant.vote_low``..``vote_high``)."""
    settings = settings or Settings()
    voter = _Voter(vote_model, settings) if vote_model is not None else None
    try:
        with tempfile.TemporaryDirectory(prefix="cairn-gate-") as tmp:
            banks = labelled(personal, world, embedder=embedder, settings=settings, progress=progress,
                             work=Path(tmp))
            try:
                data = {name: rows(bank, items) for name, bank, items in banks}
                shipped = gate.Gate.load()
                decisions, voted, labels, timings = [], [], [], []
                for name, bank, items in banks:
                    g = gate.Gate(_fit(data, exclude=name)) if cross_validate else shipped
                    probe = bank.probe()
                    for question, label in items:
                        start = time.perf_counter()
                        decision = g.decide(question, probe)
                        timings.append(time.perf_counter() - start)
                        decisions.append(decision.retrieve)
                        voted.append(voter.decide(g, question, probe, decision) if voter else decision.retrieve)
                        labels.append(label)
            finally:
                for _, bank, _ in banks:
                    bank.close()
    finally:
        if voter is not None:
            voter.close()
    report = scores(decisions, labels)
    report.update({"latency_ms": latency(timings), "cross_validated": cross_validate,
                   "baselines": {"always": scores([True] * len(labels), labels),
                                 "never": scores([False] * len(labels), labels)},
                   "questions": {"personal": sum(labels), "other": len(labels) - sum(labels)}})
    if voter is not None:
        report["with_llm_vote"] = scores(voted, labels) | voter.summary()
    return report


class _Voter:
    """The model's <RET> vote, asked only when the gate's probability is inside the unsure band."""

    def __init__(self, model: Path, settings: Settings) -> None:
        self.rt = Runtime(model, LoadOptions.from_settings(settings.llm))
        self.template = Chat(self.rt, Session(self.rt)).template
        self.band = (settings.assistant.vote_low, settings.assistant.vote_high)
        self.asked, self.seconds, self.model = 0, 0.0, model

    def decide(self, g: gate.Gate, question: str, probe: gate.Probe, decision: gate.Decision) -> bool:
        if not self.band[0] < decision.confidence < self.band[1]:
            return decision.retrieve
        start = time.perf_counter()
        vote = retrieval_vote(self.rt, self.template, question)
        self.seconds += time.perf_counter() - start
        self.asked += 1
        return decision.retrieve if vote is None else g.decide(question, probe, gate.State(False, vote)).retrieve

    def summary(self) -> dict[str, Any]:
        return {"model": str(self.model), "votes_asked": self.asked, "band": list(self.band),
                "vote_ms_mean": round(1000 * self.seconds / max(self.asked, 1), 1)}

    def close(self) -> None:
        self.rt.close()


def scores(decisions: list[bool], labels: list[bool]) -> dict[str, float]:
    tp = sum(d and y for d, y in zip(decisions, labels))
    fp = sum(d and not y for d, y in zip(decisions, labels))
    fn = sum(y and not d for d, y in zip(decisions, labels))
    n = max(len(labels), 1)
    return {"accuracy": round(sum(d == y for d, y in zip(decisions, labels)) / n, 4),
            "retrieve_precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
            "retrieve_recall": round(tp / (tp + fn), 4) if tp + fn else 0.0,
            "skip_rate": round(sum(not d for d in decisions) / n, 4)}
