"""The memory API: /v1/memories (add, get, list, search, update, pin, forget, restore, purge,
history, why), export and import, conversations, the gate and sweeps."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import PlainTextResponse

from cairn.app.daemon.engine import engine_of
from cairn.app.protocol import (
    CLIENT_HEADER,
    ConversationPurge,
    Filters,
    GateIn,
    Ids,
    MemoryIn,
    MemoryPatch,
    Pin,
    PinMany,
    Reason,
    RenameIn,
    ScopeIn,
    SearchIn,
    SweepIn,
    TurnsIn,
)
from cairn.core import NotPermitted
from cairn.core.memory import (
    MAX_K,
    ChatLog,
    ChatMessage,
    Memory,
    MemoryBank,
    MemoryId,
    RecallFilters,
    Source,
    TurnsLogged,
    chat_batches,
    check_free,
    decode_utf8,
    parse_chat,
    transfer,
)

router = APIRouter(tags=["memory"])
R = TypeVar("R")
Id = Annotated[int, Path(ge=1, le=2**63 - 1, description="a memory id")]




async def _allow(request: Request, write: bool) -> str | None:
    """The calling client's name (None: the user's own Cairn), refused if its scope forbids this."""
    name = request.headers.get(CLIENT_HEADER)
    if name is not None:
        await engine_of(request).bank.call(lambda b: b.clients.allow(name, write))
    return name


async def _write(request: Request, fn: Callable[[MemoryBank], R]) -> R:
    """Run a change on the bank worker, once the calling client's scope allows writing."""
    await _allow(request, write=True)
    return await engine_of(request).bank.call(fn)


async def _read(request: Request, action: str, ids: list[int], detail: str | None = None) -> None:
    """Log a client's read (the user's own reads are not logged)."""
    name = request.headers.get(CLIENT_HEADER)
    if name is not None:
        await engine_of(request).bank.call(lambda b: b.clients.log_read(name, action, ids, detail))


@router.post("/v1/memories", status_code=201, summary="Remember a text")
async def add(request: Request, body: MemoryIn) -> dict[str, Any]:
    client = await _allow(request, write=True)
    s = body.source
    source = Source(s.type, s.ref, (), s.time, s.speaker)
    memory = await engine_of(request).bank.call(
        lambda b: b.remember(body.text, kind=body.kind, source=source, pinned=body.pinned, importance=body.importance,
                             client=client))
    return memory.to_dict()


@router.get("/v1/memories", summary="List memories, newest first, with paging")
async def list_memories(request: Request, state: Literal["live", "forgotten", "archived", "all"] = "live",
                        kind: str | None = Query(None, max_length=64), limit: int = Query(50, ge=1, le=1000),
                        offset: int = Query(0, ge=0, le=2**62)) -> dict[str, Any]:
    await _allow(request, write=False)
    found = await engine_of(request).bank.call(lambda b: b.list(state, limit, offset, kind))
    await _read(request, "list", [m.id for m in found])
    return {"data": [m.to_dict() for m in found], "limit": limit, "offset": offset}


@router.post("/v1/memories/search", summary="Hybrid search (vectors, keywords, time)")
async def search(request: Request, body: SearchIn) -> dict[str, Any]:
    await _allow(request, write=False)
    filters = _filters(body.filters)
    k = min(body.k, MAX_K) if body.k is not None else None
    hits = await engine_of(request).bank.call(lambda b: b.recall(body.query, k, filters, touch=body.touch))
    await _read(request, "search", [h.memory.id for h in hits], body.query)
    return {"data": [h.to_dict() for h in hits]}


@router.post("/v1/memories/get", summary="Several memories by id (not found: names every unknown id)")
async def get_many(request: Request, body: Ids) -> dict[str, Any]:
    await _allow(request, write=False)
    found = await engine_of(request).bank.call(lambda b: b.get_many(_ids(body.ids)))
    await _read(request, "get", [m.id for m in found])
    return {"data": [m.to_dict() for m in found]}


