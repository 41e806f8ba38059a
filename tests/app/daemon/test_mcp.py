"""The MCP bridge: in-process with the SDK's client, and once through a real stdio subprocess."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

import anyio
import pytest
from mcp import Client as McpClient
from mcp.client.stdio import StdioServerParameters
from mcp_types import Implementation

from cairn.app.client import Client
from cairn.app.mcp.server import build
from cairn.core import Paths


def _data(result: Any) -> Any:
    assert not result.is_error, result.content
    return result.structured_content if result.structured_content is not None else json.loads(result.content[0].text)


async def _session(target: Any, name: str, steps: Callable[[McpClient], Any]) -> Any:
    async with McpClient(target, client_info=Implementation(name=name, version="1.0")) as client:
        return await steps(client)


def test_tools_and_resources_in_process(daemon: Client, daemon_paths: Paths) -> None:
    server = build(daemon_paths)

    async def steps(c: McpClient) -> dict[str, Any]:
        tools = {t.name for t in (await c.list_tools()).tools}
        made = _data(await c.call_tool("remember", {"text": "My sister Ana lives in Lisbon"}))
        found = _data(await c.call_tool("recall", {"query": "where does my sister live?"}))
        why = _data(await c.call_tool("why", {"memory_id": made["memory"]["id"]}))
        one = await c.read_resource(f"memory://{made['memory']['id']}")
        recent = await c.read_resource("memory://recent/20")
        gone = _data(await c.call_tool("forget", {"memory_id": made["memory"]["id"], "reason": "test"}))
        return {"tools": tools, "made": made, "found": found, "why": why, "one": one, "recent": recent, "gone": gone}

    out = anyio.run(_session, server, "test-editor", steps)
    assert out["tools"] >= {"remember", "recall", "forget", "why"}
    mid = out["made"]["memory"]["id"]
    assert out["made"]["memory"]["written_by"] == "test-editor"
    assert out["found"]["memories"][0]["id"] == mid
    assert [h["action"] for h in out["why"]["history"]] == ["add"]
    assert json.loads(out["one"].contents[0].text)["id"] == mid
    assert [m["id"] for m in json.loads(out["recent"].contents[0].text)] == [mid]
    assert daemon.request("GET", f"/v1/memories/{mid}")["client"] == "test-editor"
    clients = {c["name"]: c for c in daemon.request("GET", "/v1/clients")["data"]}
    assert clients["test-editor"]["scope"] == "read-write" and clients["test-editor"]["writes"] == 1
    reads = daemon.request("GET", "/v1/clients/test-editor/reads")["data"]
    assert {r["action"] for r in reads} >= {"search", "why", "get"}


def test_a_client_acts_only_within_its_scope(daemon: Client, daemon_paths: Paths) -> None:
    mid = daemon.request("POST", "/v1/memories", {"text": "I am allergic to penicillin"})["id"]
    daemon.request("PUT", "/v1/clients/nosy-app", {"scope": "read"})
    server = build(daemon_paths)

    async def reader(c: McpClient) -> tuple[Any, Any]:
        return await c.call_tool("recall", {"query": "allergy"}), await c.call_tool("remember", {"text": "x is y"})
    found, refused = anyio.run(_session, server, "nosy-app", reader)
    assert _data(found)["memories"][0]["id"] == mid
    assert refused.is_error and "not allowed to change" in refused.content[0].text
    daemon.request("PUT", "/v1/clients/nosy-app", {"scope": "off"})

    async def blocked(c: McpClient) -> Any:
        return await c.call_tool("recall", {"query": "allergy"})
    assert anyio.run(_session, server, "nosy-app", blocked).is_error
    with Client.for_paths(daemon_paths, client_name="nosy-app") as as_client, pytest.raises(Exception, match="Only you"):
        as_client.request("PUT", "/v1/clients/nosy-app", {"scope": "read-write"})


def test_through_a_real_stdio_subprocess(daemon: Client, daemon_paths: Paths) -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "cairn.app.cli", "mcp"], env=dict(os.environ))

    async def steps(c: McpClient) -> Any:
        await c.call_tool("remember", {"text": "The wifi password at the cabin is larch-42"})
        return _data(await c.call_tool("recall", {"query": "cabin wifi password"}))
    found = anyio.run(_session, params, "stdio-editor", steps)
    assert "larch-42" in found["memories"][0]["text"]
    assert {c["name"] for c in daemon.request("GET", "/v1/clients")["data"]} == {"stdio-editor"}


def test_cli_lists_clients_and_sets_scopes(daemon: Client, cairn: Callable[..., Any]) -> None:
    with Client.for_paths(__import__("cairn.core").core.paths.resolve(), client_name="editor-x") as c:
        c.request("POST", "/v1/memories", {"text": "Standup is at 9:30"})
    listed = json.loads(cairn("--json", "mcp", "clients").out)
    assert listed[0]["name"] == "editor-x" and listed[0]["writes"] == 1
    r = cairn("mcp", "scope", "editor-x", "off")
    assert r.code == 0 and "nothing" in r.out
    assert daemon.request("GET", "/v1/clients")["data"][0]["scope"] == "off"
