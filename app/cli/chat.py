"""`cairn ask` and `cairn chat`: the assistant in the terminal.

Both show each answer with the memories it rests on (id, date, source), or say that memory was not
used. `cairn chat` reads lines (a terminal or a pipe) and understands /remember TEXT, /forget ID,
/why ID, /memories, /new, /quit.
"""

from __future__ import annotations

import sys

import click

from cairn.app.cli import chat_remote, slash
from cairn.app.cli.context import get_app, json_option
from cairn.app.cli.output import emit_json
from cairn.app.client import Client, running
from cairn.core import Answer, Assistant
from cairn.core import assistant as assistant_mod
from cairn.core.memory import is_request


def build(first: str = "") -> Assistant:
    """The assistant on the user's bank, as the settings describe it. When the ``first`` message
    is a question, the model starts loading before the bank and its embedder do."""
    app = get_app()
    slot = assistant_mod.model_slot(app.settings, app.paths)
    if first and is_request(first):
        slot.prefetch()
    try:
        bank = app.local_bank()
    except BaseException:
        slot.close()
        raise
    return assistant_mod.open(app.settings, app.paths, bank=bank, slot=slot)


def show(answer: Answer, streamed: bool) -> None:
    """The answer, then its proof: the quoted memories, the note, and what the gate decided."""
    if not streamed:
        click.echo(answer.text)
    if answer.used and answer.kind != "provenance":
        click.echo("From your memories:" if answer.kind != "declined" else "The closest memories:")
        for line in answer.quotes:
            click.echo(f"  {line}")
    if answer.note:
        click.secho(f"({answer.note})", dim=True)
    gate = "memory" if answer.decision.retrieve else "no memory"
    used = ", ".join(f"#{h.memory.id}" for h in answer.used)
    click.secho(f"  [{gate}: {answer.decision.reason}; used {used or 'none'}]", dim=True, err=True)


@click.command()
@click.argument("question")
@json_option
def ask(question: str) -> None:
    """Ask one question; the answer comes with the memories it rests on."""
    app = get_app()
    if running(app.paths):
        with Client.for_paths(app.paths) as client:
            chat_remote.ask(client, question, app.as_json)
        return
    with build(question) as assistant:
        answer = assistant.ask(question)
    if app.as_json:
        emit_json(answer.to_dict())
    else:
        show(answer, streamed=False)


@click.command()
def chat() -> None:
    """Talk with Cairn (/remember, /forget ID, /why ID, /memories, /new, /quit)."""
    stream = sys.stdin  # click.get_text_stream is deprecated (click 8.5); the same strict text stream
    app = get_app()
    if running(app.paths):
        with Client.for_paths(app.paths) as client:
            chat_remote.chat(client)
        return
    with build() as assistant:
        if not assistant.has_model:
            click.echo(f"Memory-only mode ({assistant.no_model_reason}): answers quote your memories.", err=True)
        for line in stream:
            text = line.strip()
            if not text:
                continue
            if text.startswith("/"):
                if not slash.run(assistant.bank, text, assistant.why, assistant.new_conversation):
                    break
                continue
            answer = assistant.ask(text, on_text=lambda piece: click.echo(piece, nl=False))
            click.echo()
            show(answer, streamed=True)