@router.post("/v1/memories/forget", summary="Forget several memories: all, or none if an id is unknown")
async def forget_many(request: Request, body: Ids) -> dict[str, Any]:
    return await _batch(request, lambda b: b.forget_many(_ids(body.ids), body.reason))


@router.post("/v1/memories/restore", summary="Restore several memories: all, or none if an id is unknown")
async def restore_many(request: Request, body: Ids) -> dict[str, Any]:
    return await _batch(request, lambda b: b.restore_many(_ids(body.ids), body.reason))


@router.post("/v1/memories/pin", summary="Pin or unpin several memories: all, or none if an id is unknown")
async def pin_many(request: Request, body: PinMany) -> dict[str, Any]:
    return await _batch(request, lambda b: b.pin_many(_ids(body.ids), body.pinned))


async def _batch(request: Request, op: Callable[[MemoryBank], list[Memory]]) -> dict[str, Any]:
    """A batch write (all or none) and the memories it left, as the batch routes answer."""
    done = await _write(request, op)
    return {"data": [m.to_dict() for m in done]}


@router.post("/v1/memories/purge", summary="Purge several memories for good: all, or none")
async def purge_many(request: Request, body: Ids) -> dict[str, Any]:
    uids = await _write(request, lambda b: b.purge_many(_ids(body.ids), body.reason))
    return {"purged": uids}


def _ids(ids: list[int]) -> list[MemoryId]:
    return [MemoryId(i) for i in ids]


def _filters(f: Filters) -> RecallFilters:
    return RecallFilters(tuple(f.kinds), tuple(f.source_types), f.source_ref, f.since, f.until, f.pinned_only)


@router.get("/v1/memories/{memory_id}", summary="One memory with its provenance")
async def get(request: Request, memory_id: Id) -> dict[str, Any]:
    await _allow(request, write=False)
    memory = await engine_of(request).bank.call(lambda b: b.get(MemoryId(memory_id)))
    await _read(request, "get", [memory.id])
    return memory.to_dict()


@router.patch("/v1/memories/{memory_id}", summary="Change a memory (its history keeps old and new)")
async def update(request: Request, memory_id: Id, body: MemoryPatch) -> dict[str, Any]:
    await _allow(request, write=True)
    memory = await engine_of(request).bank.call(lambda b: b.update(
        MemoryId(memory_id), text=body.text, kind=body.kind, pinned=body.pinned, importance=body.importance,
        reason=body.reason))
    return memory.to_dict()


@router.post("/v1/memories/{memory_id}/pin", summary="Pin (or unpin): a pinned memory never fades")
async def pin(request: Request, memory_id: Id, body: Pin) -> dict[str, Any]:
    await _allow(request, write=True)
    return (await engine_of(request).bank.call(lambda b: b.pin(MemoryId(memory_id), body.pinned))).to_dict()


@router.post("/v1/memories/{memory_id}/forget", summary="Forget: hidden from recall, restorable")
async def forget(request: Request, memory_id: Id, body: Reason) -> dict[str, Any]:
    await _allow(request, write=True)
    return (await engine_of(request).bank.call(lambda b: b.forget(MemoryId(memory_id), body.reason))).to_dict()


@router.post("/v1/memories/{memory_id}/restore", summary="Undo a forget, an archive or a merge")
async def restore(request: Request, memory_id: Id, body: Reason) -> dict[str, Any]:
    await _allow(request, write=True)
    return (await engine_of(request).bank.call(lambda b: b.restore(MemoryId(memory_id), body.reason))).to_dict()


@router.delete("/v1/memories/{memory_id}", summary="Purge: erase for good, no copy left in the files")
async def purge(request: Request, memory_id: Id, reason: str | None = Query(None, max_length=1024)) -> dict[str, Any]:
    uid = await _write(request, lambda b: b.purge(MemoryId(memory_id), reason))
    return {"purged": uid}


