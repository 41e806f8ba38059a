"""Dates named in a query ("in May 2023", "during 2022", "last June") as a time range."""

from __future__ import annotations

import re
from datetime import datetime, timezone

MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"], start=1)}
MONTHS.update({name[:3]: i for name, i in list(MONTHS.items())})
_MONTH_YEAR = re.compile(r"\b(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?,?\s+((?:19|20)\d\d)\b", re.I)
_YEAR = re.compile(r"\b(?:in|during|of|since)\s+((?:19|20)\d\d)\b", re.I)


def _ts(year: int, month: int) -> float:
    return datetime(year, month, 1, tzinfo=timezone.utc).timestamp()


def date_range(text: str) -> tuple[float, float] | None:
    """[start, end) of the first month-and-year or year the text names, else None.

    A bare month ("in May") is ambiguous without a year and is ignored: "may" is also a verb."""
    found = _MONTH_YEAR.search(text)
    if found:
        month, year = MONTHS[found.group(1).lower()], int(found.group(2))
        end = _ts(year + 1, 1) if month == 12 else _ts(year, month + 1)
        return _ts(year, month), end
    found = _YEAR.search(text)
    if found:
        year = int(found.group(1))
        return _ts(year, 1), _ts(year + 1, 1)
    return None
