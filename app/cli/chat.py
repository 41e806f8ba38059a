"""`cairn ask` and `cairn chat`: the assistant in the terminal.

Both show per turn whether memory was used and which. `cairn chat` reads lines (a terminal or a
pipe) and understands /remember TEXT, /forget ID, /why ID, /memories, /new, /quit.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import click

from cairn.app.cli.context import App, get_app, json_option
from cairn.app.cli.output import emit_json, memory_line as list_line
from cairn.core.assistant import SYSTEM, Answer, Assistant
from cairn.core.llm import catalog, kv
from cairn.core.llm.chat import Chat
from cairn.core.llm.runtime import LoadOptions, Runtime
from cairn.core.llm.session import Session
from cairn.core.memory.gate import Gate


def build(app: App, stack: ExitStack) -> Assistant:
    """The assistant on the user's bank, with the configured model if there is one."""
    s = app.settings
    g = Gate.load(Path(s.gate.weights_file).expanduser() if s.gate.weights_file else None, threshold=s.gate.threshold)
    chat = None
    if s.llm.model not in ("", "none"):
        rt = stack.enter_context(Runtime(catalog.resolve(app.paths.models_dir, s.llm.model),
                                         LoadOptions.from_settings(s.llm)))
        session = Session(rt, kv.Eviction(s.llm.eviction, sinks=s.llm.sink_tokens))
        chat = Chat(rt, session, system=SYSTEM)
    return Assistant(app.bank(), g, chat)


def show(answer: Answer, streamed: bool) -> None:
    if not streamed:
        click.echo(answer.text)
    used = ", ".join(f"#{h.memory.id}" for h in answer.used)
    gate = "memory" if answer.decision.retrieve else "no memory"
    click.secho(f"  [{gate}: {answer.decision.reason}; used {used or 'none'}]", dim=True, err=True)


@click.command()
@click.argument("question")
@json_option
def ask(question: str) -> None:
    """Ask one question; shows whether memory was used and which."""
    app = get_app()
    with ExitStack() as stack:
        answer = build(app, stack).ask(question)
    if app.as_json:
        emit_json(answer.to_dict())
    else:
        show(answer, streamed=False)


@click.command()
def chat() -> None:
    """Talk with Cairn (/remember, /forget ID, /why ID, /memories, /new, /quit)."""
    app = get_app()
    stream = click.get_text_stream("stdin")
    with ExitStack() as stack:
        assistant = build(app, stack)
        if assistant.chat is None:
            click.echo("Memory-only mode (no model configured): answers quote your memories.", err=True)
        for line in stream:
            text = line.strip()
            if not text:
                continue
            if text.startswith("/"):
                if not _command(assistant, text):
                    break
                continue
            answer = assistant.ask(text, on_text=lambda piece: click.echo(piece, nl=False))
            click.echo()
            show(answer, streamed=True)


def _command(assistant: Assistant, text: str) -> bool:
    name, _, arg = text.partition(" ")
    bank = assistant.bank
    if name == "/quit":
        return False
    if name == "/remember" and arg:
        click.echo(f"Remembered {list_line(bank.remember(arg))}")
    elif name == "/forget" and arg.isdigit():
        click.echo(f"Forgot {list_line(bank.forget(int(arg)))}")
    elif name == "/why" and arg.isdigit():
        click.echo(assistant.why(int(arg)))
    elif name == "/memories":
        click.echo("\n".join(list_line(m) for m in bank.list("live", limit=20)) or "No memories.")
    elif name == "/new":
        assistant.new_conversation()
        click.echo("New conversation.")
    else:
        click.echo("Commands: /remember TEXT, /forget ID, /why ID, /memories, /new, /quit")
    return True
