"""What the Forgetting view loads from the daemon, on a worker thread (``Tasks.run``): what the next
sweep would archive (``POST /v1/sweep {"dry_run": true}``), the live memories (their strengths), the
most recently archived with their receipts (the history's archive entry) and one memory's ``/why``;
and the pure helpers that turn those replies into words."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cairn.app.client import Client

DAY = 86_400.0
PAGE = 1000  # the daemon's largest page
LIVE_LIMIT = 20_000  # live memories read for the histogram
FADING_SHOWN = 200
ARCHIVED_SHOWN = 50  # the most recently archived, each with its receipt (one history call each)
MAX_DAYS = 3650  # the longest curve the daemon draws


@dataclass(frozen=True)
class Receipt:
    """Why and when a memory was archived."""

    memory: dict[str, Any]
    at: float | None
    why: str  # the sweep's reason
    numbers: str = ""  # what it measured then: " (retention 0.03, strength 7 d)"


@dataclass(frozen=True)
class Snapshot:
    fading: list[dict[str, Any]]  # what the next sweep would archive, in its order (faded first)
    planned: int  # how many it would archive (more than ``fading`` holds when the list is cut)
    decayed: int  # how many of those because they faded (the rest: over the storage budget)
    live: list[dict[str, Any]] = field(default_factory=list)
    archived: list[Receipt] = field(default_factory=list)


def load(c: Client) -> Snapshot:
    plan = c.request("POST", "/v1/sweep", {"dry_run": True})
    ids = [int(i) for i in plan["ids"]]
    shown = ids[:FADING_SHOWN]
    found = c.request("POST", "/v1/memories/get", {"ids": shown})["data"] if shown else []
    by_id = {int(m["id"]): m for m in found}
    fading = [by_id[i] for i in shown if i in by_id]
    return Snapshot(fading, len(ids), int(plan.get("by_rule", {}).get("decay", 0)), live_memories(c), archived(c))


def live_memories(c: Client) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while len(out) < LIVE_LIMIT:
        page = c.request("GET", "/v1/memories", params={"state": "live", "limit": PAGE, "offset": len(out)})["data"]
        out += page
        if len(page) < PAGE:
            break
    return out


def archived(c: Client) -> list[Receipt]:
    found: list[dict[str, Any]] = []
    while True:  # every archived memory (lists are newest-created first), then the latest archived
        page = c.request("GET", "/v1/memories", params={"state": "archived", "limit": PAGE, "offset": len(found)})["data"]
        found += page
        if len(page) < PAGE or len(found) >= LIVE_LIMIT:
            break
    latest = sorted(found, key=lambda m: -(m.get("forgotten_at") or 0.0))[:ARCHIVED_SHOWN]
    return [receipt(m, c.request("GET", f"/v1/memories/{m['id']}/history")["data"]) for m in latest]


def receipt(memory: dict[str, Any], history: list[dict[str, Any]]) -> Receipt:
    """The latest archive entry of a memory's history: the sweep's reason and its numbers."""
    entries = [h for h in history if h.get("action") == "archive"]
    if not entries:
        return Receipt(memory, memory.get("forgotten_at"), "archived by a sweep")
    last = max(entries, key=lambda h: h["at"])
    measured = last.get("new") or {}
    extra = [f"retention {measured['retention']:.2f}"] if isinstance(measured.get("retention"), int | float) else []
    if isinstance(measured.get("strength_days"), int | float):
        extra.append(f"strength {days_text(float(measured['strength_days']))}")
    numbers = f" ({', '.join(extra)})" if extra else ""
    return Receipt(memory, float(last["at"]), str(last.get("reason") or "archived by a sweep"), numbers)


def fetch_why(c: Client, memory_id: int) -> dict[str, Any]:
    """The memory's /why, over a horizon long enough to show where it would be archived."""
    why: dict[str, Any] = c.request("GET", f"/v1/memories/{memory_id}/why", params={"days": 90})
    until = why.get("days_until_archive")
    if until is not None and until > 80:
        days = min(MAX_DAYS, math.ceil(float(until) * 1.15))
        why = c.request("GET", f"/v1/memories/{memory_id}/why", params={"days": days})
    return why


def retention_now(memory: dict[str, Any], now: float) -> float:
    if memory.get("pinned"):
        return 1.0
    anchor = memory.get("last_recalled_at") or memory["created_at"]
    return math.exp(-max(now - float(anchor), 0.0) / DAY / max(float(memory["strength"]), 1e-9))


def when_text(ts: float | None) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts is not None else "at an unknown time"


def shorten(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def days_text(days: float) -> str:
    """A duration in days as people say it: 5 h, 12 d, 3 mo, 2.5 y."""
    if days < 1 / 24:
        return "under an hour"
    if days < 1:
        return f"{days * 24:.0f} h"
    if days < 60:
        return f"{days:.0f} d"
    if days < 730:
        return f"{days / 30.44:.0f} mo"
    return f"{days / 365.25:.1f} y"
