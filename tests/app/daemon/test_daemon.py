"""The daemon as its clients meet it: a real process on a real Unix socket."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from cairn.app.client import Client
from cairn.app.daemon import lifecycle
from cairn.app.protocol import API_VERSION, MAX_BODY_BYTES, SOCKET_NAME
from cairn.core import Paths, ServiceError, StorageError
from cairn.core.memory import MemoryBank


def test_socket_and_folder_are_the_users_alone(daemon: Client, daemon_paths: Paths) -> None:
    run_dir = daemon_paths.run_dir
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    sock = run_dir / SOCKET_NAME
    assert stat.S_ISSOCK(sock.stat().st_mode) and stat.S_IMODE(sock.stat().st_mode) == 0o600
    for name in ("daemon.pid", "daemon.lock"):
        assert stat.S_IMODE((run_dir / name).stat().st_mode) == 0o600
    status = daemon.check_version()
    assert status["api_version"] == API_VERSION and status["pid"] == lifecycle.read_pid(lifecycle.Files.of(daemon_paths))
    assert status["model_loaded"] is False  # loaded on first use
    assert daemon.request("GET", "/health") == {"status": "ok"}


def test_memory_api_round_trip(daemon: Client) -> None:
    added = daemon.request("POST", "/v1/memories", {"text": "My sister Ana lives in Lisbon", "kind": "fact",
                                                    "source": {"type": "conversation", "ref": "chat-1", "speaker": "me"}})
    mid = added["id"]
    assert added["source"]["ref"] == "chat-1"
    daemon.request("POST", "/v1/memories", {"text": "Dentist with Dr. Reyes on March 21 at 4pm"})
    assert [m["id"] for m in daemon.request("GET", "/v1/memories", params={"limit": 1})["data"]] != []
    assert len(daemon.request("GET", "/v1/memories", params={"limit": 1, "offset": 1})["data"]) == 1
    hits = daemon.request("POST", "/v1/memories/search", {"query": "where does my sister live?", "k": 1})["data"]
    assert hits[0]["memory"]["id"] == mid
    assert daemon.request("PATCH", f"/v1/memories/{mid}", {"text": "My sister Ana lives in Porto"})["text"].endswith("Porto")
    assert daemon.request("POST", f"/v1/memories/{mid}/pin", {"pinned": True})["pinned"] is True
    assert daemon.request("POST", f"/v1/memories/{mid}/forget", {"reason": "moved"})["forgotten_at"] is not None
    assert daemon.request("POST", f"/v1/memories/{mid}/restore", {})["forgotten_at"] is None
    actions = [h["action"] for h in daemon.request("GET", f"/v1/memories/{mid}/history")["data"]]
    assert actions == ["add", "update", "update", "forget", "restore"]
    assert daemon.request("GET", f"/v1/memories/{mid}/why")["memory"]["id"] == mid
    uid = daemon.request("DELETE", f"/v1/memories/{mid}")["purged"]
    assert uid == added["uid"]
    with pytest.raises(ServiceError) as gone:
        daemon.request("GET", f"/v1/memories/{mid}")
    assert gone.value.code == "not_found" and gone.value.status == 404
    assert daemon.request("POST", "/v1/sweep", {"dry_run": True})["dry_run"] is True
    exported = daemon.request("GET", "/v1/export")
    assert "Dr. Reyes" in exported
    assert daemon.request("POST", "/v1/import", content=exported.encode())["skipped"] == 1


def _raw(paths: Paths, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> httpx.Response:
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(paths.run_dir / SOCKET_NAME)), base_url="http://cairn") as c:
        return c.request(method, path, content=body, headers={"content-type": "application/json", **(headers or {})})


BAD = [
    ("POST", "/v1/memories", b"{not json"),
    ("POST", "/v1/memories", b'{"text": 5}'),
    ("POST", "/v1/memories", b'{"kind": "note"}'),
    ("POST", "/v1/memories", b'{"text": "caf\xff"}'),
    ("POST", "/v1/memories", b'{"text": "   "}'),
    ("POST", "/v1/memories", b'{"text": "x", "importance": 7}'),
    ("POST", "/v1/memories/search", b'{"query": "x", "k": 0}'),
    ("GET", "/v1/memories/0", None),
    ("GET", "/v1/memories/99999999999999999999999", None),
    ("GET", "/v1/memories/abc", None),
    ("POST", "/v1/chat/completions", b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100000000}'),
    ("POST", "/v1/chat/completions", b'{"messages": []}'),
    ("POST", "/v1/chat/completions", b'{"messages": [{"role": "assistant", "content": "hi"}]}'),
    ("POST", "/v1/embeddings", b'{"input": []}'),
    ("GET", "/v1/nothing-here", None),
    ("PUT", "/health", None),
    ("DELETE", "/v1/memories", None),
]


@pytest.mark.parametrize(("method", "path", "body"), BAD)
def test_a_bad_request_gets_a_4xx_with_the_error_shape(daemon: Client, daemon_paths: Paths, method: str, path: str,
                                                       body: bytes | None) -> None:
    reply = _raw(daemon_paths, method, path, body)
    assert 400 <= reply.status_code < 500, reply.text
    error = reply.json()["error"]
    assert error["code"] and error["message"].endswith(".") and "Traceback" not in reply.text


def test_a_body_over_the_limit_is_refused(daemon: Client, daemon_paths: Paths) -> None:
    reply = _raw(daemon_paths, "POST", "/v1/memories", b'{"text": "' + b"a" * (MAX_BODY_BYTES + 10) + b'"}')
    assert reply.status_code == 413 and reply.json()["error"]["code"] == "too_large"

    def chunks():  # no Content-Length: the daemon counts as it reads
        yield b'{"text": "'
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"a" * 65536
        yield b'"}'
    reply = _raw(daemon_paths, "POST", "/v1/memories", chunks())  # type: ignore[arg-type]
    assert reply.status_code == 413
    assert daemon.request("GET", "/health") == {"status": "ok"}


def test_a_foreign_origin_is_refused(daemon: Client, daemon_paths: Paths) -> None:
    reply = _raw(daemon_paths, "GET", "/v1/memories", headers={"origin": "https://evil.example"})
    assert reply.status_code == 403 and reply.json()["error"]["code"] == "forbidden"


def test_chat_completion_with_memory_and_the_extension(daemon: Client) -> None:
    mid = daemon.request("POST", "/v1/memories", {"text": "I am allergic to penicillin"})["id"]
    reply = daemon.request("POST", "/v1/chat/completions",
                           {"model": "cairn", "messages": [{"role": "user", "content": "What am I allergic to?"}]})
    assert reply["object"] == "chat.completion"
    assert "penicillin" in reply["choices"][0]["message"]["content"].lower()
    ext = reply["cairn"]
    assert ext["gate"]["retrieve"] is True and mid in ext["used"] and mid in ext["cited"]
    off = daemon.request("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "What am I allergic to?"}],
                                                          "cairn": {"memory": False}})
    assert off["cairn"]["used"] == [] and off["cairn"]["gate"]["retrieve"] is False
    assert daemon.check_version()["model_loaded"] is True


def test_the_openai_package_streams_a_chat_completion(daemon: Client, daemon_paths: Paths) -> None:
    openai = pytest.importorskip("openai")
    http = httpx.Client(transport=httpx.HTTPTransport(uds=str(daemon_paths.run_dir / SOCKET_NAME)))
    client = openai.OpenAI(base_url="http://cairn/v1", api_key="unused", http_client=http, max_retries=0)
    stream = client.chat.completions.create(model="cairn", stream=True,
                                            messages=[{"role": "user", "content": "What is the capital of France?"}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip() and chunks[-1].choices[0].finish_reason in ("stop", "length")
    assert [m.id for m in client.models.list().data] == ["SmolLM2-135M-Instruct.Q4_1.gguf"]
    vectors = client.embeddings.create(model="cairn", input=["a cat", "a dog"]).data
    assert len(vectors) == 2 and len(vectors[0].embedding) == 384


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_over_the_unix_socket_streams(daemon: Client, daemon_paths: Paths) -> None:
    body = json.dumps({"model": "cairn", "stream": True, "messages": [{"role": "user", "content": "Say hello."}]})
    out = subprocess.run(["curl", "-sN", "--unix-socket", str(daemon_paths.run_dir / SOCKET_NAME),
                          "-H", "content-type: application/json", "-d", body, "http://localhost/v1/chat/completions"],
                         capture_output=True, text=True, timeout=120).stdout
    events = [line[6:] for line in out.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]" and len(events) >= 3
    assert json.loads(events[-2])["choices"][0]["finish_reason"] in ("stop", "length")


def test_a_second_daemon_is_refused_and_a_stale_socket_replaced(daemon: Client, daemon_paths: Paths) -> None:
    with pytest.raises(StorageError, match="already running"):
        lifecycle.serve(daemon_paths, __import__("cairn.core").core.Settings())
    pid = lifecycle.stop(daemon_paths)
    assert pid is not None and not (daemon_paths.run_dir / SOCKET_NAME).exists()
    stale = socket.socket(socket.AF_UNIX)  # a crashed daemon's socket file: nobody answers on it
    stale.bind(str(daemon_paths.run_dir / SOCKET_NAME))
    stale.close()
    lifecycle.start(daemon_paths)
    assert daemon.request("GET", "/health") == {"status": "ok"}


def test_without_a_daemon_the_client_says_how_to_start_one(daemon_paths: Paths) -> None:
    with Client.for_paths(daemon_paths) as client, pytest.raises(ServiceError, match="not running") as err:
        client.request("GET", "/v1/status")
    assert "cairn daemon start" in (err.value.hint or "")


def test_acknowledged_writes_survive_kill_9(daemon: Client, daemon_paths: Paths) -> None:
    acked: list[str] = []
    stop = threading.Event()

    def writer(n: int) -> None:
        with Client.for_paths(daemon_paths) as c:
            for i in range(400):
                if stop.is_set():
                    return
                try:
                    acked.append(c.request("POST", "/v1/memories", {"text": f"writer {n} note {i} about plum {i * 7}"})["uid"])
                except ServiceError:
                    return
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    while len(acked) < 60:
        threading.Event().wait(0.05)
    pid = lifecycle.read_pid(lifecycle.Files.of(daemon_paths))
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join()
    with MemoryBank.open(daemon_paths.database) as bank:
        assert bank.db.quick_check() == "ok"
        with bank.db.guard():
            stored = {r[0] for r in bank.db.conn.execute("SELECT uid FROM memories")}
    assert set(acked) <= stored and len(acked) >= 60


def test_tcp_needs_the_token_and_a_local_host(daemon_paths: Paths) -> None:
    lifecycle.start(daemon_paths, tcp_port=0)
    files = lifecycle.Files.of(daemon_paths)
    token, port = files.token.read_text(), int(files.port.read_text())
    assert stat.S_IMODE(files.token.stat().st_mode) == 0o600
    url = f"http://127.0.0.1:{port}/v1/status"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = {"Authorization": f"Bearer {token}"}
    assert httpx.get(url, headers=ok).json()["api_version"] == API_VERSION
    assert httpx.get(url, headers={**ok, "Host": "evil.example"}).status_code == 403
    assert httpx.get(url, headers={**ok, "Origin": "http://evil.example"}).status_code == 403
    listening = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout if shutil.which("ss") else ""
    assert f"0.0.0.0:{port}" not in listening


def test_every_route_is_documented(daemon_home: Path) -> None:
    from cairn.app.daemon.engine import Engine
    from cairn.app.daemon.server import build_app
    from cairn.core import Settings, paths

    document = build_app(Engine(Settings(), paths.resolve())).app.openapi()
    routes = [f"{method.upper()} {path}" for path, ops in document["paths"].items() for method in ops]
    assert len(routes) >= 25 and "POST /v1/chat/completions" in routes and "GET /v1/memories/{memory_id}" in routes
    doc = (Path(__file__).resolve().parents[3] / "docs" / "api.md").read_text()
    assert [r for r in routes if f"`{r}`" not in doc] == []


def test_a_conversation_is_renamed_with_its_memories(daemon: Client, cairn: Callable[..., Any]) -> None:
    turn = {"messages": [{"role": "user", "content": "My brother Tom plays the cello."}],
            "cairn": {"conversation": "first chat"}}
    daemon.request("POST", "/v1/chat/completions", turn)
    stored = daemon.request("GET", "/v1/memories")["data"][0]
    assert stored["source"]["ref"] == "first chat"
    r = cairn("conversations", "rename", "first chat", "music")
    assert r.code == 0, r.err
    names = [c["name"] for c in daemon.request("GET", "/v1/conversations")["data"]]
    assert names == ["music"]
    assert daemon.request("GET", f"/v1/memories/{stored['id']}")["source"]["ref"] == "music"
    history = daemon.request("GET", f"/v1/memories/{stored['id']}/history")["data"]
    assert history[-1]["reason"] == "conversation renamed"
    daemon.request("POST", "/v1/chat/completions", {**turn, "cairn": {"conversation": "other"}})
    with pytest.raises(ServiceError) as taken:
        daemon.request("PATCH", "/v1/conversations/music", {"name": "other"})
    assert taken.value.status == 400
    with pytest.raises(ServiceError) as missing:
        daemon.request("PATCH", "/v1/conversations/nope", {"name": "x"})
    assert missing.value.status == 404
