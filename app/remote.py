"""The memory bank as the daemon serves it: the same methods the CLI calls on a
:class:`~cairn.core.memory.MemoryBank`, over the daemon's API, returning the same record types.

While a daemon runs, the CLI uses this instead of opening the database beside it, so the daemon
stays the only process that writes the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from cairn.app.client import Client, quote_path
from cairn.core import InvalidInput, NotFound, ServiceError
from cairn.core.memory import (
    ChatMessage,
    ConversationSummary,
    HistoryEntry,
    LoggedTurn,
    Memory,
    MemoryId,
    Recalled,
    RecallFilters,
    Source,
    SweepReport,
    TurnsLogged,
)

PAGE = 1000  # memories per request when listing everything


class RemoteBank:
    """A bank behind the daemon. Owns its client: close it (or use ``with``)."""

    remote = True

    def __init__(self, client: Client) -> None:
        self.client = client

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> RemoteBank:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writes -----------------------------------------------------------------------------

    def remember(self, text: str, *, kind: str = "note", source: Source | None = None, pinned: bool = False,
                 importance: float | None = None) -> Memory:
        source = source or Source()
        if source.turns:
            raise InvalidInput("Turn ids cannot be given through the daemon; leave out --turn.")
        body = {"text": text, "kind": kind, "pinned": pinned, "importance": importance,
                "source": {"type": source.type, "ref": source.ref, "speaker": source.speaker, "time": source.time}}
        return Memory.from_dict(self.client.request("POST", "/v1/memories", body))

    def update(self, memory_id: MemoryId, *, text: str | None = None, kind: str | None = None,
               pinned: bool | None = None, source: Source | None = None, importance: float | None = None,
               reason: str | None = None) -> Memory:
        if source is not None:
            raise InvalidInput("A memory's source cannot be changed through the daemon.")
        body = {k: v for k, v in {"text": text, "kind": kind, "pinned": pinned, "importance": importance,
                                  "reason": reason}.items() if v is not None}
        return Memory.from_dict(self.client.request("PATCH", f"/v1/memories/{int(memory_id)}", body))

    def forget_many(self, ids: Iterable[MemoryId], reason: str | None = None) -> list[Memory]:
        return self._many("/v1/memories/forget", {"ids": _ids(ids), "reason": reason})

    def restore_many(self, ids: Iterable[MemoryId], reason: str | None = None) -> list[Memory]:
        return self._many("/v1/memories/restore", {"ids": _ids(ids), "reason": reason})

    def pin_many(self, ids: Iterable[MemoryId], pinned: bool = True) -> list[Memory]:
        return self._many("/v1/memories/pin", {"ids": _ids(ids), "pinned": pinned})

    def purge_many(self, ids: Iterable[MemoryId], reason: str | None = None) -> list[str]:
        uids: list[str] = self.client.request("POST", "/v1/memories/purge", {"ids": _ids(ids), "reason": reason})["purged"]
        return uids

    def purge_conversation(self, names: list[str], with_memories: bool = False,
                           reason: str | None = None) -> dict[str, Any]:
        body = {"names": names, "with_memories": with_memories, "reason": reason}
        result: dict[str, Any] = self.client.request("POST", "/v1/conversations/purge", body)
        return result

    def rename_conversation(self, old: str, new: str) -> dict[str, Any]:
        result: dict[str, Any] = self.client.request("PATCH", f"/v1/conversations/{quote_path(old)}", {"name": new})
        return result

    def sweep(self, now: float | None = None, budget: int | None = None, dry_run: bool = False) -> SweepReport:
        if now is not None:
            raise InvalidInput("A sweep through the daemon runs at the daemon's own time.")
        data = self.client.request("POST", "/v1/sweep", {"budget": budget, "dry_run": dry_run})
        return SweepReport(data["archived"], data["by_rule"], data["live_before"], data["live_after"],
                           data["pinned_over_budget"], data["seconds"], [MemoryId(i) for i in data["ids"]])

    # ---- reads ------------------------------------------------------------------------------

    def recall(self, query: str, k: int | None = None, filters: RecallFilters | None = None,
               touch: bool = True) -> list[Recalled]:
        f = filters or RecallFilters()
        body = {"query": query, "k": k, "touch": touch,
                "filters": {"kinds": list(f.kinds), "source_types": list(f.source_types), "source_ref": f.source_ref,
                            "since": f.since, "until": f.until, "pinned_only": f.pinned_only}}
        return [Recalled.from_dict(h) for h in self.client.request("POST", "/v1/memories/search", body)["data"]]

    def get(self, memory_id: MemoryId) -> Memory:
        return Memory.from_dict(self.client.request("GET", f"/v1/memories/{int(memory_id)}"))

    def get_many(self, ids: Iterable[MemoryId]) -> list[Memory]:
        return self._many("/v1/memories/get", {"ids": _ids(ids)})

    def history(self, memory_id: MemoryId) -> list[HistoryEntry]:
        data = self.client.request("GET", f"/v1/memories/{int(memory_id)}/history")["data"]
        return [HistoryEntry.from_dict(h) for h in data]

    def explain(self, memory_id: MemoryId, now: float | None = None, days: int = 90) -> dict[str, Any]:
        if now is not None:
            raise InvalidInput("An explanation through the daemon is at the daemon's own time.")
        result: dict[str, Any] = self.client.request("GET", f"/v1/memories/{int(memory_id)}/why", params={"days": days})
        return result

    def conversations(self, limit: int | None = None, offset: int = 0) -> list[ConversationSummary]:
        data = self._pages("/v1/conversations", limit, offset, {})
        return [ConversationSummary(**c) for c in data]

    def conversation(self, name: str) -> list[LoggedTurn]:
        try:
            turns = self.client.request("GET", f"/v1/conversations/{quote_path(name)}")["turns"]
        except ServiceError as exc:
            if exc.code == "not_found":  # the local bank's error, so both answer alike (exit code 3)
                raise NotFound(exc.message, hint=exc.hint) from exc
            raise
        return [LoggedTurn(**t) for t in turns]

    def log_turns(self, conversation: str, messages: Sequence[ChatMessage], new: bool = False) -> TurnsLogged:
        body = {"turns": [m.__dict__ for m in messages], "new": new}
        result = self.client.request("POST", f"/v1/conversations/{quote_path(conversation)}/turns", body)
        return TurnsLogged(**result)

    def taken_conversations(self, names: list[str]) -> list[str]:
        taken = []
        for name in names:
            try:
                self.conversation(name)
            except NotFound:
                continue
            taken.append(name)
        return taken

    def stats(self) -> dict[str, Any]:
        status = self.client.request("GET", "/v1/status")
        return {"memories": status["memories"], "database": status["database"], "daemon": True}

    def export_to(self, out: TextIO) -> tuple[int, int]:
        """Write the daemon's export to ``out``; (memories, logged turns) from its end marker."""
        text: str = self.client.request("GET", "/v1/export")
        out.write(text)
        end = json.loads(text.rstrip("\n").rsplit("\n", 1)[-1])
        return int(end["records"]), int(end["turns"])

    def import_bytes(self, data: bytes, unverified: bool = False) -> dict[str, Any]:
        """Send an export file's bytes; the daemon checks all of it before adding anything."""
        result: dict[str, Any] = self.client.request("POST", "/v1/import", params={"unverified": unverified},
                                                     content=data)
        return result

    def gate(self, text: str) -> dict[str, Any]:
        """The gate's decision for ``text`` with its signals (as ``Decision.to_dict``)."""
        result: dict[str, Any] = self.client.request("POST", "/v1/gate", {"text": text})
        return result

    def _pages(self, path: str, limit: int | None, offset: int, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every item from ``offset`` on (at most ``limit``), a page at a time."""
        out: list[dict[str, Any]] = []
        while limit is None or len(out) < limit:
            size = PAGE if limit is None else min(PAGE, limit - len(out))
            page = self.client.request("GET", path, params={**params, "limit": size, "offset": offset + len(out)})["data"]
            out += page
            if len(page) < size:
                break
        return out

    def _many(self, path: str, body: dict[str, Any]) -> list[Memory]:
        return [Memory.from_dict(m) for m in self.client.request("POST", path, body)["data"]]

    # Last in the class: a method named ``list`` shadows the builtin for the annotations after it.
    def list(self, state: str = "live", limit: int | None = None, offset: int = 0,
             kind: str | None = None) -> list[Memory]:
        data = self._pages("/v1/memories", limit, offset, {"state": state, "kind": kind})
        return [Memory.from_dict(m) for m in data]

def _ids(ids: Iterable[MemoryId]) -> list[int]:
    return [int(i) for i in dict.fromkeys(ids)]

