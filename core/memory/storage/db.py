"""Opening the memory database: driver choice, extension loading, pragmas and migrations.

One :func:`connect` for every connection. It picks the stdlib ``sqlite3`` where that can load
extensions and falls back to ``sqlean`` (a SQLite build that can), loads sqlite-vec on every
connection, turns on WAL, foreign keys, a busy timeout and secure delete, and applies pending
migrations, each in its own transaction. Driver exceptions become :class:`StorageError` here.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlite_vec

from cairn.core.errors import SchemaTooNew, StorageError
from cairn.core.memory.storage import tables
from cairn.core.memory.storage.migrations import MIGRATIONS, Step
from cairn.core.paths import FILE_MODE, ensure_dir, private_file

log = logging.getLogger(__name__)

SQLITE_MAGIC = b"SQLite format 3\x00"
BEGIN_RETRIES = 5  # BEGIN IMMEDIATE attempts when the busy timeout ran out (nothing was done yet)
SIDE_FILES = ("-wal", "-shm", "-journal")


@dataclass(frozen=True)
class Driver:
    name: str
    module: ModuleType

    @property
    def error(self) -> type[Exception]:
        error: type[Exception] = self.module.Error
        return error


def _can_load_extensions(module: ModuleType) -> bool:
    try:
        conn = module.connect(":memory:")
    except Exception:  # noqa: BLE001 - probing a driver; any failure means "not usable"
        return False
    try:
        conn.enable_load_extension(True)
        sqlite_vec.load(conn)
        conn.enable_load_extension(False)
        return True
    except (AttributeError, module.Error):
        return False
    finally:
        conn.close()


@functools.cache
def driver() -> Driver:
    """The SQLite module to use: stdlib if it can load sqlite-vec, else sqlean."""
    if _can_load_extensions(sqlite3):
        return Driver("sqlite3", sqlite3)
    try:
        import sqlean
    except ImportError as exc:
        raise StorageError(
            "This Python's sqlite3 cannot load extensions and sqlean.py is not installed.",
            hint="pip install sqlean.py",
        ) from exc
    if not _can_load_extensions(sqlean):
        raise StorageError("Neither sqlite3 nor sqlean could load the sqlite-vec extension.")
    return Driver("sqlean", sqlean)


def describe_error(path: Path, exc: BaseException) -> StorageError:
    """Turn a driver exception into one sentence that names the file and the problem."""
    text = str(exc)
    low = text.lower()
    if "not a database" in low:
        return StorageError(f"{path} is not a SQLite database ({text}).",
                            hint="Move it aside; Cairn will create a new bank there.")
    if "malformed" in low or "corrupt" in low:
        return StorageError(f"The memory database {path} is damaged ({text}).",
                            hint="Restore it from a backup or an export (cairn import).")
    if "readonly" in low or "read-only" in low or "unable to open" in low:
        return StorageError(f"Cannot write the memory database {path}: its folder or file is read-only ({text}).",
                            hint="Make the Cairn home writable, or set CAIRN_HOME to a writable folder.")
    if "locked" in low or "busy" in low:
        return StorageError(f"The memory database {path} is locked by another process ({text}).",
                            hint="Try again, or raise storage.busy_timeout_ms.")
    if "disk is full" in low or "full" in low:
        return StorageError(f"No space left to write {path} ({text}).")
    return StorageError(f"Database error in {path}: {text}.")


class Database:
    """One open connection, its driver and its file. Close it explicitly (or use ``with``)."""

    def __init__(self, conn: Any, drv: Driver, path: Path) -> None:
        self.conn = conn
        self.driver = drv
        self.path = path
        self._depth = 0

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Translate driver exceptions raised inside the block into StorageError."""
        try:
            yield
        except self.driver.error as exc:
            raise describe_error(self.path, exc) from exc

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Any]:
        """One write transaction (BEGIN IMMEDIATE). A nested call is a SAVEPOINT: an exception
        inside it rolls back only what the nested block did, then propagates."""
        if self._depth:
            yield from self._savepoint()
            return
        with self.guard():
            self._begin()
            self._depth = 1
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")
            finally:
                self._depth = 0

    @contextlib.contextmanager
    def reading(self) -> Iterator[Any]:
        """One read transaction: every query inside sees the same snapshot of the database."""
        if self._depth:
            yield self.conn
            return
        with self.guard():
            self.conn.execute("BEGIN DEFERRED")
            self._depth = 1
            try:
                yield self.conn
            finally:
                self._depth = 0
                self.conn.execute("COMMIT")

    def _savepoint(self) -> Iterator[Any]:
        self._depth += 1
        name = f"cairn_{self._depth}"
        self.conn.execute(f"SAVEPOINT {name}")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute(f"ROLLBACK TO {name}")
            self.conn.execute(f"RELEASE {name}")
            raise
        else:
            self.conn.execute(f"RELEASE {name}")
        finally:
            self._depth -= 1

    def _begin(self) -> None:
        """BEGIN IMMEDIATE, retried with back-off if the busy timeout ran out (another writer held
        the lock that long): safe, since nothing has happened yet."""
        for attempt in range(BEGIN_RETRIES):
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                return
            except self.driver.error as exc:
                if not is_busy(exc) or attempt == BEGIN_RETRIES - 1:
                    raise
                log.info("database busy; retrying BEGIN (%d)", attempt + 1)
                time.sleep(0.05 * 2 ** attempt)

    def quick_check(self) -> str:
        """SQLite's quick integrity check: "ok", or what is wrong."""
        with self.guard():
            return str(self.conn.execute("PRAGMA quick_check").fetchone()[0])

    def clear_wal(self) -> bool:
        """Copy every logged page into the database file and truncate the write-ahead log. Waits
        for other connections' reads up to the busy timeout; False if one still holds an older
        snapshot (the log then keeps old page images)."""
        with self.guard():
            busy, _log, _done = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return int(busy) == 0

    def close(self, optimize: bool = True) -> None:
        if self.conn is None:
            return
        if optimize:
            with contextlib.suppress(self.driver.error):
                self.conn.execute("PRAGMA optimize")
        self.conn.close()
        self.conn = None