@router.get("/v1/memories/{memory_id}/history", summary="Every change to a memory")
async def history(request: Request, memory_id: Id) -> dict[str, Any]:
    await _allow(request, write=False)
    entries = await engine_of(request).bank.call(lambda b: b.history(MemoryId(memory_id)))
    await _read(request, "history", [memory_id])
    return {"data": [h.to_dict() for h in entries]}


@router.get("/v1/memories/{memory_id}/why", summary="Why it is kept: importance, strength, its curve")
async def why(request: Request, memory_id: Id, days: int = Query(90, ge=1, le=3650)) -> dict[str, Any]:
    await _allow(request, write=False)
    report = await engine_of(request).bank.call(lambda b: b.explain(MemoryId(memory_id), days=days))
    await _read(request, "why", [memory_id])
    return report


@router.get("/v1/export", response_class=PlainTextResponse, summary="Every memory and logged turn as JSON Lines")
async def export(request: Request) -> PlainTextResponse:
    await _allow(request, write=False)
    def run(bank: MemoryBank) -> str:
        out = io.StringIO()
        transfer.export(bank, out)
        return out.getvalue()
    text = await engine_of(request).bank.call(run)
    await _read(request, "export", [], "every memory")
    return PlainTextResponse(text, media_type="application/x-ndjson")


