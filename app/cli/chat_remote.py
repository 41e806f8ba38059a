"""`cairn ask` and `cairn chat` through the daemon: the same turn (the daemon's assistant), the
same display (answer, the quoted memories, the note, the gate's decision)."""

from __future__ import annotations

import sys
import uuid
from typing import Any

import click

from cairn.app.cli import slash
from cairn.app.cli.output import emit_json
from cairn.app.cli.output import memory_line as list_line
from cairn.app.client import Client
from cairn.app.remote import RemoteBank
from cairn.core.memory import MemoryId


def show(text: str, ext: dict[str, Any], streamed: bool) -> None:
    """The daemon's answer and its proof, laid out as the in-process :func:`chat.show` does."""
    if not streamed:
        click.echo(text)
    if ext["quotes"] and ext["kind"] != "provenance":
        click.echo("From your memories:" if ext["kind"] != "declined" else "The closest memories:")
        for q in ext["quotes"]:
            click.echo(f"  {q['line']}\n    (from {q['source']})")
    if ext["note"]:
        click.secho(f"({ext['note']})", dim=True)
    gate = "memory" if ext["gate"]["retrieve"] else "no memory"
    used = ", ".join(f"#{i}" for i in ext["used"])
    click.secho(f"  [{gate}: {ext['gate']['reason']}; used {used or 'none'}]", dim=True, err=True)


def ask(client: Client, question: str, as_json: bool) -> None:
    reply = client.request("POST", "/v1/chat/completions",
                           {"model": "cairn", "messages": [{"role": "user", "content": question}]})
    text, ext = reply["choices"][0]["message"]["content"], reply["cairn"]
    if as_json:
        emit_json({"text": text, **{k: v for k, v in ext.items() if k != "conversation"}})
    else:
        show(text, ext, streamed=False)


def chat(client: Client) -> None:
    """Lines from standard input, each a turn of one conversation the daemon keeps."""
    conversation = [f"cli-{uuid.uuid4().hex[:12]}"]
    bank = RemoteBank(client)

    def new() -> None:
        conversation[0] = f"cli-{uuid.uuid4().hex[:12]}"
    for line in sys.stdin:
        text = line.strip()
        if not text:
            continue
        if text.startswith("/"):
            if not slash.run(bank, text, lambda i: _why(bank, i), new):
                break
            continue
        ext: dict[str, Any] = {}
        body = {"model": "cairn", "stream": True, "messages": [{"role": "user", "content": text}],
                "cairn": {"conversation": conversation[0]}}
        for event in client.stream("/v1/chat/completions", body):
            if "error" in event:
                click.echo(f"\nError: {event['error']['message']}", err=True)
                break
            choice = event["choices"][0]
            click.echo(choice["delta"].get("content") or "", nl=False)
            ext = event.get("cairn", ext)
        click.echo()
        if ext:
            show("", ext, streamed=True)


def _why(bank: RemoteBank, memory_id: MemoryId) -> str:
    memory = bank.get(memory_id)
    changes = ", ".join(h.action for h in bank.history(memory.id))
    return f"{list_line(memory)}\n  from {memory.source.describe()}; history: {changes}"
