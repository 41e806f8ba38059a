"""The daemon's model routes against a real daemon and a local, throttled model hub: the catalog,
pulls with progress, cancelling and resuming, importing a GGUF, choosing the active model."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cairn.app.client import Client
from cairn.app.daemon.routes_models import dump_toml, write_model_setting
from cairn.app.protocol import SOCKET_NAME
from cairn.core import Paths, ServiceError, config
from cairn.core.llm import catalog
from cairn.models import tiny_gguf
from tests.app.daemon.models_hub import MODEL_ID, Hub, hub_gguf, model_hub  # noqa: F401 - fixtures

BUNDLED = catalog.bundled_spec().id
Daemon = tuple[Hub, Client]


@pytest.fixture
def hub_daemon(model_hub: Hub, daemon: Client) -> Daemon:  # noqa: F811 - the hub first: the daemon reads its address
    return model_hub, daemon


def _raw(paths: Paths, method: str, path: str, body: Any = None) -> httpx.Response:
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(paths.run_dir / SOCKET_NAME)), base_url="http://cairn") as c:
        return c.request(method, path, json=body)


def _rows(client: Client) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in client.request("GET", "/v1/models/catalog")["data"]}


def _follow(client: Client, job: str, timeout_s: float = 60.0) -> tuple[dict[str, Any], list[int]]:
    """Poll a job until it ends: its last state and every done_bytes seen."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = client.request("GET", f"/v1/models/jobs/{job}")
        seen.append(state["done_bytes"])
        if state["state"] != "running":
            return state, seen
        time.sleep(0.05)
    raise AssertionError(f"job {job} still running after {timeout_s} s")


def test_the_catalog_lists_the_bundled_catalog_and_hub_models(hub_daemon: Daemon) -> None:
    _, client = hub_daemon
    rows = _rows(client)
    assert rows[BUNDLED]["bundled"] and rows[BUNDLED]["installed"] and rows[BUNDLED]["active"]
    assert rows[BUNDLED]["licence"] == "Apache-2.0" and rows[BUNDLED]["size_bytes"] > 50_000_000
    hub = rows[MODEL_ID]
    assert (hub["installed"], hub["active"], hub["bundled"], hub["licence"]) == (False, False, False, "MIT")
    assert rows["llama-3.2-1b-instruct"]["size_bytes"] == 808_000_000 and not rows["llama-3.2-1b-instruct"]["installed"]
    assert [r["id"] for r in rows.values() if r["active"]] == [BUNDLED]


def test_a_pull_reports_progress_up_to_the_total(hub_daemon: Daemon, daemon_paths: Paths) -> None:
    hub, client = hub_daemon
    hub.delay_s = 0.01
    reply = _raw(daemon_paths, "POST", "/v1/models/pull", {"id": MODEL_ID})
    assert reply.status_code == 202
    job = reply.json()["job"]
    final, seen = _follow(client, job)
    assert final["state"] == "done" and final["error"] is None
    assert final["done_bytes"] == final["total_bytes"] == len(hub.body)
    assert any(0 < s < len(hub.body) for s in seen) and seen == sorted(seen)
    path = catalog.folder(daemon_paths.models_dir) / f"{MODEL_ID}.gguf"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == hashlib.sha256(hub.body).hexdigest()
    assert not path.with_name(path.name + ".part").exists()
    row = _rows(client)[MODEL_ID]
    assert row["installed"] and row["size_bytes"] == len(hub.body) and not row["active"]


