"""A local HTTP file server with Range support and optional faults, for download tests."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Served:
    files: dict[str, bytes]
    cut_first_at: int | None = None  # drop the first full response after this many bytes
    etag_sha: bool = True
    requests: list[str] = field(default_factory=list)


def _handler(state: Served) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            state.requests.append(f"{self.path} {self.headers.get('Range', '')}".strip())
            body = state.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            start = int(self.headers["Range"].split("=")[1].split("-")[0]) if self.headers.get("Range") else 0
            if start >= len(body) and start:
                self.send_response(416)
                self.end_headers()
                return
            self.send_response(206 if start else 200)
            self.send_header("Content-Length", str(len(body) - start))
            if state.etag_sha:
                self.send_header("X-Linked-Etag", f'"{hashlib.sha256(body).hexdigest()}"')
            self.end_headers()
            if state.cut_first_at is not None and not start:
                self.wfile.write(body[: state.cut_first_at])
                state.cut_first_at = None
                return  # the connection closes early: a dropped download
            self.wfile.write(body[start:])

    return Handler


@contextmanager
def serve(state: Served) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
