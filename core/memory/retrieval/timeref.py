"""Dates in text as time ranges: those a query names ("in May 2023", "on 9 November, 2022",
"during 2022") and those a memory refers to relative to when it was said ("yesterday", "last
month", "two weeks ago"), resolved against the memory's own time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"], start=1)}
MONTHS.update({name[:3]: i for name, i in list(MONTHS.items())})
_MONTH = "(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR_NUM = r"((?:19|20)\d\d)"
_MONTH_YEAR = re.compile(r"\b" + _MONTH + r",?\s+" + _YEAR_NUM + r"\b", re.I)
_YEAR = re.compile(r"\b(?:in|during|of|since)\s+" + _YEAR_NUM + r"\b", re.I)
_DAY_FIRST = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r",?\s+" + _YEAR_NUM + r"\b", re.I)
_MONTH_FIRST = re.compile(r"\b" + _MONTH + r"\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+" + _YEAR_NUM + r"\b", re.I)
_ISO = re.compile(r"\b" + _YEAR_NUM + r"-(\d\d)-(\d\d)\b")
DAY = 86_400.0

Span = tuple[float, float]


def _ts(year: int, month: int, day: int = 1) -> float:
    return datetime(year, month, day, tzinfo=UTC).timestamp()


def _month_span(year: int, month: int) -> Span:
    return _ts(year, month), _ts(year + 1, 1) if month == 12 else _ts(year, month + 1)


def date_range(text: str) -> Span | None:
    """[start, end) of the first month-and-year or year the text names, else None.

    A bare month ("in May") is ambiguous without a year and is ignored: "may" is also a verb."""
    found = _MONTH_YEAR.search(text)
    if found:
        return _month_span(int(found.group(2)), MONTHS[found.group(1).lower()])
    found = _YEAR.search(text)
    if found:
        year = int(found.group(1))
        return _ts(year, 1), _ts(year + 1, 1)
    return None


def day_range(text: str) -> Span | None:
    """[start, end) of the first whole date the text names ("9 November, 2022", "the 9th of
    November 2022", "November 9, 2022", "2022-11-09"), else None; an impossible date is None."""
    for pattern, order in ((_DAY_FIRST, "dmy"), (_MONTH_FIRST, "mdy"), (_ISO, "ymd")):
        found = pattern.search(text)
        if found is None:
            continue
        parts = dict(zip(order, found.groups(), strict=True))
        month = MONTHS[parts["m"].lower()] if not parts["m"].isdigit() else int(parts["m"])
        try:
            start = _ts(int(parts["y"]), month, int(parts["d"]))
        except ValueError:
            return None
        return start, start + DAY
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
_HINTS = ("day", "night", "morning", "afternoon", "evening", "tomorrow", "week", "month", "year", "ago")
# Week-long phrases cover a window around the week meant, since "last week" said on a Monday and
# on a Saturday reach back differently: days from the day it was said, [start, end).
_WEEKS = {"last": (-9, 0), "this": (-3, 4), "next": (1, 10)}


@dataclass(frozen=True)
class Resolved:
    """A relative date in a text: how people would write it, and the time range it covers."""

    phrase: str
    span: Span


def day_text(d: date) -> str:
    """A date as people write it: 8 May 2023."""
    return f"{d.day} {d.strftime('%B')} {d.year}"


def _when_date(ts: float) -> date:
    return datetime.fromtimestamp(ts, tz=UTC).date()


def _day(d: date) -> Resolved:
    start = _ts(d.year, d.month, d.day)
    return Resolved(day_text(d), (start, start + DAY))


def _month(year: int, month: int) -> Resolved:
    return Resolved(f"{date(year, month, 1).strftime('%B')} {year}", _month_span(year, month))


def _year(year: int) -> Resolved:
    return Resolved(str(year), (_ts(year, 1), _ts(year + 1, 1)))


def _shift_month(day: date, step: int) -> Resolved:
    return _month(day.year + (day.month - 1 + step) // 12, (day.month - 1 + step) % 12 + 1)


def relative_dates(text: str, when: float) -> list[Resolved]:
    """The dates a text refers to relative to ``when`` (the time it was said): "yesterday" said on
    8 May 2023 is 7 May 2023; "last week" is the week before 8 May 2023; "last Friday" the Friday
    before; "two years ago" 2021. In order of appearance."""
    lower = text.lower()
    if not any(hint in lower for hint in _HINTS):  # most texts: no relative date at all (a fast no)
        return []
    day = _when_date(when)
    found: list[tuple[int, Resolved]] = []
    for m in _RELATIVE.finditer(text):
        found.append((m.start(), _relative(m.group(1).lower(), day)))
    for m in _AGO.finditer(text):
        amount = m.group(1).lower()
        n = int(amount) if amount.isdigit() else _NUMBER_WORDS.get(amount, 1)
        found.append((m.start(), _ago(n, m.group(2).lower(), day)))
    return [r for _, r in sorted(found, key=lambda pair: pair[0])]


def resolve_relative(text: str, when: float) -> list[str]:
    """:func:`relative_dates` as phrases."""
    return [r.phrase for r in relative_dates(text, when)]


def _ago(n: int, unit: str, day: date) -> Resolved:
    if unit == "day":
        return _day(day - timedelta(days=n))
    if unit == "week":
        back = day - timedelta(weeks=n)
        start = _ts(back.year, back.month, back.day)
        return Resolved(f"the week of {day_text(back)}", (start - 3 * DAY, start + 4 * DAY))
    if unit == "month":
        return _shift_month(day, -n)
    return _year(day.year - n)


def _relative(phrase: str, day: date) -> Resolved:
    simple = {"yesterday": -1, "last night": -1, "today": 0, "tonight": 0, "this morning": 0,
              "this afternoon": 0, "this evening": 0, "tomorrow": 1}
    if phrase in simple:
        return _day(day + timedelta(days=simple[phrase]))
    which, _, unit = phrase.partition(" ")
    if unit in ("week", "weekend"):
        words = {"last": "the {} before", "this": "the {} of", "next": "the {} after"}[which].format(unit)
        start = _ts(day.year, day.month, day.day)
        lo, hi = _WEEKS[which]
        return Resolved(f"{words} {day_text(day)}", (start + lo * DAY, start + hi * DAY))
    if unit in ("month", "year"):
        step = {"last": -1, "this": 0, "next": 1}[which]
        return _year(day.year + step) if unit == "year" else _shift_month(day, step)
    weekday = WEEKDAYS.index(phrase.split()[-1])
    if phrase.startswith("next"):
        return _day(day + timedelta(days=(weekday - day.weekday()) % 7 or 7))
    return _day(day - timedelta(days=(day.weekday() - weekday) % 7 or 7))  # the most recent one before


def refers_to(text: str, when: float, span: Span) -> bool:
    """Whether a relative date in ``text`` (said at ``when``) falls in ``span``."""
    return any(r.span[0] < span[1] and span[0] < r.span[1] for r in relative_dates(text, when))
