"""Time as a value passed in.

Everything that decays, schedules or stamps takes ``now`` (seconds since the epoch, UTC) from a
:class:`Clock`, so tests can move time instead of sleeping.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol, overload

from cairn.core.errors import InvalidInput


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch."""


class SystemClock:
    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when told to (tests, benchmarks, replays of old conversations)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def set(self, when: float) -> None:
        self._now = float(when)

    def advance(self, seconds: float) -> None:
        self._now += seconds


@overload
def iso(ts: float) -> str: ...


@overload
def iso(ts: None) -> None: ...


def iso(ts: float | None) -> str | None:
    """An epoch timestamp as ISO-8601 UTC text (None stays None)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="seconds")


def parse_when(text: str) -> float:
    """Parse an ISO date or date-time (naive means UTC) into an epoch timestamp."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(f"Not a date: {text!r}.", hint="Use ISO form, e.g. 2024-05-08 or 2024-05-08T13:56.") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()
