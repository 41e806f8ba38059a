"""sqlite-utils on the bank's own connection (stdlib sqlite3 or sqlean, sqlite-vec loaded)."""

import hashlib
from pathlib import Path

import pytest
import sqlite_utils

from cairn.core.errors import SchemaTooNew, StorageError
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.storage import db as dbmod
from cairn.core.memory.storage import tables
from cairn.core.memory.storage.migrations import MIGRATIONS, Step
from cairn.core.memory.storage.records import Source


def _add_device_column(db: sqlite_utils.Database) -> None:
    """A migration as new ones are written: sqlite-utils, no hand-copied schema."""
    db.table("memories").add_column("device", str)
    db.create_table("devices", {"name": str, "kind": str, "first_seen": float}, pk="name", strict=True)
    db.table("memories").create_index(["device"], index_name="memories_device")
    db.table("conversation_log").transform(rename={"at": "said_at"})


def test_a_sqlite_utils_migration_runs_in_its_transaction(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with MemoryBank.open(path) as bank:
        bank.log_turn("chat", "My sister Ana lives in Lisbon", speaker="me")
    steps: list[tuple[str, Step]] = [*MIGRATIONS, ("0099_devices", _add_device_column)]
    with dbmod.connect(path) as db:
        assert dbmod.apply_migrations(db, steps) == ["0099_devices"]
        view = tables.wrap(db.conn)
        assert "device" in view.table("memories").columns_dict
        assert view.table("devices").pks == ["name"]
        log = view.table("conversation_log")
        assert "said_at" in log.columns_dict and log.count == 1  # transform kept the rows
        assert log.schema.rstrip().endswith("STRICT")
        assert dbmod.schema_version(db) == len(steps)
        assert db.quick_check() == "ok"


def test_a_failing_migration_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with MemoryBank.open(path) as bank:
        bank.remember("My sister Ana lives in Lisbon")

    def half_done(db: sqlite_utils.Database) -> None:
        db.table("memories").add_column("device", str)
        db.execute("SELECT * FROM no_such_table")

    with dbmod.connect(path) as db:
        with pytest.raises(StorageError, match="no such table"):
            dbmod.apply_migrations(db, [*MIGRATIONS, ("0099_broken", half_done)])
        assert dbmod.schema_version(db) == len(MIGRATIONS)
        assert "device" not in tables.wrap(db.conn).table("memories").columns_dict


def test_tables_lists_cairns_tables_with_counts_and_no_shadow_tables(bank: MemoryBank) -> None:
    bank.remember("My sister Ana lives in Lisbon")
    bank.log_turn("chat", "We adopted a cat called Miso", speaker="me")
    with bank.db.guard():
        found = {t.name: t for t in tables.tables(bank.db.conn)}
    assert set(found) == set(tables.DESCRIPTIONS)
    assert found["memories"].rows == 2 and found["conversation_log"].rows == 1
    assert found["memory_vec"].virtual and found["memory_vec"].rows == 2
    assert all(t.description for t in found.values())


def test_bulk_rows_join_the_callers_transaction(bank: MemoryBank) -> None:
    rows = [{"conversation": "c", "turn": str(i), "speaker": "me", "text": f"turn {i}", "at": float(i)} for i in range(1200)]
    with pytest.raises(RuntimeError), bank.db.atomic() as conn:
        assert tables.insert_rows(conn, "conversation_log", rows) == 1200
        raise RuntimeError("rolled back with everything else")
    assert bank.conversations() == []
    with bank.db.atomic() as conn:
        tables.insert_rows(conn, "conversation_log", rows)
    assert len(bank.conversation("c")) == 1200


def test_sqlite_utils_alter_needs_the_stdlib_error_class(bank: MemoryBank) -> None:
    """Why Cairn never passes alter=True: sqlite-utils adds a missing column by catching the stdlib
    sqlite3.OperationalError, which a sqlean connection does not raise."""
    view = tables.wrap(bank.db.conn)
    row = {"key": "k", "value": "v", "extra": 1}
    if bank.db.driver.name == "sqlean":
        with pytest.raises(bank.db.driver.error, match="no column named extra"):
            view.table("meta").insert(row, alter=True)
    else:
        view.table("meta").insert(row, alter=True)
        assert "extra" in view.table("meta").columns_dict


def _digest(path: Path) -> str:
    """The database file's bytes and the write-ahead log's (SQLite may create an empty log and
    shared-memory file for a reader of a WAL database; neither holds data then)."""
    wal = path.with_name(path.name + "-wal")
    return hashlib.sha256(path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")).hexdigest()


def test_open_readonly_writes_nothing_and_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with MemoryBank.open(path) as bank:
        bank.remember("Dentist with Dr. Reyes on March 21", source=Source("manual"))
    before = _digest(path)
    with dbmod.open_readonly(path) as db:
        with db.guard():
            assert {t.name for t in tables.tables(db.conn)} >= {"memories", "memory_vec"}
        with pytest.raises(StorageError, match="read-only|readonly"), db.guard():
            db.conn.execute("DELETE FROM memories")
    assert _digest(path) == before


def test_open_readonly_refuses_a_missing_or_newer_database(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no memory database"):
        dbmod.open_readonly(tmp_path / "absent.db")
    path = tmp_path / "m.db"
    with dbmod.connect(path) as db:
        db.conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(SchemaTooNew):
        dbmod.open_readonly(path)
