"""The retrieval gate: does this turn need the user's memories at all? (after Adapt-LLM's <RET>)

Cheap signals that need no model (p95 well under 2 ms): names the memory bank knows (speakers,
words its memories hold) and names it does not, first/second person, time and past events, how
much of the question the bank's vocabulary supports, task and chit-chat forms (greetings,
"write a haiku", arithmetic), plus the conversation state (a follow-up to a turn that used
memory) and, when a model is loaded, the model's own <RET> probability. A logistic model whose
weights are fitted by ``cairn gate fit`` on labelled questions (stored in ``models/gate.json``)
combines the model-free signals; the state and the LLM's vote enter as fixed log-odds terms (no
labelled multi-turn or model data exists here to fit them). The decision, its confidence and the
strongest reasons are returned together.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cairn.core.memory.lexicon import is_stopword
from cairn.core.memory.logistic import LogisticModel

FEATURES = ("known_speaker", "known_names", "unknown_names", "first_person", "second_person", "time_or_past",
            "bank_support", "task_request", "greeting", "arithmetic")
_NAME = re.compile(r"\b([A-Z][a-zà-ÿ]+(?:['’]s)?(?:\s+[A-Z][a-zà-ÿ]+(?:['’]s)?)*)")
_WORD = re.compile(r"\w+")
FIRST = frozenset("i me my mine myself we us our ours".split())
SECOND = frozenset("you your yours yourself".split())
TIME = frozenset("""when ago last yesterday earlier before since previously remember remembered did was were had
week month year weekend birthday recently""".split())
TASKS = frozenset("""write compose draft translate summarize summarise explain calculate compute convert list
generate create give tell define solve rewrite code implement suggest recommend""".split())
GREETINGS = frozenset("hi hello hey thanks thank bye goodbye morning evening night cheers".split())
_ARITH = re.compile(r"\d\s*[-+*/x×÷^]\s*\d|\bsquare root\b|\bpercent of\b", re.IGNORECASE)


class Probe(Protocol):
    """What the gate may ask the memory bank (cheap lookups only)."""

    def speakers(self) -> set[str]: ...

    def document_frequency(self, words: list[str]) -> dict[str, int]: ...


@dataclass(frozen=True)
class State:
    """Conversation state the gate may use."""

    previous_used_memory: bool = False
    llm_ret: float | None = None  # P(<RET>) from the model's gate prompt, when a model is loaded


@dataclass(frozen=True)
class Decision:
    retrieve: bool
    confidence: float  # probability that memory is needed
    reason: str
    signals: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"retrieve": self.retrieve, "confidence": round(self.confidence, 4), "reason": self.reason,
                "signals": {k: round(v, 4) for k, v in self.signals.items()}}


def signals(query: str, probe: Probe) -> dict[str, float]:
    """The model-free signals of one query against the bank (fitted features only)."""
    words = _WORD.findall(query.casefold())
    names = [_WORD.findall(n.replace("'s", "").replace("’s", "").casefold()) for n in _names(query)]
    speakers = {s.casefold() for s in probe.speakers()}
    content = [w for w in words if not is_stopword(w) and len(w) > 2 and not w.isdigit()]
    df = probe.document_frequency(sorted(set(content) | {w for n in names for w in n}))
    # someone who speaks in the bank; else a name every word of which the bank's memories hold
    spoken = [n for n in names if " ".join(n) in speakers]
    known = [n for n in names if n not in spoken and all(df.get(w, 0) > 0 for w in n)]
    lead = [w for w in words if w not in ("please", "can", "could", "you", "would")][:1]
    return {
        "known_speaker": math.log1p(len(spoken)),
        "known_names": math.log1p(len(known)),
        "unknown_names": math.log1p(len(names) - len(spoken) - len(known)),
        "first_person": float(any(w in FIRST for w in words)),
        "second_person": float(any(w in SECOND for w in words)),
        "time_or_past": math.log1p(sum(w in TIME for w in words)),
        "bank_support": sum(df.get(w, 0) > 0 for w in content) / max(len(content), 1),
        "task_request": float(bool(lead) and lead[0] in TASKS),
        "greeting": float(len(words) <= 6 and any(w in GREETINGS for w in words)),
        "arithmetic": float(bool(_ARITH.search(query))),
    }


def _names(text: str) -> list[str]:
    """Capitalised words that are not the first word of a sentence (nor "I")."""
    out = []
    for match in _NAME.finditer(text):
        before = text[: match.start()].rstrip()
        if before and before[-1] not in ".!?" and match.group(1) not in ("I", "I'm"):
            out.append(match.group(1))
    return out


class Gate:
    """Retrieve or not, from the fitted model plus conversation state and the LLM's <RET> vote."""

    def __init__(self, model: LogisticModel, threshold: float = 0.5, follow_up_logit: float = 1.0,
                 llm_weight: float = 1.0) -> None:
        self.model = model
        self.threshold = threshold
        self.follow_up_logit = follow_up_logit  # fixed prior: no labelled multi-turn data to fit it on
        self.llm_weight = llm_weight

    @classmethod
    def load(cls, path: Path | None = None, **options: float) -> "Gate":
        return cls(LogisticModel.load(path, "gate.json", FEATURES, "gate", "cairn gate fit"), **options)

    def decide(self, query: str, probe: Probe, state: State = State()) -> Decision:
        values = signals(query, probe)
        extra = self.follow_up_logit if state.previous_used_memory else 0.0
        if state.llm_ret is not None:
            p = min(max(state.llm_ret, 1e-4), 1 - 1e-4)
            extra += self.llm_weight * math.log(p / (1 - p))
        pred = self.model.predict(values, extra)
        retrieve = pred.probability >= self.threshold
        top = sorted(pred.pushes.items(), key=lambda kv: -kv[1] if retrieve else kv[1])[:2]
        reason = ", ".join(f"{'no ' if values[name] == 0 else ''}{name} ({push:+.2f})"
                           for name, push in top if (push > 0) == retrieve) or "base rate"
        return Decision(retrieve, pred.probability, reason, values)


def is_request(text: str) -> bool:
    """A question or a task ("write ...", "what is ...?"), as opposed to a statement to remember."""
    words = _WORD.findall(text.casefold())
    return text.rstrip().endswith("?") or bool(words) and (words[0] in TASKS or words[0] in QUESTION_WORDS)


QUESTION_WORDS = frozenset("what when where who whom whose which why how is are do does did can could would "
                           "should will am was were have has had".split())
