"""The export file format: a header, one JSON object per line, and an end marker with a checksum.

Version 3 (this one) writes::

    {"format": "cairn-export", "version": 3, "records": N, "turns": M, ...}   header
    {"uid": ..., "text": ..., "history": [...]}                              N memories
    {"type": "turn", "conversation": ..., "text": ..., "memory": uid|null}   M logged turns
    {"format": "cairn-export-end", "records": N, "turns": M, "sha256": ...}  end marker

The checksum covers every byte before the end marker, so a file cut at a line boundary (no end
marker), a line removed or a value changed is refused before anything is imported. Every value is
checked here, and a bad one is named with its line and field. Versions 1 and 2 (no end marker) can
only be imported when the caller accepts that completeness cannot be checked.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cairn.core.errors import InvalidInput
from cairn.core.memory.storage.records import SOURCE_TYPES
from cairn.core.memory.storage.textcheck import check_text, decode_utf8

FORMAT = "cairn-export"
END = "cairn-export-end"
VERSION = 3  # 2 added forgotten_by, replaced_by, valid_from/valid_to, importance_parts; 3 the end marker and turns
MAX_TIME = 253402300799.0  # 9999-12-31T23:59:59Z: later "dates" are not dates
ACTIONS = ("add", "update", "forget", "restore", "purge", "archive", "merge", "supersede")
FORGOTTEN_BY = ("user", "sweep", "merged")
_UID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
NO_CHANGE = "Nothing was imported."


@dataclass
class Parsed:
    header: dict[str, Any]
    memories: list[dict[str, Any]] = field(default_factory=list)
    turns: list[dict[str, Any]] = field(default_factory=list)
    verified: bool = False  # an end marker with matching counts and checksum was found


class Checksum:
    """sha256 over the exact lines written before the end marker."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def line(self, text: str) -> str:
        self._h.update(text.encode("utf-8"))
        return text

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def header(exported_at: str | None, embedder: dict[str, Any] | None, records: int, turns: int) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "exported_at": exported_at, "embedder": embedder,
            "records": records, "turns": turns}


def end_marker(records: int, turns: int, digest: str) -> dict[str, Any]:
    return {"format": END, "records": records, "turns": turns, "sha256": digest}


def dump(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False) + "\n"


def parse(lines: Iterable[bytes | str], max_text_bytes: int, allow_unverified: bool = False) -> Parsed:
    """Validate a whole export before anything is written; every error names its line and field."""
    out: Parsed | None = None
    digest = Checksum()
    end: tuple[int, dict[str, Any]] | None = None
    for number, raw in enumerate(lines, start=1):
        text = decode_utf8(raw, f"export file (line {number})") if isinstance(raw, bytes) else raw
        if not text.strip():
            continue
        if end is not None:
            raise InvalidInput(f"Line {number} of the import comes after the end marker (line {end[0]}).",
                               hint=NO_CHANGE)
        data = _json(text, number)
        if out is None:
            out = Parsed(_check_header(data, number))
        elif isinstance(data, dict) and data.get("format") == END:
            end = (number, data)
            continue
        elif isinstance(data, dict) and data.get("type") == "turn":
            out.turns.append(_check_turn(data, number, max_text_bytes))
        else:
            out.memories.append(_check_memory(data, number, max_text_bytes))
        digest.line(text if text.endswith("\n") else text + "\n")
    if out is None:
        raise InvalidInput("The import is empty: no Cairn export header found.", hint=NO_CHANGE)
    _check_complete(out, end, digest.hexdigest(), allow_unverified)
    return out


def _json(text: str, number: int) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"Line {number} of the import is not valid JSON ({exc.msg} at column {exc.colno}).",
                           hint=NO_CHANGE) from exc
    except RecursionError as exc:
        raise InvalidInput(f"Line {number} of the import nests its JSON too deeply to be a Cairn export.",
                           hint=NO_CHANGE) from exc