def capabilities() -> tuple[str, str, str]:
    """(SQLite version, sqlite-vec version, driver name), from a throwaway in-memory connection
    that loads the extension and makes an FTS5 table; an error propagates."""
    drv = driver()
    conn = drv.module.connect(":memory:")
    try:
        conn.enable_load_extension(True)
        sqlite_vec.load(conn)
        vec = str(conn.execute("SELECT vec_version()").fetchone()[0])
        conn.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
        return str(conn.execute("SELECT sqlite_version()").fetchone()[0]), vec, drv.name
    finally:
        conn.close()


def check_file(path: Path) -> None:
    """Refuse, before SQLite touches it, a file that is not a SQLite database."""
    try:
        with path.open("rb") as fh:
            head = fh.read(100)
    except FileNotFoundError:
        return
    except IsADirectoryError as exc:
        raise StorageError(f"{path} is a folder, not a memory database.") from exc
    except OSError as exc:
        raise StorageError(f"Cannot read the memory database {path}: {exc.strerror or exc}.") from exc
    if not head:
        return  # an empty file is a database with no pages; SQLite initialises it
    if not head.startswith(SQLITE_MAGIC):
        raise StorageError(f"{path} is not a SQLite database (its header is wrong).",
                           hint="Move it aside; Cairn will create a new bank there.")
    if len(head) < 100:
        raise StorageError(f"The memory database {path} is truncated ({len(head)} bytes).",
                           hint="Restore it from a backup or an export (cairn import).")


