"""`cairn export`, `import`, `reindex` and `doctor`."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from cairn.app.cli.context import get_app, json_option
from cairn.app.cli.output import emit_json
from cairn.core import diagnostics
from cairn.core.memory import transfer
from cairn.core.paths import ensure_dir


@click.command("export")
@click.argument("path", required=False, type=click.Path(path_type=Path, dir_okay=False, allow_dash=True))
def export_cmd(path: Path | None) -> None:
    """Write every memory and its history as JSON Lines to PATH (default: standard output)."""
    bank = get_app().bank()
    if path is None or str(path) == "-":
        count = transfer.export(bank, sys.stdout)
        sys.stdout.flush()
        click.echo(f"Exported {count} memories.", err=True)
        return
    target = path.absolute()
    ensure_dir(target.parent)
    fd, tmp = tempfile.mkstemp(prefix=".cairn-export-", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            count = transfer.export(bank, out)
        os.replace(tmp, target)  # a crash never leaves half an export under the real name
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    click.echo(f"Exported {count} memories to {target}.", err=True)


@click.command("import")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True))
@json_option
def import_cmd(path: Path) -> None:
    """Add the memories of an export (PATH, or '-' for standard input). All or nothing."""
    app = get_app()
    if str(path) == "-":
        lines = click.get_binary_stream("stdin").read().splitlines()
    else:
        try:
            lines = path.read_bytes().splitlines()
        except OSError as exc:
            raise click.BadParameter(f"cannot read {path}: {exc.strerror or exc}", param_hint="PATH") from exc
    result = transfer.import_(app.bank(), lines)
    if app.as_json:
        emit_json({"added": result.added, "skipped": result.skipped, "source_embedder": result.source_embedder})
    else:
        click.echo(f"Imported {result.added} memories ({result.skipped} already present).")


@click.command()
@json_option
def reindex() -> None:
    """Re-embed every memory with the configured embedder (after changing embedders)."""
    app = get_app()
    bank = app.bank()
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
@json_option
def doctor() -> None:
    """Check this installation: Python, SQLite, extensions, paths, settings, database, embedder."""
    app = get_app()
    checks = diagnostics.run_checks(app.paths)
    if app.as_json:
        emit_json({"ok": all(c.ok for c in checks), "checks": [c.to_dict() for c in checks]})
    else:
        for c in checks:
            click.echo(f"[{'ok' if c.ok else 'FAIL'}] {c.name}: {c.detail}")
    if not all(c.ok for c in checks):
        raise click.exceptions.Exit(1)
