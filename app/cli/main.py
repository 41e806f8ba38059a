"""`cairn` entry point: the command group, top-level commands, and the one place errors become words."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from pathlib import Path

import click

from cairn.app.cli import admin, bench, chat, conversations, daemon, demo, embedders, gate, gui, mcp, memories, models, retention
from cairn.app.cli.context import App, FilePath, get_app, json_option, read_text, setup_logging
from cairn.app.cli.output import emit_json, memory_line, recalled_lines
from cairn.core import CairnError, parse_when, paths
from cairn.core.memory import MAX_K, SOURCE_TYPES, RecallFilters, Source

log = logging.getLogger("cairn.cli")
INTERNAL_ERROR = 70


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.version_option(package_name="cairn", prog_name="cairn")
@click.pass_context
def cli(ctx: click.Context, as_json: bool, verbose: int) -> None:
    """Cairn: a private memory assistant that lives on your computer."""
    setup_logging(verbose)
    app = App(paths.resolve(), as_json=as_json)
    ctx.obj = app
    ctx.call_on_close(app.close)


@cli.command()
@click.argument("text", required=False)
@click.option("--file", "file", type=FilePath(path_type=Path, dir_okay=False), help="Read the text from a file.")
@click.option("--kind", default="note", show_default=True, help="What sort of memory (note, fact, ...).")
@click.option("--pin", is_flag=True, help="Pin it: pinned memories never fade.")
@click.option("--source", "source_type", type=click.Choice(SOURCE_TYPES), default="manual", show_default=True)
@click.option("--source-ref", help="Which conversation or document it came from.")
@click.option("--turn", "turns", multiple=True, help="Turn id(s) in that conversation (repeatable).")
@click.option("--when", help="When it happened (ISO date or date-time).")
@click.option("--speaker", help="Who said it (in a conversation).")
@json_option
def remember(text: str | None, file: Path | None, kind: str, pin: bool, source_type: str,
             source_ref: str | None, turns: tuple[str, ...], when: str | None, speaker: str | None) -> None:
    """Remember TEXT (or '-' for standard input, or --file)."""
    app = get_app()
    body = read_text(text, file, limit=app.settings.memory.max_text_bytes)
    source = Source(source_type, source_ref, turns, parse_when(when) if when else None, speaker)
    memory = app.bank().remember(body, kind=kind, source=source, pinned=pin)
    if app.as_json:
        emit_json(memory.to_dict())
    else:
        merged = f" (a near-duplicate: merged into #{memory.replaced_by})" if memory.replaced_by else ""
        click.echo(f"Remembered {memory_line(memory)}{merged}")


@cli.command()
@click.argument("query", required=False)
@click.option("-k", "k", type=click.IntRange(min=1, max=MAX_K), help="How many memories to return.")
@click.option("--kind", "kinds", multiple=True, help="Only memories of this kind (repeatable).")
@click.option("--since", help="Only memories from this date on (ISO).")
@click.option("--until", help="Only memories up to this date (ISO).")
@click.option("--pinned", is_flag=True, help="Only pinned memories.")
@click.option("--why", is_flag=True, help="Also say what ranked each memory there (always in --json).")
@json_option
def recall(query: str | None, k: int | None, kinds: tuple[str, ...], since: str | None,
           until: str | None, pinned: bool, why: bool) -> None:
    """Find the memories most relevant to QUERY (or '-' for standard input)."""
    app = get_app()
    filters = RecallFilters(kinds=kinds, since=parse_when(since) if since else None,
                            until=parse_when(until) if until else None, pinned_only=pinned)
    hits = app.bank().recall(read_text(query, None, "query", app.settings.recall.max_query_bytes), k, filters)
    if app.as_json:
        emit_json([h.to_dict() for h in hits])
    else:
        click.echo(recalled_lines(hits, why))


cli.add_command(memories.memories)
cli.add_command(conversations.conversations)
cli.add_command(bench.bench)
cli.add_command(embedders.embedders)
cli.add_command(retention.retention)
cli.add_command(models.models)
cli.add_command(gate.gate)
cli.add_command(chat.ask)
cli.add_command(chat.chat)
cli.add_command(retention.sweep)
cli.add_command(daemon.daemon)
cli.add_command(mcp.mcp)
cli.add_command(gui.app_cmd)
for command in (admin.export_cmd, admin.import_cmd, admin.reindex, admin.doctor, demo.demo):
    cli.add_command(command)


ERROR_CODES = {2: "invalid_input", 3: "not_found", 4: "storage", 5: "model", 6: "download", 7: "context_full",
               8: "service", 9: "not_permitted",
               1: "error", 130: "aborted", INTERNAL_ERROR: "internal"}


def report(message: str, hint: str | None, exit_code: int, as_json: bool, kind: str | None = None) -> int:
    """Show one error: a sentence (and a hint) on stderr, or with --json one JSON object there."""
    if as_json:
        error = {"code": kind or ERROR_CODES.get(exit_code, "error"), "message": message, "hint": hint,
                 "exit_code": exit_code}
        click.echo(json.dumps({"error": error}), err=True)  # ASCII: one line for any line splitter (U+0085, U+2028)
    else:
        click.echo(f"Error: {message}", err=True)
        if hint:
            click.echo(f"Hint: {hint}", err=True)
    return exit_code


def _wants_json(argv: list[str] | None) -> bool:
    args = sys.argv[1:] if argv is None else argv
    return "--json" in args[: args.index("--") if "--" in args else len(args)]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status. Errors become one clear sentence on stderr (a JSON
    object with --json); never a traceback, unless CAIRN_DEBUG is set."""
    as_json = _wants_json(argv)
    try:
        status = cli.main(args=argv, prog_name="cairn", standalone_mode=False)
        return status if isinstance(status, int) else 0
    except CairnError as exc:
        return report(exc.message, exc.hint, exc.exit_code, as_json, _kind(exc))
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        if not as_json:
            exc.show()
            return exc.exit_code
        return report(exc.format_message(), None, exc.exit_code, True, "usage")
    except (click.Abort, KeyboardInterrupt):
        return report("Aborted.", None, 130, as_json)
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the edge: log the details, show one line
        if os.environ.get("CAIRN_DEBUG"):
            raise
        log.debug("internal error", exc_info=True)
        return report(f"Internal error: {type(exc).__name__}: {exc}.", "Run with CAIRN_DEBUG=1 for the traceback.",
                      INTERNAL_ERROR, as_json)


def _kind(exc: CairnError) -> str:
    """A stable code for the error's class, e.g. DatabaseBusy -> database_busy."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()


def entry() -> None:
    sys.exit(main())
