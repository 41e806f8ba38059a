"""Writers hold the database lock for milliseconds: slow work (word lists, model passes) happens
before the write transaction begins, so another process can write meanwhile."""

from pathlib import Path

from cairn.core.clock import ManualClock
from cairn.core.config import Settings
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.storage import db as dbmod


class WritesMeanwhile:
    """A background model (the project's own interface) that, while scoring, has another
    connection write with no patience at all: this fails if the bank holds the write lock."""

    id = "probe"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writes = 0

    def surprisal(self, text: str, words: list[str]) -> float:
        other = dbmod.connect(self.path, busy_timeout_ms=0)
        try:
            with other.atomic() as conn:
                conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (f"probe-{self.writes}", text[:10]))
            self.writes += 1
        finally:
            other.close()
        return 10.0


def test_scoring_happens_outside_the_write_transaction(isolated_home: Path, clock: ManualClock) -> None:
    path = isolated_home / "memory.db"
    with MemoryBank.open(path, Settings(), clock=clock) as bank:
        bank.remember("the bank exists")
        probe = WritesMeanwhile(path)
        bank.retention.background = probe
        bank.remember("My sister Ana moved to Lisbon")
        bank.log_turn("chat", "She works at a bakery near the river", speaker="me")
        assert probe.writes == 2
