"""The slash commands of `cairn chat`, in-process or through the daemon: /remember TEXT,
/forget ID, /why ID, /memories, /new, /quit."""

from __future__ import annotations

from collections.abc import Callable

import click

from cairn.app.cli.output import memory_line as list_line
from cairn.app.remote import RemoteBank
from cairn.core.memory import MemoryBank, MemoryId

HELP = "Commands: /remember TEXT, /forget ID, /why ID, /memories, /new, /quit"


def run(bank: MemoryBank | RemoteBank, text: str, why: Callable[[MemoryId], str], new: Callable[[], None]) -> bool:
    """Do one slash command; False for /quit."""
    name, _, arg = text.partition(" ")
    if name == "/quit":
        return False
    if name == "/remember" and arg:
        click.echo(f"Remembered {list_line(bank.remember(arg))}")
    elif name == "/forget" and arg.isdigit():
        click.echo(f"Forgot {list_line(bank.forget_many([MemoryId(int(arg))])[0])}")
    elif name == "/why" and arg.isdigit():
        click.echo(why(MemoryId(int(arg))))
    elif name == "/memories":
        click.echo("\n".join(list_line(m) for m in bank.list("live", limit=20)) or "No memories.")
    elif name == "/new":
        new()
        click.echo("New conversation.")
    else:
        click.echo(HELP)
    return True
