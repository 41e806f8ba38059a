"""The daemon's wire protocol: API version, error codes and request shapes. Imports no core.

Shared by the daemon (validation and its OpenAPI document) and its clients (the CLI, the GUI,
the MCP bridge). A client refuses a daemon whose ``api_version`` differs from :data:`API_VERSION`.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

API_VERSION = 1
SOCKET_NAME = "cairn.sock"
TOKEN_NAME = "token"  # the loopback TCP listener's bearer token (0600), beside the socket
PORT_NAME = "tcp_port"  # the port that listener was given
TRANSPORT_ENV = "CAIRN_DAEMON_TRANSPORT"  # "tcp": loopback TCP + token only (Windows: no Unix sockets)
LOCK_NAME = "daemon.lock"
PID_NAME = "daemon.pid"
MAX_BODY_BYTES = 4 * 1024 * 1024  # a request body larger than this is refused (413) before it is read whole
MAX_IMPORT_BYTES = 1024 * 1024 * 1024  # the limit for /v1/import and /v1/conversations/import: whole files
CLIENT_HEADER = "x-cairn-client"  # names the program calling on the user's behalf (an MCP client); absent: the user
MAX_TURNS = 1000  # the most messages one request may log
MAX_TOKENS = 4096  # the most tokens one chat completion may ask for

# Stable error codes (the "code" of every error body) and the HTTP status each travels with.
ERRORS: dict[str, int] = {
    "invalid_request": 400,  # malformed JSON, wrong types, missing fields, invalid UTF-8, bad values
    "unauthorized": 401,  # TCP without the right bearer token
    "forbidden": 403,  # a foreign Host or Origin
    "not_found": 404,  # no such memory, conversation or route
    "method_not_allowed": 405,
    "conflict": 409,  # the database is busy with something that must finish first
    "too_large": 413,  # a body over MAX_BODY_BYTES
    "unsupported_media_type": 415,
    "context_full": 422,  # the model's context cannot hold the request
    "schema_too_new": 409,
    "embedder_mismatch": 409,
    "storage": 500,  # the database could not do it (disk full, damaged file): the message says which
    "model": 503,  # the model could not be loaded
    "internal": 500,  # a bug: the message says so, never a traceback
}


def error_body(code: str, message: str, hint: str = "") -> dict[str, Any]:
    """The one error shape: ``{"error": {"code", "message", "hint"}}``."""
    return {"error": {"code": code, "message": message, "hint": hint}}


class Strict(BaseModel):
    """Unknown fields are refused, so a typo is an error and not a silent default."""

    model_config = ConfigDict(extra="forbid")


# ---- memories --------------------------------------------------------------------------------

class SourceIn(Strict):
    type: Literal["manual", "conversation", "document", "import", "demo"] = "manual"
    ref: str | None = Field(default=None, max_length=4096)
    speaker: str | None = Field(default=None, max_length=256)
    time: float | None = None


class MemoryIn(Strict):
    text: str = Field(min_length=1)
    kind: str = Field(default="note", min_length=1, max_length=64)
    source: SourceIn = SourceIn()
    pinned: bool = False
    importance: float | None = Field(default=None, ge=0.0, le=1.0)


class MemoryPatch(Strict):
    text: str | None = Field(default=None, min_length=1)
    kind: str | None = Field(default=None, min_length=1, max_length=64)
    pinned: bool | None = None
    importance: float | None = Field(default=None, ge=0.0, le=1.0)
    reason: str | None = Field(default=None, max_length=1024)


class Reason(Strict):
    reason: str | None = Field(default=None, max_length=1024)


class Pin(Strict):
    pinned: bool = True


MemoryIdField = Annotated[int, Field(ge=1, le=2**63 - 1)]


class Ids(Strict):
    """Several memories at once: all of them are changed, or (an unknown id) none."""

    ids: list[MemoryIdField] = Field(min_length=1, max_length=10_000)
    reason: str | None = Field(default=None, max_length=1024)


class PinMany(Strict):
    ids: list[MemoryIdField] = Field(min_length=1, max_length=10_000)
    pinned: bool = True


class ConversationPurge(Strict):
    names: list[Annotated[str, Field(min_length=1, max_length=4096)]] = Field(min_length=1, max_length=10_000)
    with_memories: bool = False
    reason: str | None = Field(default=None, max_length=1024)


class TurnIn(Strict):
    """One message of a chat history: who, what, when (a Unix time) and its id in the source."""

    speaker: str = Field(min_length=1, max_length=256)
    text: str = Field(min_length=1)
    at: float = Field(ge=0.0, allow_inf_nan=False)
    turn: str = Field(min_length=1, max_length=256)


class TurnsIn(Strict):
    turns: list[TurnIn] = Field(min_length=1, max_length=MAX_TURNS)
    new: bool = False  # refuse a conversation the log already has (the first batch of an import)


class RenameIn(Strict):
    name: str = Field(min_length=1, max_length=256)


class ScopeIn(Strict):
    scope: Literal["read", "read-write", "off"]


class Filters(Strict):
    kinds: list[str] = Field(default_factory=list, max_length=64)
    source_types: list[str] = Field(default_factory=list, max_length=16)
    source_ref: str | None = None
    since: float | None = None
    until: float | None = None
    pinned_only: bool = False


class SearchIn(Strict):
    query: str = Field(min_length=1)
    k: int | None = Field(default=None, ge=1, le=10_000)
    filters: Filters = Filters()
    touch: bool = True


class SweepIn(Strict):
    budget: int | None = Field(default=None, ge=0)
    dry_run: bool = False


class GateIn(Strict):
    text: str = Field(min_length=1)


# ---- OpenAI-compatible -----------------------------------------------------------------------

class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # OpenAI clients send fields Cairn does not use
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None


class CairnChatOptions(Strict):
    memory: bool = True  # use and update the user's memories for this request
    conversation: str | None = Field(default=None, min_length=1, max_length=256)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = "cairn"
    messages: list[ChatMessage] = Field(min_length=1, max_length=10_000)
    stream: bool = False
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    cairn: CairnChatOptions = CairnChatOptions()


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = "cairn"
    input: str | list[str] = Field(min_length=1)


def message_text(message: ChatMessage) -> str:
    """The text of a message whose content is a string or a list of text parts."""
    if isinstance(message.content, str):
        return message.content
    parts = message.content or []
    return "".join(str(p.get("text", "")) for p in parts if p.get("type") == "text")


def unencodable(value: Any) -> str | None:
    """The first string in a parsed JSON value (keys included) that is not valid Unicode (a lone
    surrogate such as the JSON escape \\udfff), or None. Walks without recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def unix_transport() -> bool:
    """Whether the daemon listens on a Unix socket: everywhere Python has them (not Windows), unless
    ``CAIRN_DAEMON_TRANSPORT=tcp`` asks for loopback TCP with a token only."""
    return hasattr(socket, "AF_UNIX") and os.environ.get(TRANSPORT_ENV, "").strip().lower() != "tcp"


def tcp_endpoint(run_dir: Path) -> tuple[int, str] | None:
    """(port, token) the daemon wrote for its loopback listener, or None when it has none."""
    try:
        port = int((run_dir / PORT_NAME).read_text(encoding="ascii").strip())
        token = (run_dir / TOKEN_NAME).read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        return None
    return (port, token) if 0 < port < 65536 and token else None


def answers_at(run_dir: Path) -> bool:
    """Whether the daemon for ``run_dir`` accepts connections, on whichever transport it uses."""
    if unix_transport():
        return answers(run_dir / SOCKET_NAME)
    found = tcp_endpoint(run_dir)
    if found is None:
        return False
    try:
        socket.create_connection(("127.0.0.1", found[0]), timeout=1.0).close()
        return True
    except OSError:
        return False


def answers(path: Path) -> bool:
    """Whether something accepts connections on the Unix socket at ``path``."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()
