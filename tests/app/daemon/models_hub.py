"""A local model hub for the daemon's model routes (never the internet): a throttled HTTP file
server with Range support, a synthesized GGUF of a few MB, and the extra catalog entry
(``CAIRN_MODELS_CATALOG``) and hub address (``CAIRN_MODELS_HUB``) that point a daemon at both.
Request the ``model_hub`` fixture before ``daemon``: the daemon reads them when it starts."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cairn.models import tiny_gguf

MODEL_ID = "hub-tiny"
REVISION = "0" * 40
PIECE = 64 * 1024
SHAPE = tiny_gguf.Shape("hub", 512, 128, 4, 4, 2, 512, 4096)  # about 4.5 MB: several 1 MiB progress steps


@dataclass
class Hub:
    url: str
    body: bytes
    delay_s: float = 0.0  # a pause after every 64 KiB piece: a slow connection
    requests: list[str] = field(default_factory=list)
    model: str = MODEL_ID

    @property
    def path(self) -> str:
        return f"/test/hub-tiny/resolve/{REVISION}/hub-tiny.gguf"


def _handler(hub: Hub) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            ranged = self.headers.get("Range", "")
            hub.requests.append(f"{self.path} {ranged}".strip())
            if self.path != hub.path:
                self.send_error(404)
                return
            start = int(ranged.split("=")[1].split("-")[0]) if ranged else 0
            self.send_response(206 if start else 200)
            self.send_header("Content-Length", str(len(hub.body) - start))
            self.end_headers()
            try:
                for at in range(start, len(hub.body), PIECE):
                    self.wfile.write(hub.body[at:at + PIECE])
                    self.wfile.flush()
                    time.sleep(hub.delay_s)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the daemon stopped reading: a cancelled pull

    return Handler


@pytest.fixture(scope="session")
def hub_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_gguf.write(tmp_path_factory.mktemp("hub") / "hub-tiny.gguf", SHAPE)


@pytest.fixture
def model_hub(daemon_home: Path, monkeypatch: pytest.MonkeyPatch, hub_gguf: Path) -> Iterator[Hub]:
    """The hub, serving ``hub-tiny``, and the environment that points the daemon at it."""
    body = hub_gguf.read_bytes()
    entry = {"name": "Hub Tiny (test)", "repo": "test/hub-tiny", "revision": REVISION, "file": "hub-tiny.gguf",
             "sha256": hashlib.sha256(body).hexdigest(), "size_mb": round(len(body) / 1e6), "context": 4096,
             "licence": "MIT", "note": "a random-weight model served by the test's own hub"}
    extra = daemon_home / "extra-llms.json"
    extra.write_text(json.dumps({MODEL_ID: entry}))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub := Hub("", body)))
    server.daemon_threads = True
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("CAIRN_MODELS_HUB", hub.url)
    monkeypatch.setenv("CAIRN_MODELS_CATALOG", str(extra))
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