def test_a_cancelled_pull_installs_nothing_and_the_next_one_resumes(hub_daemon: Daemon, daemon_paths: Paths) -> None:
    hub, client = hub_daemon
    hub.delay_s = 0.05  # about 1.3 MB/s: the pull is still running when it is cancelled
    job = client.request("POST", "/v1/models/pull", {"id": MODEL_ID})["job"]
    assert client.request("POST", "/v1/models/pull", {"id": MODEL_ID})["job"] == job  # one download per model
    deadline = time.monotonic() + 30
    while client.request("GET", f"/v1/models/jobs/{job}")["done_bytes"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    cancelled = client.request("DELETE", f"/v1/models/jobs/{job}")
    assert cancelled["cancelling"]
    final, _ = _follow(client, job)
    assert final["state"] == "cancelled" and 0 < final["done_bytes"] < len(hub.body)
    path = catalog.folder(daemon_paths.models_dir) / f"{MODEL_ID}.gguf"
    part = path.with_name(path.name + ".part")
    assert not path.exists() and part.stat().st_size >= final["done_bytes"]
    assert not _rows(client)[MODEL_ID]["installed"]
    assert client.request("DELETE", f"/v1/models/jobs/{job}")["state"] == "cancelled"  # again: no change
    hub.delay_s, kept = 0.0, part.stat().st_size
    again, _ = _follow(client, client.request("POST", "/v1/models/pull", {"id": MODEL_ID})["job"])
    assert again["state"] == "done" and hub.requests[-1].endswith(f"bytes={kept}-")  # resumed where it stopped
    assert path.read_bytes() == hub.body and not part.exists()


def test_import_a_gguf_then_make_it_the_chat_model(hub_daemon: Daemon, daemon_paths: Paths, tmp_path: Path) -> None:
    _, client = hub_daemon
    source = tiny_gguf.write(tmp_path / "My Tiny.gguf")
    reply = _raw(daemon_paths, "POST", "/v1/models/import", {"path": str(source)})
    assert reply.status_code == 201, reply.text
    row = reply.json()
    assert (row["id"], row["installed"], row["source"], row["active"]) == ("my-tiny", True, "imported", False)
    assert row["size_bytes"] == source.stat().st_size
    active = client.request("PUT", "/v1/models/active", {"id": "my-tiny"})
    assert active["id"] == "my-tiny" and active["active"]
    assert [r["id"] for r in _rows(client).values() if r["active"]] == ["my-tiny"]
    assert client.request("GET", "/v1/models")["data"][0]["id"] == "my-tiny.gguf"
    saved = config.load(daemon_paths.config_file)
    assert saved.llm.model == "my-tiny" and saved.memory.embedder == "hashing"  # the other setting is kept
    turn = {"messages": [{"role": "user", "content": "Hello there"}], "max_tokens": 4, "cairn": {"memory": False}}
    client.request("POST", "/v1/chat/completions", turn)  # the next turn loads the new model
    assert client.request("GET", "/v1/status")["model_loaded"] is True
    client.request("PUT", "/v1/models/active", {"id": BUNDLED})
    assert client.request("GET", "/v1/status")["model_loaded"] is False  # the old model was freed
    assert client.request("GET", "/v1/models")["data"][0]["id"] == catalog.bundled_spec().file
    assert config.load(daemon_paths.config_file).llm.model == BUNDLED


def _refused(client: Client, method: str, path: str, body: Any = None) -> tuple[str, int]:
    with pytest.raises(ServiceError) as refused:
        client.request(method, path, body)
    return refused.value.code, refused.value.status


def test_bad_inputs_are_refused_with_4xx(hub_daemon: Daemon, daemon_paths: Paths, tmp_path: Path) -> None:
    _, client = hub_daemon
    text = tmp_path / "notes.gguf"
    text.write_text("not a model")
    cases = [("POST", "/v1/models/pull", {"id": "no-such-model"}, "not_found"),
             ("POST", "/v1/models/pull", {"id": BUNDLED}, "invalid_request"),
             ("POST", "/v1/models/pull", {}, "invalid_request"),
             ("POST", "/v1/models/pull", {"id": MODEL_ID, "extra": 1}, "invalid_request"),
             ("GET", "/v1/models/jobs/nope", None, "not_found"),
             ("DELETE", "/v1/models/jobs/nope", None, "not_found"),
             ("POST", "/v1/models/import", {"path": "relative/model.gguf"}, "invalid_request"),
             ("POST", "/v1/models/import", {"path": str(tmp_path / "missing.gguf")}, "invalid_request"),
             ("POST", "/v1/models/import", {"path": str(tmp_path)}, "invalid_request"),
             ("POST", "/v1/models/import", {"path": str(text)}, "invalid_request"),
             ("PUT", "/v1/models/active", {"id": "no-such-model"}, "not_found"),
             ("PUT", "/v1/models/active", {"id": MODEL_ID}, "not_found")]  # in the catalog, not installed
    for method, path, body, code in cases:
        got, status = _refused(client, method, path, body)
        assert (got, 400 <= status < 500) == (code, True), (method, path, body)
    model = tiny_gguf.write(tmp_path / "t.gguf")
    for name in (MODEL_ID, "auto", BUNDLED, "Bad Name"):
        assert _refused(client, "POST", "/v1/models/import", {"path": str(model), "name": name})[0] == "invalid_request"
    assert catalog.installed(daemon_paths.models_dir) == {}


def test_the_settings_file_keeps_every_other_setting(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('# mine\n[memory]\nembedder = "hashing"\n\n[llm]\nn_ctx = 2048\ntemperature = 0.25\n'
                    'use_mmap = false\n\n[assistant]\nuser = "Zoë \\"Z\\" \\\\ \\n\\u007f"\n[gate]\nthreshold = 1e-05\n')
    before = config.load(path)
    write_model_setting(path, "my-model")
    after = config.load(path)
    assert after.llm.model == "my-model" and after.llm.n_ctx == 2048 and after.llm.temperature == 0.25
    assert (after.memory, after.assistant, after.gate, after.llm.use_mmap) == (
        before.memory, before.assistant, before.gate, False)
    assert path.stat().st_mode & 0o777 == 0o600
    fresh = tmp_path / "new" / "config.toml"
    write_model_setting(fresh, "x")
    assert config.load(fresh).llm.model == "x"
    bad = tmp_path / "bad.toml"
    bad.write_text("[llm]\nwhat = 1\n")
    with pytest.raises(Exception, match="left as it was"):
        write_model_setting(bad, "x")
    assert bad.read_text() == "[llm]\nwhat = 1\n"
    assert dump_toml({"a b": {"k.x": float("inf"), "n": -3, "s": "\t"}}) == '["a b"]\n"k.x" = inf\nn = -3\ns = "\\t"\n'
