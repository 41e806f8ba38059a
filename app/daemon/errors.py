"""Every failure as one JSON shape with a stable code and a sentence; never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from cairn.app.protocol import ERRORS, error_body
from cairn.core import errors

log = logging.getLogger(__name__)

# Most specific first: the first class an exception is an instance of names its code.
CODES: list[tuple[type[errors.CairnError], str]] = [
    (errors.InvalidInput, "invalid_request"),
    (errors.NotPermitted, "forbidden"),
    (errors.NotFound, "not_found"),
    (errors.DatabaseBusy, "conflict"),
    (errors.SchemaTooNew, "schema_too_new"),
    (errors.EmbedderMismatch, "embedder_mismatch"),
    (errors.StorageError, "storage"),
    (errors.ModelLoadError, "model"),
    (errors.ContextFullError, "context_full"),
]
HTTP_CODES = {400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type"}


def respond(code: str, message: str, hint: str = "", headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, hint), status_code=ERRORS[code], headers=headers)


def code_of(exc: BaseException) -> str:
    return next((c for cls, c in CODES if isinstance(exc, cls)), "internal")


def cairn_error(exc: errors.CairnError) -> JSONResponse:
    return respond(code_of(exc), exc.message, exc.hint or "")


def body_of(exc: BaseException) -> dict[str, Any]:
    """The error body for ``exc`` (for a stream, where the status line has already gone)."""
    if isinstance(exc, errors.CairnError):
        return error_body(code_of(exc), exc.message, exc.hint or "")
    log.error("unexpected error in a stream", exc_info=exc)
    return error_body("internal", f"Cairn hit an unexpected error ({type(exc).__name__}); it is in the daemon's log.")


def _validation_message(exc: RequestValidationError) -> str:
    problems = []
    if any(err.get("type") == "json_invalid" for err in exc.errors()):
        return "The request body is not valid JSON."
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "the body"
        problems.append(f"{where}: {err.get('msg', 'invalid')}")
    more = f" (and {len(exc.errors()) - 5} more)" if len(exc.errors()) > 5 else ""
    return "The request is not valid: " + "; ".join(problems) + more + "."


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the one shape."""

    @app.exception_handler(errors.CairnError)
    async def on_cairn(_request: Request, exc: errors.CairnError) -> JSONResponse:
        return cairn_error(exc)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return respond("invalid_request", _validation_message(exc),
                       "The API is described at /openapi.json and in docs/api.md.")

    @app.exception_handler(HTTPException)
    async def on_http(request: Request, exc: HTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "invalid_request")
        message = {404: f"There is no route {request.url.path}.",
                   405: f"{request.method} is not allowed on {request.url.path}."}.get(exc.status_code, str(exc.detail))
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):
            message = "The request body is not valid JSON (or not UTF-8)."
        return respond(code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def on_bug(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return respond("internal", f"Cairn hit an unexpected error ({type(exc).__name__}); it is in the daemon's log.",
                       "`cairn daemon logs` shows it; please report it.")


def example(code: str) -> dict[str, Any]:
    """An OpenAPI response entry for ``code``."""
    return {"description": code, "content": {"application/json": {"example": error_body(code, "...")}}}
