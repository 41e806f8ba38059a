"""A small fitted logistic model over named features: importance and the retrieval gate use it.

Weights live in a JSON file (features, standardisation mean and scale, weights, bias, and a
record of what they were fitted on); :func:`fit` writes them with Newton's method and an L2
penalty. Every prediction reports each feature's push on the log-odds, so a decision explains
itself.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from cairn.core.errors import InvalidInput, ModelLoadError


@dataclass(frozen=True)
class Prediction:
    probability: float
    values: dict[str, float]  # raw feature values
    pushes: dict[str, float]  # weight * standardised value, per feature


@dataclass(frozen=True)
class LogisticModel:
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    meta: dict[str, Any]

    @classmethod
    def load(cls, path: Path | None, resource: str, known: tuple[str, ...], what: str,
             fit_command: str) -> LogisticModel:
        """Weights from ``path``, or the ``resource`` file shipped in ``cairn.models``."""
        source = path or resources.files("cairn.models").joinpath(resource)
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
            names = tuple(data["features"])
            arrays = [np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "weights")]
            bias = float(data["bias"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(f"The {what} weights file {source} is missing or malformed ({exc}).",
                                 hint=f"Reinstall Cairn, or fit new weights with `{fit_command}`.") from exc
        unknown = set(names) - set(known)
        if unknown or any(a.shape != (len(names),) for a in arrays):
            raise ModelLoadError(f"The {what} weights file {source} does not match this Cairn's features "
                                 f"(unknown: {sorted(unknown) or 'none'}).", hint=f"Fit new weights with `{fit_command}`.")
        meta = {k: v for k, v in data.items() if k not in ("features", "mean", "scale", "weights", "bias")}
        return cls(names, arrays[0], arrays[1], arrays[2], bias, meta)

    @classmethod
    def neutral(cls, features: tuple[str, ...]) -> LogisticModel:
        """Every feature weighs nothing: probability 0.5 for all."""
        zeros = np.zeros(len(features))
        return cls(features, zeros, np.ones(len(features)), zeros, 0.0, {"neutral": True})

    def logit(self, values: dict[str, float]) -> tuple[float, np.ndarray]:
        """The log-odds and each feature's push; a NaN value (no evidence) pushes nothing."""
        x = np.array([values.get(f, 0.0) for f in self.features], dtype=np.float64)
        x = np.where(np.isnan(x), self.mean, x)
        pushes = self.weights * (x - self.mean) / self.scale
        return float(self.bias + pushes.sum()), pushes

    def predict(self, values: dict[str, float], extra_logit: float = 0.0) -> Prediction:
        logit, pushes = self.logit(values)
        return Prediction(sigmoid(logit + extra_logit), dict(values),
                          {f: round(float(p), 4) for f, p in zip(self.features, pushes, strict=False)})

    def save(self, path: Path) -> None:
        data = {"features": list(self.features), "mean": self.mean.tolist(), "scale": self.scale.tolist(),
                "weights": self.weights.tolist(), "bias": self.bias, **self.meta}
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 500.0), -500.0)))


def fit(rows: list[dict[str, float]], labels: list[bool], names: tuple[str, ...], l2: float = 1.0,
        meta: dict[str, Any] | None = None, sample_weights: list[float] | None = None) -> LogisticModel:
    """Fit the weights (Newton's method with an L2 penalty; the bias is not shrunk). NaN values
    (no evidence) stand in as the feature's mean; ``sample_weights`` balance unequal sources."""
    if len(rows) < 10 or len(set(labels)) < 2:
        raise InvalidInput(f"Fitting weights needs at least 10 labelled examples of both kinds; got {len(rows)} "
                           f"with {sum(labels)} positive.")
    x = np.array([[r[f] for f in names] for r in rows], dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    s = np.ones(len(y)) if sample_weights is None else np.asarray(sample_weights, dtype=np.float64)
    seen = (~np.isnan(x)).sum(axis=0)
    mean = np.nansum(x, axis=0) / np.maximum(seen, 1)
    x = np.where(np.isnan(x), mean, x)
    scale = x.std(axis=0) + 1e-9
    w = newton((x - mean) / scale, y, s, l2)
    return LogisticModel(names, mean, scale, w[:-1], float(w[-1]), dict(meta or {}))


def newton(x: np.ndarray, y: np.ndarray, weights: np.ndarray, l2: float, tol: float = 1e-8,
           iterations: int = 50) -> np.ndarray:
    """Weighted logistic regression by Newton's method with an L2 penalty on ``x``'s columns (an
    unpenalised bias is appended): the weights, bias last."""
    z = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        step = np.linalg.solve((z * (weights * p * (1 - p))[:, None]).T @ z + np.diag(penalty),
                               z.T @ (weights * (p - y)) + penalty * w)
        w -= step
        if np.abs(step).max() < tol:
            break
    return w
