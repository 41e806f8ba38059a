"""Dates a query names and relative dates a memory uses, as time ranges."""

from datetime import UTC, datetime

import pytest

from cairn.core.memory.retrieval.timeref import day_range, refers_to, relative_dates, resolve_relative


def ts(year: int, month: int, day: int) -> float:
    return datetime(year, month, day, tzinfo=UTC).timestamp()


@pytest.mark.parametrize("text", ["on 9 November, 2022", "the 9th of November 2022", "November 9, 2022",
                                  "Nov 9 2022", "on 2022-11-09 we met"])
def test_whole_dates_in_the_usual_forms(text: str) -> None:
    assert day_range(text) == (ts(2022, 11, 9), ts(2022, 11, 10))


@pytest.mark.parametrize("text", ["in May 2023", "31 February 2022", "on the 9th", "2022-13-01"])
def test_no_whole_date_or_an_impossible_one(text: str) -> None:
    assert day_range(text) is None


def test_relative_dates_resolve_against_when_said() -> None:
    said = ts(2023, 5, 8)  # a Monday
    found = relative_dates("Yesterday I ran; last month I swam; two years ago I cycled; last Friday too", said)
    assert [r.phrase for r in found] == ["7 May 2023", "April 2023", "2021", "5 May 2023"]
    assert found[0].span == (ts(2023, 5, 7), ts(2023, 5, 8))
    assert found[1].span == (ts(2023, 4, 1), ts(2023, 5, 1))
    assert found[2].span == (ts(2021, 1, 1), ts(2022, 1, 1))
    assert resolve_relative("See you next week", said) == ["the week after 8 May 2023"]
    assert resolve_relative("a couple of weeks ago", said) == ["the week of 24 April 2023"]
    assert relative_dates("Nothing relative here in May 2023", said) == []


def test_a_month_back_across_the_year() -> None:
    assert resolve_relative("last month", ts(2023, 1, 15)) == ["December 2022"]
    assert resolve_relative("3 months ago", ts(2023, 2, 15)) == ["November 2022"]


def test_refers_to_overlaps_the_span_asked_about() -> None:
    said = ts(2023, 4, 18)
    assert refers_to("We went to a convention last month", said, (ts(2023, 3, 1), ts(2023, 4, 1)))
    assert not refers_to("We went to a convention last month", said, (ts(2023, 4, 1), ts(2023, 5, 1)))
    assert refers_to("Last week was busy", said, (ts(2023, 4, 12), ts(2023, 4, 13)))
    assert not refers_to("We went to a convention", said, (ts(2023, 3, 1), ts(2023, 4, 1)))
