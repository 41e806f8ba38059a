"""`cairn memories ...`: list, show, edit, forget, restore, purge, pin and history."""

from __future__ import annotations

from pathlib import Path

import click

from cairn.app.cli.context import MEMORY_ID, FilePath, get_app, json_option, read_text
from cairn.app.cli.output import emit_json, history_lines, memory_detail, memory_line
from cairn.core.memory import Memory, MemoryId

MAX_ROWS = 2**62  # larger numbers do not fit SQLite's integers


@click.group()
def memories() -> None:
    """Look after what Cairn remembers."""


@memories.command("list")
@click.option("--forgotten", "state", flag_value="forgotten", help="Only forgotten memories.")
@click.option("--archived", "state", flag_value="archived", help="Only memories a sweep archived.")
@click.option("--all", "state", flag_value="all", help="Live and forgotten memories.")
@click.option("--kind", help="Only memories of this kind.")
@click.option("--limit", type=click.IntRange(min=1, max=MAX_ROWS), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(min=0, max=MAX_ROWS), default=0)
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
@click.argument("memory_id", type=MEMORY_ID)
@json_option
def show(memory_id: MemoryId) -> None:
    """Show one memory with its provenance."""
    app = get_app()
    memory = app.bank().get(memory_id)
    click.echo(memory_detail(memory)) if not app.as_json else emit_json(memory.to_dict())


@memories.command()
@click.argument("memory_id", type=MEMORY_ID)
@click.argument("text", required=False)
@click.option("--file", "file", type=FilePath(path_type=Path, dir_okay=False), help="Read the new text from a file.")
@click.option("--kind", help="Change the kind.")
@click.option("--reason", help="Why (kept in the history).")
@json_option
def edit(memory_id: MemoryId, text: str | None, file: Path | None, kind: str | None, reason: str | None) -> None:
    """Change a memory's TEXT ('-' reads standard input; no text and no --kind opens $EDITOR)."""
    app = get_app()
    bank = app.bank()
    new_text = None
    if text is not None or file is not None:
        new_text = read_text(text, file, limit=app.settings.memory.max_text_bytes)
    elif kind is None:
        new_text = click.edit(bank.get(memory_id).text)
        if new_text is None:
            click.echo("No change.")
            return
    memory = bank.update(memory_id, text=new_text, kind=kind, reason=reason)
    click.echo(f"Updated {memory_line(memory)}") if not app.as_json else emit_json(memory.to_dict())


def _show_all(done: list[Memory], verb: str) -> None:
    if get_app().as_json:
        emit_json([m.to_dict() for m in done])
    else:
        for m in done:
            click.echo(f"{verb} {memory_line(m)}")


@memories.command()
@click.argument("ids", type=MEMORY_ID, nargs=-1, required=True)
@click.option("--reason", help="Why (kept in the history).")
@json_option
def forget(ids: tuple[MemoryId, ...], reason: str | None) -> None:
    """Forget memories: hidden from recall, restorable with `restore`. All or none."""
    _show_all(get_app().bank().forget_many(ids, reason), "Forgot")


@memories.command()
@click.argument("ids", type=MEMORY_ID, nargs=-1, required=True)
@click.option("--reason", help="Why (kept in the history).")
@json_option
def restore(ids: tuple[MemoryId, ...], reason: str | None) -> None:
    """Bring forgotten or archived memories back. All or none."""
    _show_all(get_app().bank().restore_many(ids, reason), "Restored")


@memories.command()
@click.argument("ids", type=MEMORY_ID, nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--reason", help="Why (kept in the history, without the text).")
@json_option
def purge(ids: tuple[MemoryId, ...], yes: bool, reason: str | None) -> None:
    """Erase memories for good: text, vector, index entries, the text in their history, the logged
    turns they came from and copies merged into them. All or none."""
    app = get_app()
    bank = app.bank()
    found = bank.get_many(ids)  # unknown ids fail before anything is asked
    if not yes:
        click.confirm(f"Erase {len(found)} memor{'y' if len(found) == 1 else 'ies'} for good?", abort=True)
    uids = bank.purge_many([m.id for m in found], reason)
    if app.as_json:
        emit_json([{"id": m.id, "uid": uid} for m, uid in zip(found, uids, strict=False)])
    else:
        for m in found:
            click.echo(f"Purged #{m.id}")


@memories.command()
@click.argument("ids", type=MEMORY_ID, nargs=-1, required=True)
@click.option("--off", is_flag=True, help="Unpin instead.")
@json_option
def pin(ids: tuple[MemoryId, ...], off: bool) -> None:
    """Pin memories (pinned memories never fade), or unpin them with --off. All or none."""
    _show_all(get_app().bank().pin_many(ids, not off), "Unpinned" if off else "Pinned")


@memories.command()
@click.argument("memory_id", type=MEMORY_ID)
@json_option
def history(memory_id: MemoryId) -> None:
    """Every change to a memory, oldest first."""
    app = get_app()
    entries = app.bank().history(memory_id)
    click.echo(history_lines(entries)) if not app.as_json else emit_json([e.to_dict() for e in entries])