@router.post("/v1/import", summary="Add what an export holds and the bank lacks (all or nothing)",
             openapi_extra={"requestBody": {"content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                                            "required": True}})
async def import_(request: Request, unverified: bool = False) -> dict[str, Any]:
    await _allow(request, write=True)
    text = decode_utf8(await request.body(), "import file")
    report = await engine_of(request).bank.call(
        lambda b: transfer.import_(b, text.splitlines(keepends=True), allow_unverified=unverified))
    return {"added": report.added, "skipped": report.skipped, "turns_added": report.turns_added,
            "verified": report.verified, "source_embedder": report.source_embedder}


@router.get("/v1/conversations", summary="Logged conversations, newest first")
async def conversations(request: Request, limit: int = Query(50, ge=1, le=1000),
                        offset: int = Query(0, ge=0, le=2**62)) -> dict[str, Any]:
    await _allow(request, write=False)
    found = await engine_of(request).bank.call(lambda b: b.conversations(limit, offset))
    await _read(request, "conversations", [])
    return {"data": [c.to_dict() for c in found], "limit": limit, "offset": offset}


@router.get("/v1/conversations/{name}", summary="A conversation's logged turns")
async def conversation(request: Request, name: Annotated[str, Path(min_length=1, max_length=4096)]) -> dict[str, Any]:
    await _allow(request, write=False)
    turns = await engine_of(request).bank.call(lambda b: b.conversation(name))
    await _read(request, "conversation", [t.memory_id for t in turns if t.memory_id is not None], name)
    return {"name": name, "turns": [t.to_dict() for t in turns]}


@router.delete("/v1/conversations/{name}", summary="Erase a conversation from the log (and its memories)")
async def delete_conversation(request: Request, name: Annotated[str, Path(min_length=1, max_length=4096)],
                              with_memories: bool = False, reason: str | None = Query(None, max_length=1024)
                              ) -> dict[str, Any]:
    await _allow(request, write=True)
    return await engine_of(request).bank.call(lambda b: b.purge_conversation([name], with_memories, reason))


@router.patch("/v1/conversations/{name}", summary="Rename a conversation (its turns and the memories it is the source of)")
async def rename_conversation(request: Request, name: Annotated[str, Path(min_length=1, max_length=4096)],
                              body: RenameIn) -> dict[str, Any]:
    await _allow(request, write=True)
    engine = engine_of(request)
    result = await engine.bank.call(lambda b: b.rename_conversation(name, body.name))
    await engine.ask(lambda a: engine.renamed(a, name, body.name))
    return result


@router.post("/v1/conversations/import", summary="Read a chat history file (a chat app's export, LoCoMo JSON)",
             openapi_extra={"requestBody": {"content": {"text/plain": {"schema": {"type": "string"}}},
                                            "required": True}})
async def import_chat(request: Request, name: str = Query("imported chat", min_length=1, max_length=256),
                      dates: Literal["auto", "dmy", "mdy"] = "auto") -> dict[str, Any]:
    await _allow(request, write=True)
    logs = parse_chat(decode_utf8(await request.body(), "chat file"), name, dates)
    check_free(await engine_of(request).bank.call(lambda b: b.taken_conversations([log.name for log in logs])))
    return {"data": [await _import_log(request, log) for log in logs]}


def _log(name: str, batch: list[ChatMessage], new: bool, bank: MemoryBank) -> TurnsLogged:
    return bank.log_turns(name, batch, new)


async def _import_log(request: Request, log: ChatLog) -> dict[str, Any]:
    """One conversation, a batch per bank call, so chat and other clients get turns in between."""
    parts = [await engine_of(request).bank.call(functools.partial(_log, log.name, batch, n == 0))
             for n, batch in enumerate(chat_batches(log.messages))]
    return {**TurnsLogged.total(log.name, parts).to_dict(), "skipped": log.skipped}


@router.post("/v1/conversations/{name}/turns", summary="Log a batch of messages (a chat history), in order")
async def log_turns(request: Request, name: Annotated[str, Path(min_length=1, max_length=4096)],
                    body: TurnsIn) -> dict[str, Any]:
    messages = [ChatMessage(t.speaker, t.text, t.at, t.turn) for t in body.turns]
    result = await _write(request, lambda b: b.log_turns(name, messages, body.new))
    return result.to_dict()


@router.post("/v1/conversations/purge", summary="Erase several conversations from the log: all, or none")
async def purge_conversations(request: Request, body: ConversationPurge) -> dict[str, Any]:
    await _allow(request, write=True)
    return await engine_of(request).bank.call(lambda b: b.purge_conversation(body.names, body.with_memories, body.reason))


@router.post("/v1/conversations/{name}/resume", summary="Continue a conversation from its saved KV snapshot")
async def resume(request: Request, name: Annotated[str, Path(min_length=1, max_length=256)]) -> dict[str, Any]:
    await _allow(request, write=True)
    engine = engine_of(request)

    restored = await engine.ask(lambda a: engine.switch(a, name))
    return {"conversation": name, "restored": restored}


@router.post("/v1/gate", summary="Would this turn use memory, and why")
async def gate(request: Request, body: GateIn) -> dict[str, Any]:
    await _allow(request, write=False)
    decision = await engine_of(request).ask(lambda a: a.explain_gate(body.text))
    return decision.to_dict()


@router.post("/v1/sweep", summary="Archive what faded and enforce the budget (dry_run: only plan)")
async def sweep(request: Request, body: SweepIn) -> dict[str, Any]:
    report = await _write(request, lambda b: b.sweep(budget=body.budget, dry_run=body.dry_run))
    return {"dry_run": body.dry_run, **report.to_dict()}


@router.get("/v1/clients", summary="Programs that used the bank, with their scope and counts")
async def clients(request: Request) -> dict[str, Any]:
    _user_only(request)
    found = await engine_of(request).bank.call(lambda b: b.clients.list())
    return {"data": [c.to_dict() for c in found]}


@router.put("/v1/clients/{name}", summary="Set a client's scope: read, read-write or off")
async def set_scope(request: Request, name: Annotated[str, Path(min_length=1, max_length=64)],
                    body: ScopeIn) -> dict[str, Any]:
    _user_only(request)
    return (await engine_of(request).bank.call(lambda b: b.clients.set_scope(name, body.scope))).to_dict()


@router.get("/v1/clients/{name}/reads", summary="A client's latest reads, newest first")
async def client_reads(request: Request, name: Annotated[str, Path(min_length=1, max_length=64)],
                       limit: int = Query(50, ge=1, le=1000)) -> dict[str, Any]:
    _user_only(request)
    return {"data": await engine_of(request).bank.call(lambda b: b.clients.reads(name, limit))}


def _user_only(request: Request) -> None:
    if request.headers.get(CLIENT_HEADER) is not None:
        raise NotPermitted("Only you, not a client program, can see or change what clients may do.")
