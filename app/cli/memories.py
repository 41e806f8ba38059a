"""`cairn memories ...`: list, show, edit, forget, restore, purge, pin and history."""

from __future__ import annotations

from pathlib import Path

import click

from cairn.app.cli.context import get_app, json_option, read_text
from cairn.app.cli.output import emit_json, history_lines, memory_detail, memory_line


@click.group()
def memories() -> None:
    """Look after what Cairn remembers."""


@memories.command("list")
@click.option("--forgotten", "state", flag_value="forgotten", help="Only forgotten memories.")
@click.option("--archived", "state", flag_value="archived", help="Only memories a sweep archived.")
@click.option("--all", "state", flag_value="all", help="Live and forgotten memories.")
@click.option("--kind", help="Only memories of this kind.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0)
@json_option
def list_cmd(state: str | None, kind: str | None, limit: int, offset: int) -> None:
    """List memories (live ones unless told otherwise)."""
    app = get_app()
    found = app.bank().list(state or "live", limit, offset, kind)
    if app.as_json:
        emit_json([m.to_dict() for m in found])
    elif not found:
        click.echo("No memories.")
    else:
        click.echo("\n".join(memory_line(m) for m in found))


@memories.command()
@click.argument("memory_id", type=int)
@json_option
def show(memory_id: int) -> None:
    """Show one memory with its provenance."""
    app = get_app()
    memory = app.bank().get(memory_id)
    click.echo(memory_detail(memory)) if not app.as_json else emit_json(memory.to_dict())


@memories.command()
@click.argument("memory_id", type=int)
@click.argument("text", required=False)
@click.option("--file", "file", type=click.Path(path_type=Path, dir_okay=False), help="Read the new text from a file.")
@click.option("--kind", help="Change the kind.")
@click.option("--reason", help="Why (kept in the history).")
@json_option
def edit(memory_id: int, text: str | None, file: Path | None, kind: str | None, reason: str | None) -> None:
    """Change a memory's TEXT ('-' reads standard input; no text and no --kind opens $EDITOR)."""
    app = get_app()
    bank = app.bank()
    new_text = None
    if text is not None or file is not None:
        new_text = read_text(text, file)
    elif kind is None:
        new_text = click.edit(bank.get(memory_id).text)
        if new_text is None:
            click.echo("No change.")
            return
    memory = bank.update(memory_id, text=new_text, kind=kind, reason=reason)
    click.echo(f"Updated {memory_line(memory)}") if not app.as_json else emit_json(memory.to_dict())


def _each(ids: tuple[int, ...], verb: str, action) -> None:  # type: ignore[no-untyped-def]
    app = get_app()
    done = [action(app.bank(), i) for i in ids]
    if app.as_json:
        emit_json([m.to_dict() if hasattr(m, "to_dict") else {"uid": m} for m in done])
    else:
        for memory_id, m in zip(ids, done):
            click.echo(f"{verb} " + (memory_line(m) if hasattr(m, "to_dict") else f"#{memory_id}"))


@memories.command()
@click.argument("ids", type=int, nargs=-1, required=True)
@click.option("--reason", help="Why (kept in the history).")
@json_option
def forget(ids: tuple[int, ...], reason: str | None) -> None:
    """Forget memories: hidden from recall, restorable with `restore`."""
    _each(ids, "Forgot", lambda bank, i: bank.forget(i, reason))


@memories.command()
@click.argument("ids", type=int, nargs=-1, required=True)
@click.option("--reason", help="Why (kept in the history).")
@json_option
def restore(ids: tuple[int, ...], reason: str | None) -> None:
    """Bring forgotten memories back."""
    _each(ids, "Restored", lambda bank, i: bank.restore(i, reason))


@memories.command()
@click.argument("ids", type=int, nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--reason", help="Why (kept in the history, without the text).")
@json_option
def purge(ids: tuple[int, ...], yes: bool, reason: str | None) -> None:
    """Erase memories for good: text, vector, index entries and the text in their history."""
    bank = get_app().bank()
    for i in ids:
        bank.get(i)  # unknown ids fail before anything is erased
    if not yes:
        click.confirm(f"Erase {len(ids)} memor{'y' if len(ids) == 1 else 'ies'} for good?", abort=True)
    _each(ids, "Purged", lambda b, i: b.purge(i, reason))


@memories.command()
@click.argument("ids", type=int, nargs=-1, required=True)
@click.option("--off", is_flag=True, help="Unpin instead.")
@json_option
def pin(ids: tuple[int, ...], off: bool) -> None:
    """Pin memories (pinned memories never fade), or unpin them with --off."""
    _each(ids, "Unpinned" if off else "Pinned", lambda bank, i: bank.pin(i, not off))


@memories.command()
@click.argument("memory_id", type=int)
@json_option
def history(memory_id: int) -> None:
    """Every change to a memory, oldest first."""
    app = get_app()
    entries = app.bank().history(memory_id)
    click.echo(history_lines(entries)) if not app.as_json else emit_json([e.to_dict() for e in entries])
