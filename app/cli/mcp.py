"""`cairn mcp`: the stdio MCP server; `cairn mcp clients` and `cairn mcp scope NAME SCOPE`."""

from __future__ import annotations

import click

from cairn.app.cli.context import get_app, json_option
from cairn.app.cli.output import emit_json
from cairn.app.client import Client, quote_path, running
from cairn.core import iso

SCOPES = ("read", "read-write", "off")


@click.group(invoke_without_command=True)
@click.option("--client", "client_name", help="The name to act under (default: what the MCP client calls itself).")
@click.pass_context
def mcp(ctx: click.Context, client_name: str | None) -> None:
    """Serve Cairn's memory to an MCP client on stdin/stdout (through the daemon, started if needed)."""
    if ctx.invoked_subcommand is not None:
        return
    from cairn.app.mcp.server import serve

    serve(get_app().paths, client_name)


@mcp.command()
@json_option
def clients() -> None:
    """The programs that used your memory: scope, memories written, reads, last seen."""
    app = get_app()
    if running(app.paths):
        with Client.for_paths(app.paths) as client:
            found = client.request("GET", "/v1/clients")["data"]
    else:
        found = [c.to_dict() for c in app.local_bank().clients.list()]
    if app.as_json:
        emit_json(found)
        return
    if not found:
        click.echo("No client has used your memory yet.")
    for c in found:
        click.echo(f"{c['name']:<28} {c['scope']:<10} {c['writes']} written, {c['reads']} reads, "
                   f"last seen {iso(c['last_seen'])}")


@mcp.command()
@click.argument("name")
@click.argument("scope", type=click.Choice(SCOPES))
@json_option
def scope(name: str, scope: str) -> None:
    """Set what client NAME may do: read, read-write or off."""
    app = get_app()
    if running(app.paths):
        with Client.for_paths(app.paths) as client:
            info = client.request("PUT", f"/v1/clients/{quote_path(name)}", {"scope": scope})
    else:
        info = app.local_bank().clients.set_scope(name, scope).to_dict()
    if app.as_json:
        emit_json(info)
    else:
        click.echo(f"{info['name']} may now: {_meaning(info['scope'])}.")


def _meaning(scope: str) -> str:
    return {"read": "search and read your memories", "read-write": "read, remember and forget",
            "off": "nothing"}[scope]

