"""Fitting the retrieval gate: the form model, the logistic weights and the threshold.

Examples come in groups (one LoCoMo conversation, one persona): every score that judges the gate
is *out of group*, from weights fitted on the other groups only (leave-one-persona-out and
leave-one-conversation-out). The form model is stacked: the logistic weights are fitted on form
scores that are themselves out of group, so the weights do not learn to trust a score that has
seen its own examples. Sources (LoCoMo, PopQA, each persona kind, ...) are weighted equally
whatever their size. A skipped retrieval costs ``Costs.missed_s`` and a wasted one
``Costs.wasted_s``; the threshold is the Bayes rule for those costs, wasted / (wasted + missed),
which looks at no labels at all, so it cannot be tuned to the development data.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from cairn.core.errors import InvalidInput
from cairn.core.memory.gate.decision import MODEL_FEATURES, FormModel, Gate
from cairn.core.memory.logistic import fit as fit_logistic
from cairn.core.memory.logistic import newton


@dataclass(frozen=True)
class Example:
    signals: dict[str, float]  # without form_score
    vector: np.ndarray | None  # the question's embedding (None: no form score)
    label: bool
    source: str  # "locomo", "popqa", "persona_personal", ...
    group: str  # the bank it was asked of: a conversation or a persona


@dataclass(frozen=True)
class Costs:
    """Seconds lost per wrong decision (docs/benchmarks.md says how these were measured)."""

    wasted_s: float = 0.26  # a needless recall plus its prompt tokens on the bundled model
    missed_s: float = 0.82  # an answer without the memory it needed, then the turn asked again

    @property
    def threshold(self) -> float:
        """The Bayes threshold for calibrated probabilities: retrieve when p * missed > (1 - p) * wasted."""
        return self.wasted_s / (self.wasted_s + self.missed_s)


def balance(examples: list[Example]) -> np.ndarray:
    """Per-example weights that give every source the same total weight."""
    counts = Counter(e.source for e in examples)
    return np.array([len(examples) / (len(counts) * counts[e.source]) for e in examples])


def fit_form(examples: list[Example], embedder: str, l2: float = 10.0) -> FormModel | None:
    """Weighted ridge-logistic regression of the label on the scaled question embedding."""
    usable = [e for e in examples if e.vector is not None]
    vectors = [e.vector for e in usable if e.vector is not None]
    if len(usable) < 10 or len({e.label for e in usable}) < 2:
        return None
    x = np.stack(vectors) * math.sqrt(len(vectors[0]))
    y = np.array([e.label for e in usable], dtype=np.float64)
    w = newton(x, y, balance(usable), l2, tol=1e-7, iterations=30)
    return FormModel(embedder, w[:-1], float(w[-1]))


def fit_once(examples: list[Example], embedder: str, l2: float = 3.0, meta: dict[str, Any] | None = None) -> Gate:
    """A gate fitted on ``examples`` (form scores for its own fit taken out of group)."""
    groups = sorted({e.group for e in examples})
    if len(groups) < 2:
        raise InvalidInput("Fitting the gate needs examples from at least two banks (conversations or personas).")
    stacked: dict[int, float] = {}
    for held in groups:
        form = fit_form([e for e in examples if e.group != held], embedder)
        for i, e in enumerate(examples):
            if e.group == held:
                stacked[i] = form.score(e.vector) if form else math.nan
    rows = [dict(e.signals, form_score=stacked[i]) for i, e in enumerate(examples)]
    model = fit_logistic(rows, [e.label for e in examples], MODEL_FEATURES, l2=l2, meta=dict(meta or {}),
                         sample_weights=balance(examples).tolist())
    return Gate(model, None, fit_form(examples, embedder))


def out_of_group(examples: list[Example], embedder: str) -> list[float]:
    """Each example's probability from a gate fitted without its group."""
    probs = [math.nan] * len(examples)
    for held in sorted({e.group for e in examples}):
        gate = fit_once([e for e in examples if e.group != held], embedder)
        for i, e in enumerate(examples):
            if e.group == held:
                values = dict(e.signals, form_score=gate.form.score(e.vector) if gate.form else math.nan)
                probs[i] = gate.model.predict(values).probability
    return probs


def fit(examples: list[Example], embedder: str, costs: Costs = Costs()) -> tuple[Gate, list[float]]:
    """The shipped gate (fitted on every example; threshold: the Bayes rule for ``costs``) and the
    out-of-group probabilities that judge it."""
    probs = out_of_group(examples, embedder)
    threshold = round(costs.threshold, 3)
    decided = [(p >= threshold) == e.label for p, e in zip(probs, examples, strict=False)]
    meta = {"fitted_on": sorted({e.group for e in examples}), "sources": dict(Counter(e.source for e in examples)),
            "date": date.today().isoformat(), "embedder": embedder, "threshold": threshold,
            "costs": {"wasted_s": costs.wasted_s, "missed_s": costs.missed_s},
            "out_of_group_accuracy": round(sum(decided) / len(decided), 4),
            "label": "retrieve for questions about the bank's own people, events and documents (LoCoMo 1-5, "
                     "persona personal questions and follow-ups); not for world questions, tasks and chit-chat"}
    gate = fit_once(examples, embedder, meta=meta)
    gate.model.meta["form"] = gate.form.to_dict() if gate.form else None
    return Gate(gate.model, None, gate.form), probs