def _check_complete(out: Parsed, end: tuple[int, dict[str, Any]] | None, digest: str, allow_unverified: bool) -> None:
    version = out.header["version"]
    if version < 3:
        if not allow_unverified:
            raise InvalidInput(f"This export has format version {version}, which has no end marker, so a file that was "
                               "cut short cannot be told from a whole one.",
                               hint="If you trust the file, import it with --unverified. " + NO_CHANGE)
        return
    counts = (len(out.memories), len(out.turns))
    if end is None:
        raise InvalidInput(f"The import has no end marker: the file was cut short after {counts[0]} of "
                           f"{out.header['records']} memories.", hint="Export it again. " + NO_CHANGE)
    marker = end[1]
    if (marker.get("records"), marker.get("turns")) != counts or (out.header["records"], out.header["turns"]) != counts:
        raise InvalidInput(f"The import holds {counts[0]} memories and {counts[1]} turns, but its header and end "
                           f"marker (line {end[0]}) list a different number: lines were removed or added.",
                           hint=NO_CHANGE)
    if marker.get("sha256") != digest:
        raise InvalidInput("The import's checksum does not match its contents: the file was changed after it was "
                           "exported.", hint=NO_CHANGE)
    out.verified = True


def _check_header(data: Any, number: int) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InvalidInput(f"Line {number} is not a Cairn export header (expected format {FORMAT!r}).", hint=NO_CHANGE)
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InvalidInput(f"Line {number}, field version: {version!r} is not a format version.", hint=NO_CHANGE)
    if version > VERSION:
        raise InvalidInput(f"This export has format version {version}; this Cairn reads up to {VERSION}.",
                           hint="Upgrade Cairn to import it. " + NO_CHANGE)
    if version >= 3:
        for key in ("records", "turns"):
            _int(data.get(key), number, key, lo=0)
    return data


class _Fields:
    """Checks one line's fields; each failure names the line and the field."""

    def __init__(self, data: Any, number: int, what: str, prefix: str = "") -> None:
        if not isinstance(data, dict):
            where = f"field {prefix.rstrip('.')}" if prefix else "the import"
            raise InvalidInput(f"Line {number}, {where}: not a JSON object.", hint=NO_CHANGE)
        self.data, self.number, self.what, self.prefix = data, number, what, prefix

    def fail(self, name: str, problem: str) -> InvalidInput:
        return InvalidInput(f"Line {self.number} ({self.what}), field {self.prefix}{name}: {problem}.", hint=NO_CHANGE)

    def get(self, name: str, required: bool = True) -> Any:
        if required and name not in self.data:
            raise self.fail(name, "missing")
        return self.data.get(name)

    def text(self, name: str, max_bytes: int) -> str:
        value = self.get(name)
        try:
            return check_text(value, max_bytes, f"Line {self.number} ({self.what}), field {self.prefix}{name}")
        except InvalidInput as exc:
            raise InvalidInput(exc.message, hint=NO_CHANGE) from exc

    def string(self, name: str, nullable: bool = False, limit: int = 1024, required: bool = True) -> str | None:
        value = self.get(name, required)
        if value is None and (nullable or not required):
            return None
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise self.fail(name, f"{_show(value)} is not a text of 1 to {limit} characters")
        return value

    def choice(self, name: str, options: tuple[str, ...], nullable: bool = False, required: bool = True) -> str | None:
        value = self.get(name, required)
        if value is None and (nullable or not required):
            return None
        if value not in options:
            raise self.fail(name, f"{_show(value)} is not one of {', '.join(options)}")
        return str(value)

    def time(self, name: str, nullable: bool = False, required: bool = True) -> float | None:
        value = self.get(name, required)
        if value is None and (nullable or not required):
            return None
        if not _finite(value) or not 0 <= value <= MAX_TIME:
            raise self.fail(name, f"{_show(value)} is not a time (seconds since 1970, up to the year 9999)")
        return float(value)

    def numeric(self, name: str, lo: float, hi: float) -> float:
        value = self.get(name)
        if not _finite(value) or not lo <= value <= hi:
            raise self.fail(name, f"{_show(value)} is not a number from {lo:g} to {hi:g}")
        return float(value)

    def whole(self, name: str, lo: int) -> int:
        value = self.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= 2**62:
            raise self.fail(name, f"{_show(value)} is not a whole number of at least {lo}")
        return value

    def flag(self, name: str) -> bool:
        value = self.get(name)
        if not isinstance(value, bool):
            raise self.fail(name, f"{_show(value)} is not true or false")
        return value


