"""Chat histories read from a messaging app's text export or LoCoMo-format JSON: every message
with its speaker, own time and line; system lines skipped; anything unreadable a clear error."""

import json
from datetime import datetime

import pytest

from cairn.core.errors import InvalidInput
from cairn.core.memory.chatlog import parse_chat

ANDROID = """\u200e29.12.2023, 22:40 - Messages and calls are end-to-end encrypted.
29.12.2023, 22:42 - Anna: I moved to Lisbon last week!
The flat is in Alfama.
29.12.2023, 22:43 - Ben: Oh nice: how is the job?
29.12.2023, 22:44 - Anna: <Media omitted>
30.12.2023, 09:01 - Anna: Great.
"""


def local(*parts: int) -> float:
    return datetime(*parts).timestamp()  # exports are written in the phone's local time


def test_an_android_export_keeps_speakers_times_lines_and_multi_line_messages() -> None:
    [log] = parse_chat(ANDROID, "Chat with Anna")
    assert log.name == "Chat with Anna" and log.format == "text"
    assert [(m.speaker, m.text, m.turn) for m in log.messages] == [
        ("Anna", "I moved to Lisbon last week!\nThe flat is in Alfama.", "L2"),
        ("Ben", "Oh nice: how is the job?", "L4"),
        ("Anna", "Great.", "L6")]
    assert log.messages[0].at == local(2023, 12, 29, 22, 42) and log.messages[2].at == local(2023, 12, 30, 9, 1)
    assert log.skipped == 2  # the encryption notice and the media placeholder


def test_an_ios_export_with_seconds_am_pm_and_direction_marks() -> None:
    text = "[12/29/23, 10:42:04\u202fPM] \u200eAnna: hi there\n[12/30/23, 9:01:00 AM] Ben: morning\n"
    [log] = parse_chat(text, "ios")
    assert [(m.speaker, m.text) for m in log.messages] == [("Anna", "hi there"), ("Ben", "morning")]
    assert [m.at for m in log.messages] == [local(2023, 12, 29, 22, 42, 4), local(2023, 12, 30, 9, 1)]


@pytest.mark.parametrize(("text", "dates", "expected"), [
    ("03/04/2023, 10:00 - A: x\n13/04/2023, 10:00 - A: y\n", "auto", (2023, 4, 3)),  # a day over 12: day first
    ("03/04/2023, 10:00 - A: x\n04/13/2023, 10:00 - A: y\n", "auto", (2023, 3, 4)),  # a month cannot be 13
    ("03.04.23, 10:00 - A: x\n", "auto", (2023, 4, 3)),  # dotted dates are day first
    ("03/04/2023, 10:00 - A: x\n", "mdy", (2023, 3, 4)),
    ("2023-04-03, 10:00 - A: x\n", "auto", (2023, 4, 3)),
])
def test_the_date_order(text: str, dates: str, expected: tuple[int, int, int]) -> None:
    [log] = parse_chat(text, "c", dates)
    assert log.messages[0].at == local(*expected, 10, 0)


@pytest.mark.parametrize(("text", "dates", "words"), [
    ("03/04/2023, 10:00 - A: x\n", "auto", "--dates dmy"),  # slashes, no day over 12: could be either
    ("13/04/2023, 10:00 - A: x\n04/13/2023, 10:00 - A: y\n", "auto", "mix"),
    ("31/02/2023, 10:00 - A: x\n", "auto", "Line 1"),
    ("", "auto", "empty"),
    ("hello\nthere\n", "auto", "No messages"),
    ("29.12.2023, 22:40 - Messages are encrypted.\n", "auto", "No messages"),
    ("[{\"sample_id\": 1}]", "auto", "'conversation'"),
    ("{\"conversation\": ", "auto", "not valid JSON"),
    ("03/04/2023, 10:00 - A: x\n", "ydm", "date order"),
])
def test_what_cannot_be_read_is_a_clear_error(text: str, dates: str, words: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_chat(text, "c", dates)
    assert words in err.value.message


def test_locomo_json_with_per_turn_times() -> None:
    raw = {"speaker_a": "Ana", "speaker_b": "Ben", "session_1_date_time": "1:56 pm on 8 May, 2023",
           "session_1": [{"speaker": "Ana", "dia_id": "D1:1", "text": "I adopted a cat", "blip_caption": "a cat"},
                         {"speaker": "Ben", "dia_id": "D1:2", "clean_text": "Nice!", "date_time": "09.05.2023, 08:00:00"}]}
    logs = parse_chat(json.dumps([{"sample_id": "s1", "conversation": raw}, {"conversation": raw}]), "file")
    assert [log.name for log in logs] == ["s1", "conversation 2"] and logs[0].format == "locomo"
    first, second = logs[0].messages
    assert (first.turn, first.text) == ("D1:1", "I adopted a cat [shares a photo: a cat]")
    assert second.at - first.at == 18 * 3600 + 4 * 60  # its own time, not the session's
