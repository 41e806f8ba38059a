"""The daemon where Unix sockets are missing (Windows): loopback TCP with a bearer token only,
chosen by CAIRN_DAEMON_TRANSPORT=tcp here so it runs on this machine."""

import httpx
import pytest

from cairn.app.client import Client, running
from cairn.app.daemon import lifecycle
from cairn.app.protocol import SOCKET_NAME, tcp_endpoint
from cairn.core import Paths


def test_tcp_only_daemon_serves_clients_with_its_token(daemon_paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_DAEMON_TRANSPORT", "tcp")
    assert not running(daemon_paths)
    lifecycle.start(daemon_paths)
    assert running(daemon_paths) and not (daemon_paths.run_dir / SOCKET_NAME).exists()
    found = tcp_endpoint(daemon_paths.run_dir)
    assert found is not None
    port, token = found
    assert (daemon_paths.run_dir / "token").stat().st_mode & 0o077 == 0
    with Client.for_paths(daemon_paths) as client:
        made = client.request("POST", "/v1/memories", {"text": "My sister lives in Lisbon"})
        hits = client.request("POST", "/v1/memories/search", {"query": "Where does my sister live?"})
        assert f"'id': {made['id']}," in str(hits)
    refused = httpx.get(f"http://127.0.0.1:{port}/v1/status")  # no token
    assert refused.status_code == 401
    assert "127.0.0.1" in lifecycle.Files.of(daemon_paths).address
    assert lifecycle.stop(daemon_paths) is not None
    assert not running(daemon_paths) and tcp_endpoint(daemon_paths.run_dir) is None
