"""The forgetting curve: pure functions, no I/O, ``now`` always passed in.

After MemoryBank (Zhong et al. 2024), which follows Ebbinghaus: retention R(t) = exp(-t / S),
where t is the time since the memory was last recalled (or created) and S is its strength.

* A new memory's strength comes from its importance, linearly between ``min_days`` and
  ``max_days`` (importance is a calibrated probability that the memory is needed later, so a
  memory with a 30% chance lasts about a third as long as a certain one): trivia fades within
  weeks, important facts last for years.
* Each recall raises S and restarts t. The gain follows the spacing effect: it grows with how
  much had been forgotten, ``S' = S + gain * S * (1 - R(t)) + floor``, so a recall after a long
  gap raises S more than one right after the last, and no recall ever lowers S.
* Pinned memories never decay (R = 1).

Strength is kept in days; times are Unix seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DAY = 86_400.0


@dataclass(frozen=True)
class Curve:
    """The curve's parameters (from :class:`cairn.core.config.RetentionSettings`)."""

    min_days: float = 7.0
    max_days: float = 1825.0
    recall_gain: float = 1.0
    recall_floor_days: float = 1.0


def initial_strength(importance: float, curve: Curve = Curve()) -> float:
    """Strength in days of a new memory of this importance (0..1, clipped)."""
    x = min(max(float(importance), 0.0), 1.0)
    return curve.min_days + (curve.max_days - curve.min_days) * x


def retention(strength_days: float, elapsed_s: float, pinned: bool = False) -> float:
    """R = exp(-t / S): the share of a memory still retained after ``elapsed_s`` seconds."""
    if pinned:
        return 1.0
    t = max(float(elapsed_s), 0.0) / DAY
    return math.exp(-t / max(float(strength_days), 1e-9))


def reinforce(strength_days: float, elapsed_s: float, curve: Curve = Curve()) -> float:
    """Strength after a recall ``elapsed_s`` seconds after the last one (spacing effect)."""
    forgotten = 1.0 - retention(strength_days, elapsed_s)
    return float(strength_days) + curve.recall_gain * float(strength_days) * forgotten + curve.recall_floor_days


def days_until(strength_days: float, threshold: float) -> float:
    """Days from the last recall until retention falls to ``threshold`` (0 < threshold < 1)."""
    return -float(strength_days) * math.log(threshold)


def curve_points(strength_days: float, elapsed_s: float, days: int = 90, step: int = 1,
                 pinned: bool = False) -> list[tuple[int, float]]:
    """(day from now, retention) for the next ``days`` days if the memory is not recalled."""
    return [(d, retention(strength_days, elapsed_s + d * DAY, pinned)) for d in range(0, days + 1, step)]


def retention_many(strength_days: np.ndarray, elapsed_s: np.ndarray, pinned: np.ndarray) -> np.ndarray:
    """Vectorised :func:`retention` for sweeps over many memories."""
    t = np.maximum(elapsed_s, 0.0) / DAY
    r = np.exp(-t / np.maximum(strength_days, 1e-9))
    return np.where(pinned, 1.0, r)
