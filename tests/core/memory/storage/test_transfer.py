import io
import json
import re
from pathlib import Path

import pytest

from cairn.core.clock import ManualClock
from cairn.core.errors import InvalidInput
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.storage import transfer
from cairn.core.memory.storage.records import Source


def populated(bank: MemoryBank, clock: ManualClock) -> None:
    a = bank.remember("Ana lives in Lisbon", kind="fact", source=Source("conversation", "c1", ("D1:1", "D1:2"), 5.0))
    clock.advance(10)
    b = bank.remember("dentist on Tuesday 🦷", pinned=True)
    bank.update(a.id, text="Ana moved to Porto", reason="she moved")
    bank.forget(b.id, reason="done")
    bank.recall("Porto")
    c = bank.remember("to be purged")
    bank.purge(c.id)


def export_text(bank: MemoryBank) -> str:
    buf = io.StringIO()
    transfer.export(bank, buf)
    return buf.getvalue()


def test_round_trip_reproduces_memories_and_history(bank: MemoryBank, clock: ManualClock, tmp_path: Path) -> None:
    populated(bank, clock)
    text = export_text(bank)
    with MemoryBank.open(tmp_path / "copy.db", clock=clock) as other:
        report = transfer.import_(other, text.encode().splitlines())
        assert (report.added, report.skipped) == (2, 0)
        assert report.source_embedder == {"id": "hashing-v1", "dim": 384}
        src = {m.uid: m for m in bank.list("all")}
        dst = {m.uid: m for m in other.list("all")}
        assert src.keys() == dst.keys()
        for uid in src:
            assert transfer.same_memory(src[uid], dst[uid])
            strip = lambda hs: [(h.action, h.at, h.old, h.new, h.reason) for h in hs]  # noqa: E731
            assert strip(bank.history(src[uid].id)) == strip(other.history(dst[uid].id))
        assert other.recall("Porto", k=1)[0].memory.text == "Ana moved to Porto"
        assert all(h.memory.text != "dentist on Tuesday 🦷" for h in other.recall("dentist"))  # still forgotten
        assert export_text(other).splitlines()[1:] != []
        again = transfer.import_(other, text.splitlines())
        assert (again.added, again.skipped) == (0, 2)


@pytest.mark.parametrize("lines, message", [
    ([], "empty"),
    (['{"format": "something-else"}'], "not a Cairn export header"),
    (['{"format": "cairn-export", "version": 99}'], "version 99"),
    (["HEADER", '{"uid": "x"}'], "Line 1 .* not valid JSON"),
    (["HEADER", '{"uid": "x"}'], r"Line 2 \(a memory\), field text: missing"),
    (["HEADER", "GOOD", "{not json"], "Line 3 .* not valid JSON"),
    (["HEADER", "GOOD", "[1, 2]"], "Line 3, the import: not a JSON object"),
    (["HEADER", "GOOD", "WRONGTYPE"], r"Line 3 \(a memory\), field created_at: \"yesterday\" is not a time"),
])
def test_bad_imports_name_the_line_and_change_nothing(bank: MemoryBank, clock: ManualClock,
                                                      lines: list[str], message: str) -> None:
    populated(bank, clock)
    exported = export_text(bank).splitlines()
    good = json.loads(exported[1])
    good["uid"] = "fresh-uid"
    wrong = {**good, "uid": "other", "created_at": "yesterday"}
    header = exported[0] if "Line 1" not in message else "{broken"
    subst = {"HEADER": header, "GOOD": json.dumps(good), "WRONGTYPE": json.dumps(wrong)}
    before = [m.to_dict() for m in bank.list("all")]
    with pytest.raises(InvalidInput, match=message):
        transfer.import_(bank, [subst.get(line, line) for line in lines])
    assert [m.to_dict() for m in bank.list("all")] == before


@pytest.mark.parametrize("field, value, problem", [
    ("pinned", "no", 'field pinned: "no" is not true or false'),
    ("created_at", 1e20, "field created_at: 1e+20 is not a time"),
    ("importance", 2, "field importance: 2 is not a number from 0 to 1"),
    ("strength", float("nan"), "field strength: nan is not a number"),
    ("recall_count", -1, "field recall_count: -1 is not a whole number"),
    ("text", "\u200b\ufeff ", "field text has no visible characters"),
    ("kind", "", 'field kind: "" is not a text'),
    ("source", {"type": "telepathy"}, 'field source.type: "telepathy" is not one of'),
    ("history", [{"action": "teleport", "at": 1.0}], 'field history[0].action: "teleport" is not one of'),
    ("uid", "../../etc", 'field uid: "../../etc" is not a memory uid'),
])
def test_every_bad_value_is_named_with_line_and_field(bank: MemoryBank, tmp_path: Path, field: str, value: object,
                                                      problem: str) -> None:
    bank.remember("Ana lives in Lisbon")
    lines = export_text(bank).splitlines()
    record = json.loads(lines[1])
    record[field] = value
    lines[1] = json.dumps(record)
    with MemoryBank.open(tmp_path / "other.db") as other:
        with pytest.raises(InvalidInput, match=re.escape("Line 2 (a memory), " + problem)):
            transfer.import_(other, lines)
        assert other.list("all") == []


def test_truncated_altered_or_shortened_exports_are_refused(bank: MemoryBank, clock: ManualClock,
                                                            tmp_path: Path) -> None:
    for i in range(6):
        bank.remember(f"memory number {i} about the garden and the river")
    bank.log_turn("chat-1", "what did I plant?", speaker="user", memorable=False)
    lines = export_text(bank).splitlines()
    assert json.loads(lines[0])["records"] == 6 and json.loads(lines[0])["turns"] == 1
    assert json.loads(lines[-1])["format"] == "cairn-export-end"
    altered = [*lines]
    altered[2] = altered[2].replace("garden", "gardem")
    cases = {"cut at a line boundary": (lines[:4], "no end marker: the file was cut short after 3 of 6"),
             "a line removed": (lines[:3] + lines[4:], "list a different number"),
             "a value changed": (altered, "checksum does not match"),
             "a line after the end": (lines + [lines[1]], "comes after the end marker")}
    with MemoryBank.open(tmp_path / "other.db") as other:
        for case, (given, message) in cases.items():
            with pytest.raises(InvalidInput, match=message):
                transfer.import_(other, given)
            assert other.list("all") == [] and other.conversations() == [], case
        report = transfer.import_(other, lines)
        assert (report.added, report.turns_added, report.verified) == (6, 1, True)
        assert [t.text for t in other.conversation("chat-1")] == ["what did I plant?"]
        assert transfer.import_(other, lines).turns_added == 0  # idempotent for turns too


def test_old_exports_need_explicit_consent(bank: MemoryBank, tmp_path: Path) -> None:
    bank.remember("Ana lives in Lisbon")
    lines = export_text(bank).splitlines()
    header = json.loads(lines[0])
    header["version"] = 2
    old = [json.dumps(header), lines[1]]  # a version 2 file: no end marker
    with MemoryBank.open(tmp_path / "other.db") as other:
        with pytest.raises(InvalidInput, match="version 2, which has no end marker"):
            transfer.import_(other, old)
        report = transfer.import_(other, old, allow_unverified=True)
        assert (report.added, report.verified) == (1, False)


def test_invalid_utf8_line(bank: MemoryBank, clock: ManualClock) -> None:
    with pytest.raises(InvalidInput, match=r"line 2\) is not valid UTF-8 \(byte 0xff"):
        transfer.import_(bank, [export_text(bank).splitlines()[0].encode(), b'{"text": "\xff"}'])
