"""The memory browser's filters: what the daemon can filter (search filters) and what the browser
checks itself on the memories it got (the daemon's list filters by state and kind only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STATES = ("live", "archived", "forgotten", "all")
SOURCES = ("any source", "manual", "conversation", "document", "import", "demo")


@dataclass(frozen=True)
class Filters:
    state: str = "live"
    kind: str = ""
    source: str = ""  # a source type, "" for any
    client: str = ""  # who wrote it: "you" for the user, a client's name, "" for anyone
    since: float | None = None
    until: float | None = None
    pinned: bool = False

    def search_body(self, query: str) -> dict[str, Any]:
        """A search request with the filters the daemon applies itself."""
        return {"query": query, "k": 50, "touch": False,
                "filters": {"kinds": [self.kind] if self.kind else [],
                            "source_types": [self.source] if self.source else [],
                            "since": self.since, "until": self.until, "pinned_only": self.pinned}}

    def list_params(self) -> dict[str, Any]:
        return {"state": self.state, "limit": 500, "kind": self.kind or None}

    def matches(self, m: dict[str, Any]) -> bool:
        """Whether a memory passes every filter (applied to what the daemon returned)."""
        when = m["source"].get("time") or m["created_at"]
        return (_state(m) == self.state or self.state == "all") and (not self.kind or m["kind"] == self.kind) \
            and (not self.source or m["source"]["type"] == self.source) \
            and (not self.client or (m.get("client") or "you") == self.client) \
            and (self.since is None or when >= self.since) and (self.until is None or when <= self.until) \
            and (not self.pinned or bool(m["pinned"]))


def _state(m: dict[str, Any]) -> str:
    if not m.get("forgotten_at"):
        return "live"
    return "archived" if m.get("forgotten_by") == "sweep" else "forgotten"