def is_busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def make_private(path: Path) -> None:
    """Create the database file 0600 before SQLite does (its WAL and SHM files then inherit the
    mode), and narrow the modes an older Cairn left on the file and its side files."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
        os.close(fd)
    except FileExistsError:
        pass
    except OSError as exc:
        raise StorageError(f"Cannot create the memory database {path}: {exc.strerror or exc}.",
                           hint="Make the Cairn home writable, or set CAIRN_HOME to a writable folder.") from exc
    for suffix in ("", *SIDE_FILES):
        private_file(path.with_name(path.name + suffix))


def connect(path: Path, busy_timeout_ms: int = 10_000, migrate: bool = True) -> Database:
    """Open (creating if needed) the memory database at ``path``, ready to use."""
    check_file(path)
    ensure_dir(path.parent)
    make_private(path)
    drv = driver()
    try:
        conn = drv.module.connect(str(path), timeout=busy_timeout_ms / 1000, isolation_level=None)
    except drv.error as exc:
        raise describe_error(path, exc) from exc
    db = Database(conn, drv, path)
    try:
        with db.guard():
            _prepare(conn, busy_timeout_ms)
        if migrate:
            apply_migrations(db)
    except BaseException:
        db.close(optimize=False)  # a refused database is left exactly as it was
        raise
    return db


def open_readonly(path: Path, busy_timeout_ms: int = 10_000) -> Database:
    """Open an existing memory database read-only (``mode=ro``, ``query_only``, sqlite-vec
    loaded): no migration, no journal change, nothing written. For looking, not for the bank."""
    check_file(path)
    if not path.is_file():
        raise StorageError(f"There is no memory database at {path}.", hint="`cairn doctor` shows where Cairn looks.")
    drv = driver()
    try:
        conn = drv.module.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=busy_timeout_ms / 1000,
                                  isolation_level=None)
    except drv.error as exc:
        raise describe_error(path, exc) from exc
    db = Database(conn, drv, path)
    try:
        with db.guard():
            conn.enable_load_extension(True)
            sqlite_vec.load(conn)
            conn.enable_load_extension(False)
            conn.execute("PRAGMA query_only = ON")
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise too_new(path, version, len(MIGRATIONS))
    except BaseException:
        db.close(optimize=False)
        raise
    return db


def _prepare(conn: Any, busy_timeout_ms: int) -> None:
    conn.enable_load_extension(True)
    sqlite_vec.load(conn)
    conn.enable_load_extension(False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA secure_delete = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA cache_size = -32768")  # 32 MiB of page cache
    conn.execute("PRAGMA mmap_size = 1073741824")  # reads of up to 1 GiB straight from the OS cache
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        return  # refused by apply_migrations without writing anything
    mode = _switch_to_wal(conn)
    if str(mode).lower() != "wal":
        log.warning("journal_mode is %s, not WAL", mode)


def _switch_to_wal(conn: Any) -> str:
    """Turn on write-ahead logging. Two processes creating the same new database at once can find
    it busy while the other switches; that is retried, like BEGIN."""
    for attempt in range(BEGIN_RETRIES):
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except Exception as exc:  # the driver's error class (sqlite3 or sqlean)
            if not is_busy(exc) or attempt == BEGIN_RETRIES - 1:
                raise
            time.sleep(0.05 * 2 ** attempt)
    raise AssertionError("unreachable")


def schema_version(db: Database) -> int:
    with db.guard():
        return int(db.conn.execute("PRAGMA user_version").fetchone()[0])


def too_new(path: Path, version: int, known: int) -> SchemaTooNew:
    return SchemaTooNew(f"The memory database {path} has schema version {version}, but this Cairn knows "
                        f"only up to {known}: it was written by a newer Cairn.",
                        hint="Upgrade Cairn to open it; nothing in it was changed.")


def apply_migrations(db: Database, migrations: list[tuple[str, Step]] = MIGRATIONS) -> list[str]:
    """Apply pending migrations in order, each in its own transaction; return their names."""
    known = len(migrations)
    version = schema_version(db)
    if version > known:
        raise too_new(db.path, version, known)
    applied: list[str] = []
    for index in range(version, known):
        name, step = migrations[index]
        with db.atomic() as conn:
            if int(conn.execute("PRAGMA user_version").fetchone()[0]) > index:
                continue  # another process applied it while we waited for the lock
            if isinstance(step, str):
                _run_script(conn, step)
            else:
                step(tables.wrap(conn))
            conn.execute(f"PRAGMA user_version = {index + 1}")
        log.info("applied migration %s to %s", name, db.path)
        applied.append(name)
    return applied


def _run_script(conn: Any, script: str) -> None:
    """Run a multi-statement script inside the current transaction (executescript would commit)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)
