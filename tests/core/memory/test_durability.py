"""Crash safety and concurrency with real processes on a real database file."""

import signal
import subprocess
import sys
from pathlib import Path

from cairn.core.memory.storage import db as dbmod

BURST = """
import sys
from pathlib import Path
from cairn.core.memory.bank import MemoryBank
bank = MemoryBank.open(Path(sys.argv[1]))
tag, n = sys.argv[2], int(sys.argv[3])
for i in range(n):
    m = bank.remember(f"{tag} memory number {i} with a little text to embed and index")
    sys.stdout.write(f"{m.id}\\n")
    sys.stdout.flush()
bank.close()
"""


def consistency(path: Path) -> dict[str, object]:
    with dbmod.connect(path) as db:
        c = db.conn
        ids = {r[0] for r in c.execute("SELECT id FROM memories")}
        return {
            "integrity": c.execute("PRAGMA integrity_check").fetchone()[0],
            "ids": ids,
            "vec": {r[0] for r in c.execute("SELECT rowid FROM memory_vec")},
            "fts": {r[0] for r in c.execute("SELECT rowid FROM memory_fts")},
            "history": c.execute("SELECT COUNT(*) FROM history WHERE action = 'add'").fetchone()[0],
        }


def test_sigkill_mid_burst_loses_no_committed_memory(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    proc = subprocess.Popen([sys.executable, "-c", BURST, str(path), "burst", "1000"],
                            stdout=subprocess.PIPE, text=True)
    committed: list[int] = []
    assert proc.stdout is not None
    while len(committed) < 300:
        line = proc.stdout.readline()
        assert line, "the writer stopped early"
        committed.append(int(line))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    committed += [int(x) for x in proc.stdout.read().split()]  # ids printed before the kill landed
    assert proc.returncode == -signal.SIGKILL
    state = consistency(path)
    assert state["integrity"] == "ok"
    assert set(committed) <= state["ids"]  # type: ignore[operator]
    assert len(state["ids"]) < 1000, "the kill came too late to test anything"  # type: ignore[arg-type]
    # every memory has its vector, its full-text row and its history: nothing half-written
    assert state["ids"] == state["vec"] == state["fts"]
    assert state["history"] == len(state["ids"])  # type: ignore[arg-type]


def test_two_processes_writing_at_once_both_succeed(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    procs = [subprocess.Popen([sys.executable, "-c", BURST, str(path), tag, "150"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for tag in ("alpha", "beta")]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    state = consistency(path)
    assert state["integrity"] == "ok"
    assert len(state["ids"]) == 300  # type: ignore[arg-type]
    assert state["ids"] == state["vec"] == state["fts"]
