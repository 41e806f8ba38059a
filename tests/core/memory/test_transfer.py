import io
import json
from pathlib import Path

import pytest

from cairn.core.clock import ManualClock
from cairn.core.errors import InvalidInput
from cairn.core.memory import transfer
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.records import Source


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
    (["HEADER", '{"uid": "x"}'], "Line 2 of the import lacks"),
    (["HEADER", "GOOD", "{not json"], "Line 3 .* not valid JSON"),
    (["HEADER", "GOOD", "[1, 2]"], "Line 3 .* not a JSON object"),
    (["HEADER", "GOOD", "WRONGTYPE"], "Line 3 .* wrong type"),
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


def test_invalid_utf8_line(bank: MemoryBank, clock: ManualClock) -> None:
    with pytest.raises(InvalidInput, match=r"line 2\) is not valid UTF-8 \(byte 0xff"):
        transfer.import_(bank, [export_text(bank).splitlines()[0].encode(), b'{"text": "\xff"}'])
