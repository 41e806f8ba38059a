"""`cairn export`, `import`, `reindex` and `doctor`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

import click

from cairn.app.cli.context import FilePath, get_app, json_option, read_lines
from cairn.app.cli.output import emit_json
from cairn.app.remote import RemoteBank
from cairn.core import FILE_MODE, Paths, StorageError, diagnostics, ensure_dir
from cairn.core.memory import MemoryBank, transfer


@click.command("export")
@click.argument("path", required=False, type=FilePath(path_type=Path, dir_okay=False, allow_dash=True))
def export_cmd(path: Path | None) -> None:
    """Write every memory with its history, and the conversation log, as JSON Lines to PATH
    (default: standard output). The file ends with a checksum; it is readable by you only."""
    bank = get_app().bank()
    if path is None or str(path) == "-":
        memories, turns = _export(bank, sys.stdout)
        sys.stdout.flush()
        click.echo(f"Exported {memories} memories and {turns} logged turns.", err=True)
        return
    target = path.absolute()
    ensure_dir(target.parent)
    part = target.with_name(f".{target.name}.cairn-part")  # a crash never leaves half an export under the real name
    try:
        with os.fdopen(os.open(part, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, FILE_MODE), "w", encoding="utf-8") as out:
            memories, turns = _export(bank, out)
        os.replace(part, target)
    except OSError as exc:
        raise StorageError(f"Cannot write the export to {target}: {exc.strerror or exc}; nothing was written.",
                           hint="Free some space or choose another place.") from exc
    finally:
        part.unlink(missing_ok=True)
    click.echo(f"Exported {memories} memories and {turns} logged turns to {target}.", err=True)


def _export(bank: MemoryBank | RemoteBank, out: TextIO) -> tuple[int, int]:
    if isinstance(bank, RemoteBank):
        return bank.export_to(out)
    report = transfer.export_all(bank, out)
    return report.memories, report.turns


@click.command("import")
@click.argument("path", type=FilePath(path_type=Path, dir_okay=False, allow_dash=True))
@click.option("--unverified", is_flag=True,
              help="Accept an export from before Cairn 0.2 (format 1 or 2), whose completeness cannot be checked.")
@json_option
def import_cmd(path: Path, unverified: bool) -> None:
    """Add the memories and logged turns of an export (PATH, or '-' for standard input). The whole
    file is checked first (end marker, checksum, every value): all or nothing."""
    app = get_app()
    bank = app.bank()
    lines = read_lines(path, 4 * app.settings.memory.max_text_bytes + (1 << 20))
    if isinstance(bank, RemoteBank):
        result = bank.import_bytes(b"".join(lines), unverified)
    else:
        done = transfer.import_(bank, lines, allow_unverified=unverified)
        result = {"added": done.added, "skipped": done.skipped, "source_embedder": done.source_embedder,
                  "turns_added": done.turns_added, "verified": done.verified}
    if app.as_json:
        emit_json(result)
    else:
        click.echo(f"Imported {result['added']} memories ({result['skipped']} already present) and "
                   f"{result['turns_added']} logged turns.")


@click.command()
@json_option
def reindex() -> None:
    """Re-embed every memory with the configured embedder (after changing embedders)."""
    app = get_app()
    bank = app.local_bank()
    with click.progressbar(length=max(1, sum(bank.stats()["memories"].values())), label="Re-embedding",
                           file=sys.stderr) as bar:
        seen = [0]

        def step(done: int, _total: int) -> None:
            bar.update(done - seen[0])
            seen[0] = done

        count = bank.reindex(progress=step)
    if app.as_json:
        emit_json({"reindexed": count, "embedder": [bank.embedder.id, bank.embedder.dim]})
    else:
        click.echo(f"Re-embedded {count} memories with {bank.embedder.id} (dim {bank.embedder.dim}).")


@click.command()
@click.option("--tables", "show_tables", is_flag=True,
              help="List the memory database's tables, their rows and what they hold (read-only).")
@json_option
def doctor(show_tables: bool) -> None:
    """Check this installation: Python, SQLite, extensions, paths, settings, database, embedder."""
    app = get_app()
    if show_tables:
        _tables(app.paths, app.as_json)
        return
    checks = diagnostics.run_checks(app.paths)
    if app.as_json:
        emit_json({"ok": all(c.ok for c in checks), "checks": [c.to_dict() for c in checks]})
    else:
        for c in checks:
            click.echo(f"[{'ok' if c.ok else 'FAIL'}] {c.name}: {c.detail}")
    if not all(c.ok for c in checks):
        raise click.exceptions.Exit(1)


def _tables(paths: Paths, as_json: bool) -> None:
    found = diagnostics.table_summary(paths)
    if as_json:
        emit_json({"database": str(paths.database), "tables": [t.to_dict() for t in found]})
        return
    click.echo(f"{paths.database} (opened read-only)")
    for t in found:
        kind = " (virtual)" if t.virtual else ""
        click.echo(f"  {t.name}{kind}: {t.rows:,} rows - {t.description or 'not a Cairn table'}")
        click.echo(f"      columns: {', '.join(t.columns)}")
