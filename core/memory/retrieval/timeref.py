"""Dates named in a query ("in May 2023", "during 2022", "last June") as a time range."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"], start=1)}
MONTHS.update({name[:3]: i for name, i in list(MONTHS.items())})
_MONTH_YEAR = re.compile(r"\b(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?,?\s+((?:19|20)\d\d)\b", re.I)
_YEAR = re.compile(r"\b(?:in|during|of|since)\s+((?:19|20)\d\d)\b", re.I)


def _ts(year: int, month: int) -> float:
    return datetime(year, month, 1, tzinfo=UTC).timestamp()


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


# ---- relative dates in a memory, resolved against the memory's own time --------------------

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "a couple of": 2, "a few": 3, "few": 3, "several": 3}
_AGO = re.compile(r"\b(\d+|a couple of|a few|several|an?|one|two|three|four|five|six|seven|eight|nine|ten)\s+"
                  r"(day|week|month|year)s?\s+ago\b", re.I)
_RELATIVE = re.compile(r"\b(yesterday|today|tonight|this morning|this afternoon|this evening|last night|tomorrow|"
                       r"last weekend|this weekend|next weekend|last week|this week|next week|last month|this month|"
                       r"next month|last year|this year|next year|"
                       r"(?:last|this past|on|next|this)\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b",
                       re.I)


def day_text(d: date) -> str:
    """A date as people write it: 8 May 2023."""
    return f"{d.day} {d.strftime('%B')} {d.year}"


def _when_date(ts: float) -> date:
    return datetime.fromtimestamp(ts, tz=UTC).date()


def resolve_relative(text: str, when: float) -> list[str]:
    """The dates a text refers to relative to ``when`` (the time it was said), as phrases:
    "yesterday" said on 8 May 2023 is "7 May 2023"; "last week" is "the week before 8 May 2023";
    "last Friday" is the Friday before; "two years ago" is "2021". In order of appearance."""
    from datetime import timedelta

    day = _when_date(when)
    found: list[tuple[int, str]] = []
    for m in _RELATIVE.finditer(text):
        phrase = m.group(1).lower()
        found.append((m.start(), _relative_phrase(phrase, day, timedelta)))
    for m in _AGO.finditer(text):
        amount = m.group(1).lower()
        n = int(amount) if amount.isdigit() else _NUMBER_WORDS.get(amount, 1)
        unit = m.group(2).lower()
        if unit == "day":
            found.append((m.start(), day_text(day - timedelta(days=n))))
        elif unit == "week":
            found.append((m.start(), f"the week of {day_text(day - timedelta(weeks=n))}"))
        elif unit == "month":
            month = (day.month - 1 - n) % 12 + 1
            year = day.year + (day.month - 1 - n) // 12
            found.append((m.start(), f"{date(year, month, 1).strftime('%B')} {year}"))
        else:
            found.append((m.start(), str(day.year - n)))
    return [p for _, p in sorted(found)]


def _relative_phrase(phrase: str, day: date, timedelta: type) -> str:
    simple = {"yesterday": -1, "last night": -1, "today": 0, "tonight": 0, "this morning": 0,
              "this afternoon": 0, "this evening": 0, "tomorrow": 1}
    if phrase in simple:
        return day_text(day + timedelta(days=simple[phrase]))
    spans = {"last weekend": "the weekend before", "this weekend": "the weekend of", "next weekend": "the weekend after",
             "last week": "the week before", "this week": "the week of", "next week": "the week after"}
    if phrase in spans:
        return f"{spans[phrase]} {day_text(day)}"
    if phrase.endswith(("month", "year")):
        step = {"last": -1, "this": 0, "next": 1}[phrase.split()[0]]
        if phrase.endswith("year"):
            return str(day.year + step)
        month = (day.month - 1 + step) % 12 + 1
        year = day.year + (day.month - 1 + step) // 12
        return f"{date(year, month, 1).strftime('%B')} {year}"
    weekday = WEEKDAYS.index(phrase.split()[-1])
    back = (day.weekday() - weekday) % 7 or 7  # "last/on Friday": the most recent one before
    if phrase.startswith("next"):
        return day_text(day + timedelta(days=(weekday - day.weekday()) % 7 or 7))
    return day_text(day - timedelta(days=back))
