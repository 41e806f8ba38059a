"""Per-client consent: which programs use the bank, what each may do, and every read each made.

A *client* is a program other than the user's own Cairn (an MCP client such as a code editor or
another assistant), named by what it calls itself. Each has a scope: ``read`` (search and read
memories), ``read-write`` (also remember and forget) or ``off`` (nothing). A client Cairn has not
seen starts at the default scope (``mcp.default_scope``, read-write unless the user changes it).
Every memory a client writes records its name (``memories.client``); every read is logged
(``client_reads``), so the user can see who looked at what.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from cairn.core.clock import Clock
from cairn.core.errors import InvalidInput, NotPermitted
from cairn.core.memory.storage.db import Database

SCOPES = ("read", "read-write", "off")
NAME = re.compile(r"^[\w .:@+/-]{1,64}$")


@dataclass(frozen=True)
class ClientInfo:
    name: str
    scope: str
    first_seen: float
    last_seen: float
    writes: int  # memories it wrote (live or not)
    reads: int  # reads logged

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_name(name: str) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not NAME.match(name):
        raise InvalidInput(f"{name[:80]!r} is not a client name (1 to 64 letters, digits, spaces or . : @ + / - _).")
    return name


def check_scope(scope: str) -> str:
    if scope not in SCOPES:
        raise InvalidInput(f"Unknown scope {scope!r}: use read, read-write or off.")
    return scope


class Clients:
    """The bank's record of clients (``bank.clients``)."""

    def __init__(self, db: Database, clock: Clock, default_scope: str = "read-write") -> None:
        self.db, self.clock, self.default_scope = db, clock, check_scope(default_scope)

    def allow(self, name: str, write: bool) -> str:
        """Register ``name`` if new (at the default scope), note that it was seen, and refuse
        (:class:`NotPermitted`) what its scope does not allow. Returns its scope."""
        name = check_name(name)
        now = self.clock.now()
        with self.db.atomic() as conn:
            conn.execute("INSERT INTO clients (name, scope, first_seen, last_seen) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT (name) DO UPDATE SET last_seen = excluded.last_seen",
                         (name, self.default_scope, now, now))
            scope = str(conn.execute("SELECT scope FROM clients WHERE name = ?", (name,)).fetchone()[0])
        if scope == "off" or (write and scope != "read-write"):
            what = "use your memories" if scope == "off" else "change your memories (it may only read them)"
            raise NotPermitted(f"The client {name!r} is not allowed to {what}.",
                               hint=f"`cairn mcp scope {name!r} read-write` allows it; `cairn mcp clients` lists clients.")
        return scope

    def set_scope(self, name: str, scope: str) -> ClientInfo:
        name, scope = check_name(name), check_scope(scope)
        now = self.clock.now()
        with self.db.atomic() as conn:
            conn.execute("INSERT INTO clients (name, scope, first_seen, last_seen) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT (name) DO UPDATE SET scope = excluded.scope", (name, scope, now, now))
        return next(c for c in self.list() if c.name == name)

    def log_read(self, name: str, action: str, memory_ids: list[int], detail: str | None = None) -> None:
        with self.db.atomic() as conn:
            conn.execute("INSERT INTO client_reads (client, at, action, memory_ids, detail) VALUES (?, ?, ?, ?, ?)",
                         (check_name(name), self.clock.now(), action, json.dumps(memory_ids), detail))

    def reads(self, name: str, limit: int = 50) -> list[dict[str, Any]]:
        """A client's latest reads, newest first."""
        with self.db.guard():
            rows = self.db.conn.execute("SELECT at, action, memory_ids, detail FROM client_reads WHERE client = ? "
                                        "ORDER BY id DESC LIMIT ?", (check_name(name), limit)).fetchall()
        return [{"at": r[0], "action": r[1], "memory_ids": json.loads(r[2]), "detail": r[3]} for r in rows]

    def list(self) -> list[ClientInfo]:
        with self.db.guard():
            rows = self.db.conn.execute(
                "SELECT c.name, c.scope, c.first_seen, c.last_seen, "
                "(SELECT count(*) FROM memories m WHERE m.client = c.name), "
                "(SELECT count(*) FROM client_reads r WHERE r.client = c.name) "
                "FROM clients c ORDER BY c.last_seen DESC").fetchall()
        return [ClientInfo(*r) for r in rows]
