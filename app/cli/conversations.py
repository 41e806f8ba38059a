"""`cairn conversations ...`: the conversation log (every turn said to Cairn, questions included)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cairn.app.cli.context import FilePath, get_app, json_option, read_text
from cairn.app.cli.output import emit_json, shorten
from cairn.app.protocol import MAX_TURNS
from cairn.app.remote import RemoteBank
from cairn.core import CairnError, NotFound, ServiceError, iso
from cairn.core.memory import ChatLog, MemoryBank, MemoryId, TurnsLogged, chat_batches, check_free, parse_chat

MAX_CHAT_BYTES = 256 * 1024 * 1024  # a chat file larger than this is refused before it is read whole
BATCH_BYTES = 1024 * 1024  # the text sent to the daemon per request, at most (its body limit is 4 MiB)
BATCH_TURNS = min(200, MAX_TURNS)  # messages per request: the progress bar moves, other clients get turns


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
    held = _holders(app.bank(), [t.memory_id for t in turns if t.memory_id])
    for t in turns:
        kept = f"  -> memory #{held.get(t.memory_id, t.memory_id)}" if t.memory_id else ""
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


@conversations.command("import")
@click.argument("path", type=FilePath(dir_okay=False, path_type=Path, allow_dash=True))
@click.option("--name", help="The conversation's name in the log (default: the file's name).")
@click.option("--dates", type=click.Choice(["auto", "dmy", "mdy"]), default="auto", show_default=True,
              help="Date order of a text export: day first, month first, or worked out from the dates.")
@json_option
def import_cmd(path: Path, name: str | None, dates: str) -> None:
    """Read a chat history into the log and memory: a messaging app's text export
    ("29.12.2023, 22:42 - Anna: text", "[29.12.23, 22:42:04] Anna: text") or LoCoMo-format JSON.
    Every message keeps its speaker, its own time and its line; messages sent one after another
    by the same person join one memory. The whole file is read and checked first."""
    app = get_app()
    stdin = str(path) == "-"
    text = read_text("-" if stdin else None, None if stdin else path, "chat file", MAX_CHAT_BYTES)
    logs = parse_chat(text, name or ("imported chat" if stdin else path.stem), dates)
    if name and len(logs) > 1:
        raise click.UsageError(f"{path} holds {len(logs)} conversations; --name fits a file with one.")
    bank = app.bank()
    check_free(bank.taken_conversations([log.name for log in logs]))
    results = [_import_one(bank, log, app.as_json) for log in logs]
    if app.as_json:
        emit_json(results)
    for log, r in [] if app.as_json else zip(logs, results, strict=True):
        click.echo(_summary(log, r))


def _holders(bank: MemoryBank | RemoteBank, ids: list[int]) -> dict[int, int]:
    """The memory that holds each turn's text now: a message that joined a burst (or merged as a
    copy) points at the memory it joined, not at its own hidden row."""
    out: dict[int, int] = {}
    for start in range(0, len(ids), 1000):
        try:
            found = bank.get_many([MemoryId(i) for i in ids[start:start + 1000]])
        except (NotFound, ServiceError) as exc:  # one was purged meanwhile: show the ids as logged
            if isinstance(exc, ServiceError) and exc.code != "not_found":
                raise
            continue
        out.update({m.id: m.replaced_by or m.id for m in found})
    return out


def _import_one(bank: MemoryBank | RemoteBank, log: ChatLog, quiet: bool) -> dict[str, int | str]:
    parts: list[TurnsLogged] = []
    with click.progressbar(length=len(log.messages), label=log.name, file=sys.stderr,
                           hidden=quiet or not sys.stderr.isatty()) as bar:
        for batch in chat_batches(log.messages, BATCH_TURNS, BATCH_BYTES):
            try:
                parts.append(bank.log_turns(log.name, batch, new=not parts))
            except CairnError:
                if parts:
                    done = sum(p.logged for p in parts)
                    click.echo(f"Stopped after {done} of {len(log.messages)} messages of {log.name!r}; "
                               f"those stay logged (`cairn conversations purge {log.name!r} --with-memories` "
                               "removes them).", err=True)
                raise
            bar.update(len(batch))
    return {**TurnsLogged.total(log.name, parts).to_dict(), "skipped": log.skipped}


def _summary(log: ChatLog, r: dict[str, int | str]) -> str:
    speakers = sorted({m.speaker for m in log.messages})
    first, last = iso(log.messages[0].at)[:10], iso(log.messages[-1].at)[:10]
    who = ", ".join(speakers[:-1]) + f" and {speakers[-1]}" if len(speakers) > 1 else speakers[0]
    lines = [f"Imported {log.name!r}: {_n(r['logged'], 'message')} from {who}, {first} .. {last}.",
             f"  {_n(r['stored'], 'new memory', 'new memories')}, {_n(r['joined'], 'message')} joined the one "
             f"before (bursts, copies), {r['log_only']} kept in the log only."]
    if log.skipped:
        lines.append(f"  {_n(log.skipped, 'line')} skipped (system messages and media placeholders).")
    return "\n".join(lines)


def _n(count: int | str, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"