def _check_memory(data: Any, number: int, max_text_bytes: int) -> dict[str, Any]:
    f = _Fields(data, number, "a memory")
    uid = f.get("uid")
    if not isinstance(uid, str) or not _UID.match(uid):
        raise f.fail("uid", f"{_show(uid)} is not a memory uid (1 to 64 letters, digits, '-' or '_')")
    record = {"uid": uid, "text": f.text("text", max_text_bytes), "kind": f.string("kind", limit=64),
              "source": _check_source(f), "created_at": f.time("created_at"), "updated_at": f.time("updated_at"),
              "pinned": f.flag("pinned"), "importance": f.numeric("importance", 0.0, 1.0),
              "strength": f.numeric("strength", 1e-6, 1e7), "last_recalled_at": f.time("last_recalled_at", True),
              "recall_count": f.whole("recall_count", lo=0),
              "forgotten_at": f.time("forgotten_at", True),
              "forgotten_by": f.choice("forgotten_by", FORGOTTEN_BY, nullable=True, required=False),
              "replaced_by": f.string("replaced_by", nullable=True, limit=64, required=False),
              "valid_from": f.time("valid_from", nullable=True, required=False),
              "valid_to": f.time("valid_to", nullable=True, required=False),
              "importance_parts": _check_parts(f), "history": _check_history(f),
              "client": f.string("client", nullable=True, limit=64, required=False)}
    return record


def _check_source(f: _Fields) -> dict[str, Any]:
    src = f.get("source")
    if not isinstance(src, dict):
        raise f.fail("source", "not a JSON object")
    inner = _Fields(src, f.number, f.what, "source.")
    turns = src.get("turns", [])
    if not isinstance(turns, list) or not all(isinstance(t, str) and 0 < len(t) <= 256 for t in turns):
        raise f.fail("source.turns", "not a list of turn ids")
    return {"type": inner.choice("type", SOURCE_TYPES, required=False) or "import",
            "ref": inner.string("ref", nullable=True, required=False), "turns": turns,
            "time": inner.time("time", nullable=True, required=False),
            "speaker": inner.string("speaker", nullable=True, limit=256, required=False)}


def _check_parts(f: _Fields) -> dict[str, float]:
    parts = f.get("importance_parts", required=False) or {}
    if not isinstance(parts, dict) or not all(isinstance(k, str) and _finite(v) for k, v in parts.items()):
        raise f.fail("importance_parts", "not an object of named numbers")
    return {k: float(v) for k, v in parts.items()}


def _check_history(f: _Fields) -> list[dict[str, Any]]:
    history = f.get("history", required=False) or []
    if not isinstance(history, list):
        raise f.fail("history", "not a list")
    out = []
    for i, entry in enumerate(history):
        h = _Fields(entry, f.number, f.what, f"history[{i}].")
        for side in ("old", "new"):
            if entry.get(side) is not None and not isinstance(entry.get(side), dict):
                raise f.fail(f"history[{i}].{side}", "not an object or null")
        out.append({"action": h.choice("action", ACTIONS), "at": h.time("at"), "old": entry.get("old"),
                    "new": entry.get("new"), "reason": h.string("reason", nullable=True, limit=4096, required=False)})
    return out


def _check_turn(data: dict[str, Any], number: int, max_text_bytes: int) -> dict[str, Any]:
    f = _Fields(data, number, "a logged turn")
    return {"conversation": f.string("conversation", limit=1024), "turn": f.string("turn", True, 256, required=False),
            "speaker": f.string("speaker", True, 256, required=False), "text": f.text("text", max_text_bytes),
            "at": f.time("at"), "memory": f.string("memory", True, 64, required=False)}


def _int(value: Any, number: int, name: str, lo: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= 2**62:
        raise InvalidInput(f"Line {number}, field {name}: {_show(value)} is not a whole number of at least {lo}.",
                           hint=NO_CHANGE)
    return value


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
