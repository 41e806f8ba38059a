"""`cairn ask` and `cairn chat` through the daemon: the same turn (the daemon's assistant), the
same display (answer, the quoted memories, the note, the gate's decision)."""

from __future__ import annotations

import sys
import uuid
from typing import Any

import click

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
    conversation = f"cli-{uuid.uuid4().hex[:12]}"
    bank = RemoteBank(client)
    for line in sys.stdin:
        text = line.strip()
        if not text:
            continue
        if text.startswith("/"):
            if text.startswith("/new"):
                conversation = f"cli-{uuid.uuid4().hex[:12]}"
                click.echo("New conversation.")
            elif not _command(bank, text):
                break
            continue
        ext: dict[str, Any] = {}
        body = {"model": "cairn", "stream": True, "messages": [{"role": "user", "content": text}],
                "cairn": {"conversation": conversation}}
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


def _command(bank: RemoteBank, text: str) -> bool:
    name, _, arg = text.partition(" ")
    if name == "/quit":
        return False
    if name == "/remember" and arg:
        click.echo(f"Remembered {list_line(bank.remember(arg))}")
    elif name == "/forget" and arg.isdigit():
        click.echo(f"Forgot {list_line(bank.forget_many([MemoryId(int(arg))])[0])}")
    elif name == "/why" and arg.isdigit():
        memory = bank.get(MemoryId(int(arg)))
        changes = ", ".join(h.action for h in bank.history(memory.id))
        click.echo(f"{list_line(memory)}\n  from {memory.source.describe()}; history: {changes}")
    elif name == "/memories":
        click.echo("\n".join(list_line(m) for m in bank.list("live", limit=20)) or "No memories.")
    else:
        click.echo("Commands: /remember TEXT, /forget ID, /why ID, /memories, /new, /quit")
    return True
