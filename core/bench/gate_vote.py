"""The chat model's <RET> vote inside the gate's unsure band, for `cairn bench gate --llm-vote`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from cairn.core.config import Settings
from cairn.core.llm.chat import Chat
from cairn.core.llm.options import LoadOptions
from cairn.core.llm.runtime import Runtime
from cairn.core.llm.session import Session
from cairn.core.llm.vote import retrieval_vote
from cairn.core.memory.gate.decision import Decision, Gate


class Voter:
    """Asks the model only when the gate's probability is inside ``assistant.vote_low..vote_high``;
    its log-odds then join the gate's (as the assistant does). A context manager: closes the model."""

    def __init__(self, model: Path, settings: Settings, threshold: float) -> None:
        self.rt = Runtime(model, LoadOptions.from_settings(settings.llm))
        self.template = Chat(self.rt, Session(self.rt)).template
        self.band = (settings.assistant.vote_low, settings.assistant.vote_high)
        self.asked, self.flipped, self.seconds, self.model = 0, 0, 0.0, model

    def decide(self, gate: Gate, question: str, decision: Decision) -> bool:
        if not self.band[0] < decision.confidence < self.band[1]:
            return decision.retrieve
        start = time.perf_counter()
        vote = retrieval_vote(self.rt, self.template, question)
        self.seconds += time.perf_counter() - start
        self.asked += 1
        if vote is None:
            return decision.retrieve
        voted = gate.with_vote(decision, vote).retrieve
        self.flipped += voted != decision.retrieve
        return voted

    def summary(self) -> dict[str, Any]:
        return {"model": str(self.model), "votes_asked": self.asked, "decisions_changed": self.flipped,
                "band": list(self.band), "vote_ms_mean": round(1000 * self.seconds / max(self.asked, 1), 1)}

    def __enter__(self) -> Voter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.rt.close()
