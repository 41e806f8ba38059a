import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cairn.core.errors import SchemaTooNew, StorageError
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.storage import db as dbmod
from cairn.core.memory.storage.migrations import MIGRATIONS


def test_connect_sets_up_everything(tmp_path: Path) -> None:
    with dbmod.connect(tmp_path / "m.db") as db:
        c = db.conn
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert c.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert c.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000
        assert c.execute("PRAGMA secure_delete").fetchone()[0] == 1
        assert c.execute("SELECT vec_version()").fetchone()[0].startswith("v")
        assert c.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        names = {r[0] for r in c.execute("SELECT name FROM sqlite_master")}
        assert {"memories", "memory_fts", "history", "meta"} <= names


def test_migrations_apply_once(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with dbmod.connect(path, migrate=False) as db:
        assert dbmod.apply_migrations(db) == [name for name, _ in MIGRATIONS]
        assert dbmod.apply_migrations(db) == []


def test_newer_schema_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with MemoryBank.open(path) as bank:
        bank.remember("a memory from the future")
    with dbmod.connect(path) as db:
        db.conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = path.read_bytes()
    with pytest.raises(SchemaTooNew, match="newer Cairn"):
        dbmod.connect(path)
    assert path.read_bytes() == before


def test_not_a_database_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    path.write_bytes(b"these are my notes, not a database\n" * 20)
    before = path.read_bytes()
    with pytest.raises(StorageError, match="not a SQLite database"):
        dbmod.connect(path)
    assert path.read_bytes() == before


def test_truncated_database_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with MemoryBank.open(path) as bank:
        for i in range(300):
            bank.remember(f"memory number {i} about something long enough to fill pages " * 3)
    data = path.read_bytes()
    cut = tmp_path / "cut.db"
    for size in (60, len(data) // 3):
        cut.write_bytes(data[:size])
        with pytest.raises(StorageError) as info:
            with MemoryBank.open(cut) as b:
                b.list(limit=None)
                b.recall("memory number 250")
        assert str(cut) in info.value.message
        assert cut.read_bytes() == data[:size]


def test_driver_errors_become_storage_errors(tmp_path: Path) -> None:
    with dbmod.connect(tmp_path / "m.db") as db:
        with pytest.raises(StorageError, match="Database error"):
            with db.guard():
                db.conn.execute("SELECT * FROM no_such_table")


def test_atomic_rolls_back(tmp_path: Path) -> None:
    with dbmod.connect(tmp_path / "m.db") as db:
        with pytest.raises(RuntimeError):
            with db.atomic() as c:
                c.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
                raise RuntimeError("boom")
        assert db.conn.execute("SELECT COUNT(*) FROM meta").fetchone()[0] == 0


def test_a_nested_failure_rolls_back_alone(tmp_path: Path) -> None:
    with dbmod.connect(tmp_path / "m.db") as db:
        with db.atomic() as c:
            c.execute("INSERT INTO meta (key, value) VALUES ('outer', '1')")
            with pytest.raises(RuntimeError):
                with db.atomic() as inner:  # a SAVEPOINT inside the outer transaction
                    inner.execute("INSERT INTO meta (key, value) VALUES ('inner', '2')")
                    raise RuntimeError("boom")
            c.execute("INSERT INTO meta (key, value) VALUES ('after', '3')")
        keys = {r[0] for r in db.conn.execute("SELECT key FROM meta WHERE key IN ('outer', 'inner', 'after')")}
        assert keys == {"outer", "after"}


def test_capabilities_and_quick_check(tmp_path: Path) -> None:
    version, vec, name = dbmod.capabilities()
    assert version.count(".") == 2 and vec.startswith("v") and name in ("sqlite3", "sqlean")
    with dbmod.connect(tmp_path / "m.db") as db:
        assert db.quick_check() == "ok"


def test_parallel_first_open_migrates_once(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    code = ("import sys; from pathlib import Path; from cairn.core.memory.bank import MemoryBank\n"
            "b = MemoryBank.open(Path(sys.argv[1])); b.remember('hello from ' + sys.argv[2]); b.close()")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), str(i)]) for i in range(3)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    with MemoryBank.open(path) as bank:
        assert len(bank.list()) == 3


def test_sqlean_fallback_is_usable() -> None:
    pytest.importorskip("sqlean")
    import sqlean

    assert dbmod._can_load_extensions(sqlean)


def test_copy_of_live_database_opens(tmp_path: Path) -> None:
    src = tmp_path / "a.db"
    with MemoryBank.open(src) as bank:
        bank.remember("copied memory")
    shutil.copy(src, tmp_path / "b.db")
    with MemoryBank.open(tmp_path / "b.db") as bank:
        assert [m.text for m in bank.list()] == ["copied memory"]


def test_a_version_1_database_upgrades_keeping_memories_and_history(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with dbmod.connect(path, migrate=False) as db:
        with db.atomic() as conn:
            for statement in MIGRATIONS[0][1].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("PRAGMA user_version = 1")
            conn.execute("INSERT INTO memories (uid, text, created_at, updated_at) VALUES ('u1', 'old fact', 1, 1)")
            conn.execute("INSERT INTO memory_fts (rowid, speaker, text, context) VALUES (1, '', 'old fact', '')")
            conn.execute("INSERT INTO history (memory_uid, action, at, new_value) VALUES ('u1', 'add', 1, '{}')")
    with MemoryBank.open(path) as bank:
        assert dbmod.schema_version(bank.db) == len(MIGRATIONS)
        old = bank.get(1)
        assert old.text == "old fact" and old.forgotten_by is None and old.importance_parts == {}
        assert [h.action for h in bank.history(1)] == ["add"]
        bank.forget(1)
        bank.sweep(budget=1)
        assert [h.action for h in bank.history(1)] == ["add", "forget"]
        assert bank.get(1).forgotten_by == "user"
