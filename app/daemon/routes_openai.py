"""OpenAI-compatible routes: /v1/models, /v1/chat/completions (SSE streaming or not), /v1/embeddings.

A chat completion is one assistant turn on the **last user message**: the assistant keeps the
conversation itself (its KV cache holds the earlier turns), so the earlier messages a client
re-sends are not re-read. A request with a single user message starts a new conversation, as a
client's "new chat" does; ``cairn.conversation`` names one explicitly. Memory is on unless
``cairn.memory`` is false. The reply carries a ``cairn`` extension: the gate's decision, the
memories shown, the ids cited and what the turn stored.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from cairn.app.daemon.engine import Engine, engine_of
from cairn.app.daemon.errors import body_of
from cairn.app.protocol import CLIENT_HEADER, ChatRequest, EmbeddingsRequest, message_text
from cairn.core import Answer, Assistant, InvalidInput

router = APIRouter(tags=["openai"])
MAX_EMBED_INPUTS = 2048




@router.get("/v1/models", summary="The chat model this daemon serves")
async def models(request: Request) -> dict[str, Any]:
    name = await engine_of(request).ask(lambda a: a.model_name or "cairn-memory-only")
    return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "cairn"}]}


@router.post("/v1/embeddings", summary="Embed texts with the bank's embedder")
async def embeddings(request: Request, body: EmbeddingsRequest) -> dict[str, Any]:
    texts = [body.input] if isinstance(body.input, str) else body.input
    if len(texts) > MAX_EMBED_INPUTS or not all(t.strip() for t in texts):
        raise InvalidInput(f"input must be 1 to {MAX_EMBED_INPUTS:,} non-empty texts.")
    engine = engine_of(request)
    vectors = await engine.bank.call(lambda b: b.embed_keys(texts))
    return {"object": "list", "model": engine.embedder.id, "usage": {"prompt_tokens": 0, "total_tokens": 0},
            "data": [{"object": "embedding", "index": i, "embedding": [float(x) for x in v]}
                     for i, v in enumerate(vectors)]}


def _turn(body: ChatRequest) -> tuple[str, bool]:
    """The text of this turn (the last message, which must be the user's) and whether it starts
    a conversation (one user message in all)."""
    last = body.messages[-1]
    if last.role != "user":
        raise InvalidInput(f"The last message must be the user's, not the {last.role}'s.")
    text = message_text(last).strip()
    if not text:
        raise InvalidInput("The last user message is empty.")
    return text, sum(m.role == "user" for m in body.messages) == 1


def _runner(engine: Engine, body: ChatRequest, text: str, fresh: bool, on_text: Callable[[str], None] | None,
            cancel: Callable[[], bool]) -> Callable[[Assistant], Answer]:
    wanted = body.cairn.conversation

    def run(a: Assistant) -> Answer:
        if wanted is None and fresh:
            engine.switch(a, None)
        elif (wanted is not None and wanted != a.conversation) or not a.model_loaded:
            engine.switch(a, wanted or a.conversation)  # its cache may be on disk (idle unload, restart)
        return a.ask(text, on_text, cancel, memory=body.cairn.memory,
                     max_tokens=body.max_completion_tokens or body.max_tokens)
    return run


def _extension(answer: Answer, conversation: str) -> dict[str, Any]:
    data = answer.to_dict()
    del data["text"]
    return {**data, "conversation": conversation}


def _finish(answer: Answer) -> str:
    return "length" if answer.finish == "length" else "stop"


@router.post("/v1/chat/completions", summary="One assistant turn (OpenAI-compatible; stream for SSE)")
async def completions(request: Request, body: ChatRequest) -> Any:
    text, fresh = _turn(body)
    engine = engine_of(request)
    client = request.headers.get(CLIENT_HEADER)
    if client is not None:  # a turn with memory reads and writes the client's share of the bank
        await engine.bank.call(lambda b: b.clients.allow(client, write=body.cairn.memory))
    ident, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    name = await engine.ask(lambda a: a.model_name or "cairn-memory-only")
    if body.stream:
        return StreamingResponse(_stream(engine, body, text, fresh, (ident, name, created)),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
    answer = await engine.ask(_runner(engine, body, text, fresh, None, engine.stopping.is_set))
    conversation = await engine.ask(lambda a: a.conversation)
    return {"id": ident, "object": "chat.completion", "created": created, "model": name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                         "finish_reason": _finish(answer)}],
            "usage": {"prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.completion_tokens,
                      "total_tokens": answer.prompt_tokens + answer.completion_tokens},
            "cairn": _extension(answer, conversation)}


def _event(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _stream(engine: Engine, body: ChatRequest, text: str, fresh: bool,
                  head: tuple[str, str, int]) -> AsyncIterator[str]:
    ident, name, created = head
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue[str | None] = asyncio.Queue()
    gone = threading.Event()  # the client went away: stop generating

    def on_text(piece: str) -> None:
        loop.call_soon_threadsafe(pieces.put_nowait, piece)

    def cancel() -> bool:
        return gone.is_set() or engine.stopping.is_set()

    task = asyncio.ensure_future(engine.ask(_runner(engine, body, text, fresh, on_text, cancel)))
    task.add_done_callback(lambda _t: pieces.put_nowait(None))

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        return _event({"id": ident, "object": "chat.completion.chunk", "created": created, "model": name,
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})
    try:
        yield chunk({"role": "assistant", "content": ""})
        while (piece := await pieces.get()) is not None:
            yield chunk({"content": piece})
        try:
            answer = task.result()
        except Exception as exc:  # noqa: BLE001 - the status line is sent: the error travels as an event
            yield _event(body_of(exc))
        else:
            conversation = await engine.ask(lambda a: a.conversation)
            yield chunk({}, _finish(answer), cairn=_extension(answer, conversation))
        yield "data: [DONE]\n\n"
    finally:
        gone.set()
