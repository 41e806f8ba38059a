"""Sweep planning, pure: which live memories to archive at ``now``, and why, with the numbers.

Two rules, in order:

1. **Decay**: an unpinned memory whose retention R = exp(-t/S) fell below ``archive_below``.
2. **Budget**: if more than ``budget`` memories are still live, unpinned ones go in this order:
   superseded ones (a newer memory changed them) first, then lowest strength (importance as
   reinforced by recalls), then lowest retention, then oldest.

Archived memories stay in the database, restorable, excluded from recall. Planning twice on
the state a plan left behind archives nothing more (sweeps are idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cairn.core.memory.retention.forgetting import DAY, retention_many


@dataclass(frozen=True)
class SweepPlan:
    archive: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)  # (id, reason, numbers)
    live_before: int = 0
    pinned_over_budget: int = 0  # pinned memories beyond the budget (kept: pins are never archived)

    @property
    def live_after(self) -> int:
        return self.live_before - len(self.archive)


def plan(ids: np.ndarray, pinned: np.ndarray, strength: np.ndarray, anchor: np.ndarray, now: float,
         archive_below: float, budget: int | None, superseded: np.ndarray | None = None) -> SweepPlan:
    """Decide what a sweep at ``now`` archives (arrays are parallel, one row per live memory)."""
    elapsed = now - anchor
    r = retention_many(strength, elapsed, pinned)
    decayed = (~pinned) & (r < archive_below)
    out = [(int(i), f"retention {ri:.3f} fell below {archive_below:g}", _numbers(s, e, ri))
           for i, s, e, ri in zip(ids[decayed], strength[decayed], elapsed[decayed], r[decayed], strict=False)]
    keep = ~decayed
    over = int(keep.sum()) - budget if budget else 0
    pinned_over = 0
    if over > 0:
        candidates = np.flatnonzero(keep & ~pinned)
        changed = np.zeros(len(ids), bool) if superseded is None else superseded
        order = np.lexsort((anchor[candidates], r[candidates], strength[candidates], ~changed[candidates]))
        chosen = candidates[order[:over]]
        pinned_over = max(over - len(chosen), 0)
        out += [(int(ids[j]), f"over the storage budget of {budget} memories; among the least important",
                 _numbers(strength[j], elapsed[j], r[j])) for j in chosen]
    return SweepPlan(out, len(ids), pinned_over)


def _numbers(strength: float, elapsed: float, r: float) -> dict[str, Any]:
    return {"strength_days": round(float(strength), 3), "days_since_recall": round(float(elapsed) / DAY, 3),
            "retention": round(float(r), 4)}
