"""The retrieval gate: does this turn need the user's memories at all? (after Adapt-LLM's <RET>)

The signals (:mod:`cairn.core.memory.gate.signals`) say what the bank knows about the question
and what form the question has; a fitted logistic model weighs them, together with a *form
score*: a linear read of the question's embedding (the one recall needs anyway, computed once
per turn) that says how much it sounds like a question about one's own life. Both are fitted by
``cairn gate fit`` and shipped in ``models/gate.json`` with the threshold chosen from the
measured costs: a wasted retrieval costs a recall and some prompt tokens, a skipped one costs a
wrong answer and a second turn, so the gate looks when unsure. Inside an unsure band the chat
model's own <RET> vote may add its log-odds (``State.llm_ret``). A decision carries its
probability and its strongest reasons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from cairn.core.errors import ModelLoadError
from cairn.core.memory.gate.signals import FEATURES, Context, is_request, signals
from cairn.core.memory.gate.signals import Probe as SignalProbe
from cairn.core.memory.logistic import LogisticModel

__all__ = ["FEATURES", "Decision", "FormModel", "Gate", "Probe", "State", "is_request", "signals"]
MODEL_FEATURES = (*FEATURES, "form_score")
DEFAULT_THRESHOLD = 0.5


class Probe(SignalProbe, Protocol):
    """The bank lookups the gate needs, plus the question's embedding (shared with recall)."""

    def embedding(self, query: str, embedder_id: str) -> np.ndarray | None:
        """``query``'s vector from the bank's embedder if that is ``embedder_id``, else None."""
        ...


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
                "signals": {k: (None if math.isnan(v) else round(v, 4)) for k, v in self.signals.items()}}


@dataclass(frozen=True)
class FormModel:
    """A linear read of the question's embedding: log-odds that it asks about one's own life."""

    embedder: str
    weights: np.ndarray
    bias: float

    def score(self, vector: np.ndarray | None) -> float:
        if vector is None or vector.shape != self.weights.shape:
            return math.nan
        return float(self.weights @ (vector * math.sqrt(len(vector))) + self.bias)

    def to_dict(self) -> dict[str, Any]:
        return {"embedder": self.embedder, "weights": [round(float(w), 6) for w in self.weights], "bias": self.bias}

    @classmethod
    def from_dict(cls, data: Any) -> FormModel | None:
        if not data:
            return None
        try:
            return cls(str(data["embedder"]), np.asarray(data["weights"], dtype=np.float64), float(data["bias"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelLoadError(f"The gate's form model is malformed ({exc}).",
                                 hint="Reinstall Cairn, or fit new weights with `cairn gate fit`.") from exc


class Gate:
    """Retrieve or not, from the fitted model plus conversation state and the LLM's <RET> vote."""

    def __init__(self, model: LogisticModel, threshold: float | None = None, form: FormModel | None = None,
                 llm_weight: float = 1.0) -> None:
        self.model, self.form, self.llm_weight = model, form, llm_weight
        fitted = model.meta.get("threshold")
        self.threshold = float(threshold if threshold is not None and threshold >= 0 else
                               fitted if isinstance(fitted, (int, float)) else DEFAULT_THRESHOLD)

    @classmethod
    def load(cls, path: Path | None = None, threshold: float | None = None, **options: float) -> Gate:
        """The shipped weights (or ``path``); ``threshold`` < 0 or None keeps the fitted one."""
        model = LogisticModel.load(path, "gate.json", MODEL_FEATURES, "gate", "cairn gate fit")
        return cls(model, threshold, FormModel.from_dict(model.meta.get("form")), **options)

    @property
    def embedder_id(self) -> str:
        return self.form.embedder if self.form else str(self.model.meta.get("embedder", ""))

    def signals(self, query: str, probe: Probe, state: State = State()) -> dict[str, float]:
        values = signals(query, probe, Context(state.previous_used_memory), self.embedder_id)
        vector = probe.embedding(query, self.form.embedder) if self.form else None
        values["form_score"] = self.form.score(vector) if self.form else math.nan
        return values

    def decide(self, query: str, probe: Probe, state: State = State()) -> Decision:
        return self._judge(self.signals(query, probe, state), state.llm_ret)

    def with_vote(self, decision: Decision, llm_ret: float) -> Decision:
        """``decision`` again with the model's P(<RET>) added (its signals are reused, not re-probed)."""
        return self._judge(decision.signals, llm_ret)

    def _judge(self, values: dict[str, float], llm_ret: float | None) -> Decision:
        extra = 0.0
        if llm_ret is not None:
            p = min(max(llm_ret, 1e-4), 1 - 1e-4)
            extra = self.llm_weight * math.log(p / (1 - p))
        pred = self.model.predict(values, extra)
        retrieve = pred.probability >= self.threshold
        top = sorted(pred.pushes.items(), key=lambda kv: -kv[1] if retrieve else kv[1])[:2]
        reason = ", ".join(f"{'no ' if values.get(name) == 0 else ''}{name} ({push:+.2f})"
                           for name, push in top if (push > 0) == retrieve) or "base rate"
        return Decision(retrieve, pred.probability, reason, values)
