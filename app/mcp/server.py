"""The MCP bridge: tools remember, recall, forget, why; resources for one memory and the recent ones.

Every call goes to the daemon through :class:`cairn.app.client.Client`, named after the MCP client
(its ``initialize`` info, or ``--client NAME``), so the daemon applies that client's scope (read,
read-write or off), records it on every memory it writes and logs every read it makes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError

from cairn.app.client import Client
from cairn.core import CairnError, Paths

T = TypeVar("T")
UNNAMED = "unnamed-mcp-client"
INSTRUCTIONS = ("Cairn is the user's private, on-device memory. Use `recall` before answering questions about the "
                "user's life, people, plans or preferences; use `remember` for facts the user wants kept. Every "
                "memory has an id; `why` shows where it came from.")


def client_name(ctx: Context[Any, Any] | None, fixed: str | None) -> str:
    """The name the daemon knows this MCP client by: ``--client``, else what it called itself."""
    if fixed:
        return fixed
    params = getattr(ctx.session, "client_params", None) if ctx is not None else None
    info = getattr(params, "client_info", None)
    name = re.sub(r"[^\w .:@+/-]", "-", str(getattr(info, "name", "") or "")).strip()[:64]
    return name or UNNAMED


class Bridge:
    """Forwards each MCP call to the daemon under the calling client's name."""

    def __init__(self, paths: Paths, fixed_name: str | None = None) -> None:
        self.paths, self.fixed_name = paths, fixed_name

    async def call(self, ctx: Context[Any, Any] | None, fn: Callable[[Client], T], *, resource: bool = False) -> T:
        name = client_name(ctx, self.fixed_name)

        def run() -> T:
            with Client.for_paths(self.paths, client_name=name) as client:
                return fn(client)
        try:
            return await anyio.to_thread.run_sync(run)
        except CairnError as exc:
            text = exc.message + (f" {exc.hint}" if exc.hint else "")
            raise (ResourceError(text) if resource else ToolError(text)) from exc


def _line(m: dict[str, Any]) -> dict[str, Any]:
    src = m["source"]
    return {"id": m["id"], "text": m["text"], "kind": m["kind"], "created_at": m["created_at"],
            "source": {k: src[k] for k in ("type", "ref", "speaker", "time") if src.get(k) is not None},
            "pinned": m["pinned"], "written_by": m.get("client") or "the user"}


def build(paths: Paths, fixed_name: str | None = None) -> MCPServer:
    """The MCP server (not yet running)."""
    server: MCPServer = MCPServer("cairn", instructions=INSTRUCTIONS)
    bridge = Bridge(paths, fixed_name)

    @server.tool(description="Remember a fact or note for the user; returns the memory with its id.")
    async def remember(text: str, ctx: Context[Any, Any], kind: str = "note") -> dict[str, Any]:
        made = await bridge.call(ctx, lambda c: c.request("POST", "/v1/memories", {"text": text, "kind": kind}))
        merged = f"merged into memory {made['replaced_by']} (a near-duplicate)" if made.get("replaced_by") else "stored"
        return {"memory": _line(made), "result": merged}

    @server.tool(description="Search the user's memories (meaning, keywords and time); best first.")
    async def recall(query: str, ctx: Context[Any, Any], k: int = 5) -> dict[str, Any]:
        hits = await bridge.call(ctx, lambda c: c.request("POST", "/v1/memories/search", {"query": query, "k": k}))
        return {"memories": [{**_line(h["memory"]), "score": float(f"{h['score']:.4g}")} for h in hits["data"]]}

    @server.tool(description="Forget a memory by id: hidden from recall, restorable by the user.")
    async def forget(memory_id: int, ctx: Context[Any, Any], reason: str | None = None) -> dict[str, Any]:
        done = await bridge.call(ctx, lambda c: c.request("POST", f"/v1/memories/{memory_id}/forget",
                                                          {"reason": reason}))
        return {"memory": _line(done), "result": "forgotten (the user can restore it)"}

    @server.tool(description="Where a memory came from and why it is kept: provenance, history, importance.")
    async def why(memory_id: int, ctx: Context[Any, Any]) -> dict[str, Any]:
        report = await bridge.call(ctx, lambda c: c.request("GET", f"/v1/memories/{memory_id}/why"))
        return {"memory": _line(report["memory"]), "importance": report["importance"]["score"],
                "strength_days": report["strength_days"], "retention_now": round(report["retention_now"], 4),
                "history": [{k: h[k] for k in ("action", "at", "reason")} for h in report["history"]]}

    @server.resource("memory://recent/{count}", mime_type="application/json",
                     description="The COUNT newest live memories (1 to 100), e.g. memory://recent/20.")
    async def recent(count: str, ctx: Context[Any, Any]) -> str:
        if not count.isdigit() or not 1 <= int(count) <= 100:
            raise ResourceError(f"{count!r} is not a count from 1 to 100.")
        found = await bridge.call(ctx, lambda c: c.request("GET", "/v1/memories", params={"limit": int(count)}),
                                  resource=True)
        return json.dumps([_line(m) for m in found["data"]], ensure_ascii=False)

    @server.resource("memory://{memory_id}", mime_type="application/json", description="One memory with its provenance.")
    async def memory(memory_id: str, ctx: Context[Any, Any]) -> str:
        if not memory_id.isdigit():
            raise ResourceError(f"{memory_id!r} is not a memory id.")
        found = await bridge.call(ctx, lambda c: c.request("GET", f"/v1/memories/{memory_id}"), resource=True)
        return json.dumps(_line(found), ensure_ascii=False)

    return server


def serve(paths: Paths, fixed_name: str | None = None) -> None:
    """Run the MCP server on stdin/stdout, starting the daemon first if none runs."""
    from cairn.app.client import running
    from cairn.app.daemon import lifecycle

    if not running(paths):
        lifecycle.start(paths)
    build(paths, fixed_name).run("stdio")
