"""Chat histories from elsewhere, read into messages Cairn can log: a messaging app's text export
("29.12.2023, 22:42 - Anna: text", or "[29.12.23, 22:42:04] Anna: text") and LoCoMo-format JSON
(LoCoMo's own dates, or REALTALK's per-turn "29.12.2023, 22:42:04").

Parsing only: nothing here writes. Every message keeps where it came from (its line in the file,
or its dialogue id), its speaker and its own time. A file this module cannot read whole is an
:class:`InvalidInput` naming the line or value, never a partial result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cairn.core.errors import InvalidInput

# LoCoMo's "1:56 pm on 8 May, 2023"; real chats exported as "29.12.2023, 22:42:04" (REALTALK).
TIME_FORMATS = ("%I:%M %p on %d %B, %Y", "%d.%m.%Y, %H:%M:%S", "%d.%m.%Y, %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")
DIA_ID = 'dia_id'  # field names of the public format (the data itself is never in the repository)
TURN_TIME_KEYS = ("date_time", "time", "timestamp")  # a turn's own time, where a conversation has one
DATE_ORDERS = ("auto", "dmy", "mdy")
# "29.12.2023, 22:42 - Anna: text" (Android) or "[29.12.23, 22:42:04] Anna: text" (iOS); US exports
# write "12/29/23, 10:42 PM". Groups: bracket, date (a, separator, b, c), time (h, m, s, am/pm), rest.
_LINE = re.compile(r"^(\[)?(\d{1,4})([./-])(\d{1,2})\3(\d{2,4}),?\s(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?"
                   r"(?:\s?([AaPp])\.?\s?[Mm]\.?)?(?(1)\]\s|\s[-\u2013]\s)(.*)$")
_SPEAKER = re.compile(r"^([^:]{1,256}?):\s(.*)$", re.S)
_MARKS = "\u200e\u200f\u202a\u202c\ufeff"  # direction marks some exports put before names and dates
OMITTED = ("<media omitted>", "<attached:", "image omitted", "video omitted", "sticker omitted", "audio omitted")


@dataclass(frozen=True)
class ChatMessage:
    """One message: who said it, what, when (UTC timestamp), and where in the file (turn id)."""

    speaker: str
    text: str
    at: float
    turn: str


@dataclass
class ChatLog:
    """One conversation read from a file; ``skipped`` counts system lines and media placeholders."""

    name: str
    messages: list[ChatMessage] = field(default_factory=list)
    skipped: int = 0
    format: str = "text"


@dataclass(frozen=True)
class LocomoTurn:
    session: int
    dia_id: str
    speaker: str
    text: str
    time: float


def parse_time(text: str) -> float:
    """A conversation's date and time as a UTC timestamp; InvalidInput naming the value otherwise."""
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(str(text).strip(), fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise InvalidInput(f"Unknown date format {str(text)[:60]!r}: expected LoCoMo's '1:56 pm on 8 May, 2023' "
                       "or '29.12.2023, 22:42:04'.")


def _turn_time(turn: dict[str, Any], session_time: float | None) -> float:
    """The turn's own time where it has one, else its session's."""
    own = next((turn[k] for k in TURN_TIME_KEYS if turn.get(k)), None)
    if own is not None:
        return parse_time(own)
    if session_time is None:
        raise InvalidInput(f"Turn {turn.get(DIA_ID, '?')} has no time, and neither has its session.")
    return session_time


def _sessions(raw: dict[str, Any]) -> list[tuple[int, str]]:
    return sorted((int(k.split("_")[1]), k) for k in raw if re.fullmatch(r"session_\d+", k) and isinstance(raw[k], list))


def conversation_of(item: Any, n: int) -> tuple[str, dict[str, Any]]:
    """The ``n``-th conversation's name and sessions object, from LoCoMo's layout (``sample_id`` and
    a ``conversation`` object) or REALTALK's (the sessions at the top, the speakers under ``name``)."""
    fallback = f"conversation {n}"
    if isinstance(item, dict) and isinstance(item.get("conversation"), dict):
        return str(item.get("sample_id") or fallback), item["conversation"]
    if isinstance(item, dict) and _sessions(item):
        people = item.get("name")
        named = " & ".join(map(str, people.values())) if isinstance(people, dict) and people else ""
        return str(item.get("sample_id") or named or fallback), item
    raise InvalidInput(f"Conversation {n} of the JSON file has no 'conversation' object and no 'session_1' list "
                       "(LoCoMo or REALTALK format).")


def locomo_turns(raw: dict[str, Any]) -> Iterator[LocomoTurn]:
    """The turns of a LoCoMo-format ``conversation`` object, sessions in order, photos as captions.
    A turn with neither text nor photo (a sticker, a deleted message) is left out."""
    for number, key in _sessions(raw):
        stamp = raw.get(f"{key}_date_time")
        when = parse_time(stamp) if stamp else None
        for t in raw[key]:
            if "text" not in t and "clean_text" not in t:
                raise KeyError("text")
            said = str((t["text"] if "text" in t else t["clean_text"]) or "").strip()
            photo = f"[shares a photo: {t['blip_caption']}]" if t.get("blip_caption") else ""
            text = f"{said} {photo}".strip()
            if text:
                yield LocomoTurn(number, t[DIA_ID], t["speaker"], text, _turn_time(t, when))


def parse_chat(text: str, name: str, dates: str = "auto") -> list[ChatLog]:
    """The conversations in a chat file's text: LoCoMo-format JSON when it starts with ``[`` or
    ``{`` (and not with an iOS export's "[29.12.23, 22:42:04]"), else a messaging app's text
    export named ``name``. ``dates``: the text export's date order (``dmy``, ``mdy``, or ``auto``:
    from the dates themselves, else day first after dots)."""
    if dates not in DATE_ORDERS:
        raise InvalidInput(f"Unknown date order {dates!r}: use one of {', '.join(DATE_ORDERS)}.")
    body = text.lstrip(_MARKS + " \t\r\n")
    if not body:
        raise InvalidInput("The chat file is empty.")
    first = body.splitlines()[0]
    is_json = body[0] in "[{" and not _LINE.match(first)  # an iOS export's lines start with "[" too
    logs = _json_logs(body) if is_json else [_text_log(text, name, dates)]
    for log in logs:
        if not log.messages:
            raise InvalidInput(f"No messages found in {log.name!r}: expected lines like "
                               "'29.12.2023, 22:42 - Anna: text' or a LoCoMo-format JSON file.")
    return logs


def chat_batches(messages: list[ChatMessage], turns: int = 200, size: int = 1 << 20) -> list[list[ChatMessage]]:
    """Messages in order, in batches of at most ``turns`` messages and about ``size`` bytes: an
    import logs one batch at a time, so other work gets turns and progress can be shown."""
    out: list[list[ChatMessage]] = [[]]
    total = 0
    for m in messages:
        grow = len(m.text.encode()) + len(m.speaker.encode()) + 64
        if out[-1] and (len(out[-1]) >= turns or total + grow > size):
            out.append([])
            total = 0
        out[-1].append(m)
        total += grow
    return out


def check_free(taken: list[str]) -> None:
    """Refuse an import whose conversation names (``taken``: those already logged) are in use."""
    if taken:
        raise InvalidInput(f"Already in the log: {', '.join(map(repr, taken))}; nothing was imported.",
                           hint="Import under another name (--name), or purge the old conversation first "
                                "(`cairn conversations purge`).")


def _json_logs(body: str) -> list[ChatLog]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise InvalidInput(f"The chat file is not valid JSON: {exc}.") from exc
    items = data if isinstance(data, list) else [data]
    logs = []
    for n, item in enumerate(items, start=1):
        name, raw = conversation_of(item, n)
        try:
            messages = [ChatMessage(t.speaker, t.text, t.time, t.dia_id) for t in locomo_turns(raw)]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(f"Conversation {name!r} is malformed ({exc!r}).") from exc
        except InvalidInput as exc:
            raise InvalidInput(f"Conversation {name!r}: {exc.message}") from exc
        logs.append(ChatLog(name, messages, 0, "locomo"))
    return logs


def _text_log(text: str, name: str, dates: str) -> ChatLog:
    lines = text.splitlines()
    heads = [(i, m) for i, line in enumerate(lines) if (m := _LINE.match(line.strip(_MARKS + " ")))]
    if not heads:
        return ChatLog(name)
    order = _order([m for _, m in heads], dates)
    log, current = ChatLog(name), None
    starts = {i: m for i, m in heads}
    for i, line in enumerate(lines):
        m = starts.get(i)
        if m is None:  # a message's next line, or text before the first message
            if current is not None:
                current["lines"].append(line)
            continue
        _finish(log, current)
        current = _message(m, order, i + 1)
        if current is None:
            log.skipped += 1
    _finish(log, current)
    return log


def _message(m: re.Match[str], order: str, line: int) -> dict[str, Any] | None:
    """A message's fields from its first line; None for a system line (no speaker)."""
    said = _SPEAKER.match(m.group(10).strip(_MARKS))
    if said is None:
        return None
    return {"speaker": said.group(1).strip(_MARKS + " "), "lines": [said.group(2)], "at": _stamp(m, order, line),
            "turn": f"L{line}"}


def _finish(log: ChatLog, current: dict[str, Any] | None) -> None:
    if current is None:
        return
    text = "\n".join(current["lines"]).strip(_MARKS + " \n")
    if not text or text.lower().startswith(OMITTED):
        log.skipped += 1
        return
    log.messages.append(ChatMessage(current["speaker"], text, current["at"], current["turn"]))


def _order(heads: list[re.Match[str]], dates: str) -> str:
    """The export's date order: ``ymd`` for four-digit years first, else from a day over 12."""
    if all(len(m.group(2)) == 4 for m in heads):
        return "ymd"
    if dates != "auto":
        return dates
    day_first = any(int(m.group(2)) > 12 for m in heads)
    month_first = any(int(m.group(4)) > 12 for m in heads)
    if day_first and month_first:
        raise InvalidInput("The chat's dates mix day-first and month-first orders; pass the order explicitly "
                           "(--dates dmy or --dates mdy).")
    if day_first or month_first:
        return "dmy" if day_first else "mdy"
    if heads[0].group(3) == ".":
        return "dmy"  # dotted dates are day first wherever they are written
    raise InvalidInput("The chat's dates could be day-first or month-first (no day above 12); pass the order "
                       "(--dates dmy or --dates mdy).")


def _stamp(m: re.Match[str], order: str, line: int) -> float:
    """A text export's local date and time as a timestamp (exports are written in local time)."""
    a, b, c = int(m.group(2)), int(m.group(4)), int(m.group(5))
    year, month, day = (a, b, c) if order == "ymd" else (c, b, a) if order == "dmy" else (c, a, b)
    hour, minute, second = int(m.group(6)), int(m.group(7)), int(m.group(8) or 0)
    if m.group(9):
        hour = hour % 12 + (12 if m.group(9).lower() == "p" else 0)
    try:
        return datetime(year + 2000 if year < 100 else year, month, day, hour, minute, second).timestamp()
    except ValueError as exc:
        raise InvalidInput(f"Line {line}: {m.group(0)[:40]!r} is not a valid date and time ({exc}).") from exc
