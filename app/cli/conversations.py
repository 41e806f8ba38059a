"""`cairn conversations ...`: the conversation log (every turn said to Cairn, questions included)."""

from __future__ import annotations

import click

from cairn.app.cli.context import get_app, json_option
from cairn.app.cli.output import emit_json, shorten
from cairn.core import iso


@click.group()
def conversations() -> None:
    """The conversation log: every turn you said to Cairn, including questions it did not keep as
    memories. List it, read it, erase it."""


@conversations.command("list")
@click.option("--limit", type=click.IntRange(min=1, max=2**62), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(min=0, max=2**62), default=0)
@json_option
def list_cmd(limit: int, offset: int) -> None:
    """Logged conversations, the most recent first."""
    app = get_app()
    found = app.bank().conversations(limit, offset)
    if app.as_json:
        emit_json([c.__dict__ for c in found])
    elif not found:
        click.echo("No logged conversations.")
    for c in [] if app.as_json else found:
        click.echo(f"{c.name:<28} {c.turns:>5} turns ({c.memories} kept as memories)  "
                   f"{iso(c.first_at)[:16]} .. {iso(c.last_at)[:16]}")


@conversations.command()
@click.argument("name")
@json_option
def show(name: str) -> None:
    """Every logged turn of one conversation, in order."""
    app = get_app()
    turns = app.bank().conversation(name)
    if app.as_json:
        emit_json([t.__dict__ for t in turns])
        return
    for t in turns:
        kept = f"  -> memory #{t.memory_id}" if t.memory_id else ""
        click.echo(f"{iso(t.at)[:16]}  {t.speaker or '-':>8}: {shorten(t.text, 90)}{kept}")


@conversations.command()
@click.argument("names", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every logged conversation.")
@click.option("--with-memories", is_flag=True, help="Also purge the memories their turns became.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def purge(names: tuple[str, ...], every: bool, with_memories: bool, yes: bool) -> None:
    """Erase conversations from the log for good (NAMES, or --all). All or none."""
    app = get_app()
    bank = app.bank()
    chosen = [c.name for c in bank.conversations()] if every else list(dict.fromkeys(names))
    if not chosen:
        raise click.UsageError("Name the conversations to purge, or use --all.")
    if not yes:
        extra = " and the memories they became" if with_memories else ""
        click.confirm(f"Erase {len(chosen)} conversation{'s' if len(chosen) != 1 else ''}{extra} for good?",
                      abort=True)
    result = bank.purge_conversation(chosen, with_memories)
    if app.as_json:
        emit_json(result)
    else:
        gone = result["memories_purged"]
        click.echo(f"Purged {len(chosen)} conversation{'s' if len(chosen) != 1 else ''}"
                   + (f" and {len(gone)} memories" if gone else "") + ".")


@conversations.command()
@click.argument("old")
@click.argument("new")
@json_option
def rename(old: str, new: str) -> None:
    """Rename conversation OLD to NEW (its turns and the memories it is the source of)."""
    app = get_app()
    result = app.bank().rename_conversation(old, new)
    if app.as_json:
        emit_json(result)
    else:
        click.echo(f"Renamed {old!r} to {new!r} ({len(result['memories'])} memories now name it as their source).")
