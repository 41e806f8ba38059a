"""The ASGI app and its socket: routes, the request guard, the lifespan (idle unload, ordered
shutdown) and binding a Unix socket that only its user can reach."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import socket
from collections.abc import AsyncIterator
from importlib import metadata
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cairn.app.daemon import errors, routes_memory, routes_models, routes_openai, routes_settings
from cairn.app.daemon.engine import Engine, status_facts
from cairn.app.protocol import API_VERSION, MAX_BODY_BYTES, MAX_IMPORT_BYTES, answers, unencodable
from cairn.core import InvalidInput, StorageError

log = logging.getLogger(__name__)
IMPORTS = ("/v1/import", "/v1/conversations/import")  # whole files: MAX_IMPORT_BYTES instead of MAX_BODY_BYTES
IDLE_CHECK_S = 5.0
MAX_SOCKET_PATH = 104  # bytes: the smallest sun_path limit (macOS); Linux allows 107


def version() -> str:
    try:
        return metadata.version("cairn")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


class Guard:
    """Refuses, before any route runs: bodies over the limit (413), a foreign ``Origin`` (403),
    and on TCP a wrong ``Host`` (403) or a missing or wrong bearer token (401)."""

    def __init__(self, app: ASGIApp, token: str | None = None, hosts: frozenset[str] = frozenset()) -> None:
        self.app, self.token, self.hosts = app, token, hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        limit = MAX_IMPORT_BYTES if scope.get("path") in IMPORTS else MAX_BODY_BYTES
        refusal = self._refusal(headers, limit)
        if refusal is not None:
            await errors.respond(*refusal)(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)
        try:
            await self.app(scope, _limited(receive, limit), tracked)
        except Exception:  # noqa: BLE001 - Starlette re-raises after its 500 reply: keep the connection
            log.exception("unexpected error")
            if not started:
                await errors.respond("internal", "Cairn hit an unexpected error; it is in the daemon's log.")(
                    scope, receive, send)

    def _refusal(self, headers: dict[str, str], limit: int) -> tuple[str, str, str] | None:
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > limit:
            return "too_large", f"The request body is over the limit of {limit:,} bytes.", ""
        if "origin" in headers and headers["origin"] not in {f"http://{h}" for h in self.hosts}:
            return "forbidden", "Requests from web pages are refused.", "Cairn's API is for local programs."
        if self.token is None:
            return None
        if headers.get("host", "") not in self.hosts:
            return "forbidden", "The Host header names another server.", ""
        given = headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return "unauthorized", "A missing or wrong API token.", "The token is in the daemon's token file (0600)."
        return None


def _limited(receive: Receive, limit: int) -> Receive:
    """``receive`` that stops a chunked body once it passes the limit."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise HTTPException(413, f"The request body is over the limit of {limit:,} bytes.")
        return message
    return wrapped


def build_app(engine: Engine, token: str | None = None, hosts: frozenset[str] = frozenset()) -> Any:
    """The daemon's ASGI app (FastAPI, wrapped in the :class:`Guard`)."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        idle = asyncio.create_task(_unload_when_idle(engine))
        try:
            yield
        finally:  # ordered shutdown: uvicorn has stopped accepting; stop generation, free, close
            idle.cancel()
            engine.stopping.set()
            await asyncio.get_running_loop().run_in_executor(None, engine.close)
            log.info("shut down cleanly")

    app = FastAPI(title="Cairn", version=version(), lifespan=lifespan, dependencies=[Depends(_valid_text)],
                  description="Cairn's local API: OpenAI-compatible chat and the memory API. "
                              f"API version {API_VERSION}. Errors: {{\"error\": {{\"code\", \"message\", \"hint\"}}}}.")
    app.state.engine = engine
    errors.install(app)
    app.include_router(routes_openai.router)
    app.include_router(routes_memory.router)
    app.include_router(routes_models.router)
    app.include_router(routes_settings.router)

    @app.get("/health", tags=["service"], summary="Is the daemon answering")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/status", tags=["service"], summary="Version, API version, model loaded, memory count")
    async def status(request: Request) -> dict[str, Any]:
        counts = await engine.bank.call(lambda b: b.stats()["memories"])
        return {**status_facts(engine, counts, version(), API_VERSION), "pid": os.getpid()}

    return Guard(app, token, hosts)


async def _valid_text(request: Request) -> None:
    """Refuse a JSON body holding text that is not valid Unicode (a lone surrogate escape) before
    any route sees it: such a string cannot be stored, embedded or searched."""
    if "json" not in request.headers.get("content-type", ""):
        return
    try:
        parsed = json.loads(await request.body())
    except (ValueError, RecursionError):
        return  # the route's own parsing reports it
    bad = unencodable(parsed)
    if bad is not None:
        raise InvalidInput("The request holds text that is not valid Unicode (a lone surrogate such as \\udfff).",
                           hint="Send text as UTF-8; nothing was changed.")


async def _unload_when_idle(engine: Engine) -> None:
    every = min(IDLE_CHECK_S, max(0.2, engine.keep_alive_s / 4))
    while True:
        await asyncio.sleep(every)
        try:
            await engine.unload_if_idle()
        except Exception:  # noqa: BLE001 - the next check tries again; the model reloads on use anyway
            log.exception("idle unload failed")


def bind_unix(path: Path) -> socket.socket:
    """A listening Unix socket at ``path``, mode 0600 from its creation. A socket file nobody
    answers on (a crashed daemon's) is removed; one that answers means a daemon runs already."""
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise StorageError(f"The socket path {path} is too long for a Unix socket ({len(os.fsencode(path))} bytes, "
                           f"at most {MAX_SOCKET_PATH}).", hint="Set CAIRN_HOME to a shorter folder.")
    if path.exists() or path.is_symlink():
        if answers(path):
            raise StorageError(f"A Cairn daemon is already listening on {path}.", hint="`cairn daemon status`")
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(128)
    return sock
