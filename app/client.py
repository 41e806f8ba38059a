"""The daemon's client: used by the CLI, the GUI and the MCP bridge.

It speaks HTTP over the daemon's Unix socket (or loopback TCP with the token from its 0600 file),
checks the API version once, and turns every failure into a :class:`~cairn.core.ServiceError`
with a sentence: no socket or a refused connection says how to start the daemon; an error reply
carries the daemon's own code, message and hint.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from cairn.app.protocol import API_VERSION, CLIENT_HEADER, SOCKET_NAME, answers_at, tcp_endpoint, unix_transport
from cairn.core import Paths, ServiceError

START_HINT = "Start it with `cairn daemon start` (or run the command without the daemon: it works in-process)."


class Client:
    """One connection pool to the daemon. Close it (or use ``with``)."""

    def __init__(self, socket_path: Path | None = None, base_url: str = "http://cairn", token: str | None = None,
                 timeout_s: float = 600.0, client_name: str | None = None) -> None:
        transport = httpx.HTTPTransport(uds=str(socket_path)) if socket_path is not None else None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if client_name is not None:  # a program acting for the user: the daemon applies its scope
            headers[CLIENT_HEADER] = client_name
        self.where = str(socket_path) if socket_path is not None else base_url
        self._http = httpx.Client(transport=transport, base_url=base_url, headers=headers,
                                  timeout=httpx.Timeout(timeout_s, connect=5.0))
        self._checked = False

    @classmethod
    def for_paths(cls, paths: Paths, client_name: str | None = None) -> Client:
        """The client for this user's daemon: its Unix socket, or (TCP-only, as on Windows) the
        loopback port and token it wrote into its 0600 files."""
        if unix_transport():
            return cls(paths.run_dir / SOCKET_NAME, client_name=client_name)
        port, token = tcp_endpoint(paths.run_dir) or (0, None)  # port 0: refused, "not running"
        return cls(None, base_url=f"http://127.0.0.1:{port}", token=token, client_name=client_name)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- requests ---------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None,
                content: bytes | None = None) -> Any:
        """Send one request; the reply's JSON (or text), or a ServiceError."""
        if not self._checked and path != "/v1/status":
            self.check_version()
        try:
            reply = self._http.request(method, path, json=body, params=_params(params), content=content)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        return _result(reply)

    def stream(self, path: str, body: Any) -> Iterator[dict[str, Any]]:
        """POST ``body`` and yield each server-sent event's data (until ``[DONE]``)."""
        if not self._checked:
            self.check_version()
        try:
            with self._http.stream("POST", path, json=body) as reply:
                if reply.status_code >= 400:
                    reply.read()
                    _result(reply)
                for line in reply.iter_lines():
                    if line.startswith("data: ") and line != "data: [DONE]":
                        yield json.loads(line[6:])
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc

    def check_version(self) -> dict[str, Any]:
        """The daemon's status; a ServiceError if it speaks another API version."""
        status: dict[str, Any] = self.request("GET", "/v1/status")
        if status.get("api_version") != API_VERSION:
            raise ServiceError(f"The Cairn daemon speaks API version {status.get('api_version')}, this Cairn speaks "
                               f"{API_VERSION}.", hint="Restart the daemon (`cairn daemon stop`, then start) so both "
                               "are the same version.", code="version")
        self._checked = True
        return status

    def _unreachable(self, exc: httpx.TransportError) -> ServiceError:
        if isinstance(exc, httpx.TimeoutException):
            return ServiceError(f"The Cairn daemon at {self.where} did not answer in time.",
                                hint="`cairn daemon status`; `cairn daemon logs` shows what it is doing.")
        return ServiceError(f"The Cairn daemon is not running (nothing answers at {self.where}).", hint=START_HINT)


def _params(params: dict[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    return {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in params.items() if v is not None}


def _result(reply: httpx.Response) -> Any:
    if reply.status_code < 400:
        kind = reply.headers.get("content-type", "")
        return reply.json() if kind.startswith("application/json") else reply.text
    try:
        error = reply.json()["error"]
        code, message, hint = error["code"], error["message"], error.get("hint") or None
    except (ValueError, KeyError, TypeError):
        code, message, hint = "unknown", f"The daemon answered HTTP {reply.status_code} without an error body.", None
    raise ServiceError(message, hint=hint, code=code, status=reply.status_code)


def quote_path(name: str) -> str:
    """A name (a conversation, a client) as one URL path segment."""
    return quote(name, safe="")


def running(paths: Paths) -> bool:
    """Whether a daemon answers on this user's socket (cheap: one connect)."""
    return answers_at(paths.run_dir)
