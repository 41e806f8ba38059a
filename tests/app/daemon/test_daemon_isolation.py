"""The daemon keeps to itself: no outbound connection in a whole session, the model freed when
idle, and no request (however malformed) makes it fail with a 5xx."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cairn.app.client import Client
from cairn.app.daemon import lifecycle
from cairn.app.daemon.engine import Engine
from cairn.app.daemon.server import build_app
from cairn.app.protocol import answers
from cairn.core import Paths
from cairn.core.config import from_mapping


def _session(client: Client) -> None:
    client.request("POST", "/v1/memories", {"text": "My sister Ana lives in Lisbon"})
    assert client.request("POST", "/v1/memories/search", {"query": "Where does Ana live?"})["data"]
    reply = client.request("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "Where does Ana live?"}]})
    assert reply["choices"][0]["message"]["content"]
    assert client.request("POST", "/v1/embeddings", {"input": "hello"})["data"]
    assert "Lisbon" in client.request("GET", "/v1/export")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("strace") is None or shutil.which("unshare") is None, reason="needs strace and unshare")
def test_a_full_session_makes_no_outbound_connection(daemon_home: Path, daemon_paths: Paths, tmp_path: Path) -> None:
    """The daemon runs in a network namespace with only loopback, under strace: a whole session
    (memory, search, a chat turn with the bundled model, embeddings, export) opens no internet socket."""
    trace = tmp_path / "trace"
    cmd = ["unshare", "-n", "strace", "-f", "-qq", "-e", "trace=socket,connect,sendto", "-o", str(trace),
           sys.executable, "-m", "cairn.app.daemon"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 120
        while not answers(daemon_paths.run_dir / "cairn.sock"):
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                if "Operation not permitted" in err:
                    pytest.skip("unshare or ptrace is not permitted here")
                raise AssertionError(err[-2000:])
            assert time.monotonic() < deadline
            time.sleep(0.2)
        with Client.for_paths(daemon_paths) as client:
            _session(client)
    finally:
        lifecycle.stop(daemon_paths)
        proc.wait(timeout=60)
    calls = trace.read_text().splitlines()
    internet = [c for c in calls if "AF_INET" in c or "AF_NETLINK" in c or "htons(53)" in c]
    assert internet == [], internet[:5]


def test_the_model_is_freed_when_idle_and_reloads(daemon_paths: Paths) -> None:
    lifecycle.start(daemon_paths, keep_alive_s=4)
    with Client.for_paths(daemon_paths) as client:
        ask = {"messages": [{"role": "user", "content": "What is the capital of France?"}], "cairn": {"memory": False}}
        client.request("POST", "/v1/chat/completions", ask)
        assert client.request("GET", "/v1/status")["model_loaded"] is True
        deadline = time.monotonic() + 30
        while client.request("GET", "/v1/status")["model_loaded"]:
            assert time.monotonic() < deadline, "the model stayed loaded"
            time.sleep(0.2)
        assert client.request("POST", "/v1/chat/completions", ask)["choices"][0]["message"]["content"]


ROUTES = [("GET", "/v1/memories"), ("POST", "/v1/memories"), ("POST", "/v1/memories/search"),
          ("PATCH", "/v1/memories/1"), ("POST", "/v1/memories/forget"), ("POST", "/v1/memories/1/pin"),
          ("POST", "/v1/chat/completions"), ("POST", "/v1/embeddings"), ("POST", "/v1/sweep"),
          ("POST", "/v1/gate"), ("POST", "/v1/conversations/purge"), ("DELETE", "/v1/memories/1"),
          ("GET", "/v1/memories/1/why"), ("POST", "/v1/import"), ("PUT", "/v1/memories")]
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                    max_leaves=12)
FIELDS = st.sampled_from(["text", "query", "ids", "messages", "input", "k", "budget", "dry_run", "pinned", "kind",
                          "reason", "names", "filters", "cairn", "stream", "max_tokens", "importance"])
BODIES = (st.dictionaries(FIELDS, JSON, max_size=5).map(lambda d: __import__("json").dumps(d).encode())
          | st.binary(max_size=64) | JSON.map(lambda v: __import__("json").dumps(v).encode()))


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    home = tmp_path_factory.mktemp("fuzz")
    where = Paths(home, home, home / "cache", home / "logs", home / "run")
    with TestClient(build_app(Engine(from_mapping({"memory": {"embedder": "hashing"}}), where)),
                    base_url="http://cairn") as client:
        client.post("/v1/memories", json={"text": "My sister Ana lives in Lisbon"})
        yield client


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(ROUTES), body=BODIES)
def test_fuzzed_requests_never_get_a_5xx(app_client: TestClient, route: tuple[str, str], body: bytes) -> None:
    method, path = route
    reply = app_client.request(method, path, content=body, headers={"content-type": "application/json"})
    assert reply.status_code < 500, (method, path, body, reply.text)
    if reply.status_code >= 400:
        assert set(reply.json()["error"]) == {"code", "message", "hint"}


def test_a_conversation_resumes_from_its_snapshot_after_a_restart(daemon_paths: Paths) -> None:
    lifecycle.start(daemon_paths)
    turn = {"messages": [{"role": "user", "content": "My favourite colour is teal. Say OK."}],
            "cairn": {"memory": False, "conversation": "colours"}}
    with Client.for_paths(daemon_paths) as client:
        client.request("POST", "/v1/chat/completions", turn)
    lifecycle.stop(daemon_paths)  # the ordered shutdown saves the conversation's KV snapshot
    assert list((daemon_paths.data_dir / "kv").glob("*.kv"))
    lifecycle.start(daemon_paths)
    with Client.for_paths(daemon_paths) as client:
        assert client.request("POST", "/v1/conversations/colours/resume")["restored"] is True
        assert client.request("POST", "/v1/conversations/other/resume")["restored"] is False
        reply = client.request("POST", "/v1/chat/completions", {**turn, "messages": [
            *turn["messages"], {"role": "assistant", "content": "OK"}, {"role": "user", "content": "And yours?"}]})
        assert reply["cairn"]["conversation"] == "colours" and reply["choices"][0]["message"]["content"]


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/v1/embeddings", b'{"input": ["\\udfff"]}'),
    ("POST", "/v1/memories/search", b'{"query": "x", "filters": {"kinds": ["\\udfff"]}}'),
    ("POST", "/v1/memories", b'{"text": "ok", "source": {"ref": "\\ud800"}}'),
    ("POST", "/v1/chat/completions", b'{"messages": [{"role": "user", "content": "\\udfff"}]}'),
])
def test_text_that_is_not_unicode_is_a_400(app_client: TestClient, method: str, path: str, body: bytes) -> None:
    reply = app_client.request(method, path, content=body, headers={"content-type": "application/json"})
    assert reply.status_code == 400 and "not valid Unicode" in reply.json()["error"]["message"]


def test_deeply_nested_import_is_a_400(app_client: TestClient) -> None:
    reply = app_client.post("/v1/import", content=b"[" * 100_000, headers={"content-type": "application/x-ndjson"})
    assert reply.status_code == 400, reply.text
