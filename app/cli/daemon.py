"""`cairn daemon start|stop|status|logs|run`."""

from __future__ import annotations

from collections import deque
from typing import Any

import click

from cairn.app.cli.context import get_app, json_option
from cairn.app.cli.output import emit_json
from cairn.app.client import Client, running
from cairn.core import CairnError


@click.group()
def daemon() -> None:
    """The background daemon that owns the model and the memory database (one per user)."""


@daemon.command()
@click.option("--keep-alive", type=click.FloatRange(min=0), help="Seconds the model stays loaded when idle (0: always).")
@click.option("--tcp", "tcp_port", type=click.IntRange(0, 65535),
              help="Also listen on 127.0.0.1:PORT (0: any free port) with a bearer token (the Windows path).")
@json_option
def start(keep_alive: float | None, tcp_port: int | None) -> None:
    """Start the daemon in the background (nothing happens if it runs already)."""
    from cairn.app.daemon import lifecycle

    app = get_app()
    files = lifecycle.Files.of(app.paths)
    if running(app.paths):
        pid = lifecycle.read_pid(files)
        _say(app.as_json, {"started": False, "running": True, "pid": pid}, f"The daemon is already running (PID {pid}).")
        return
    pid = lifecycle.start(app.paths, keep_alive, tcp_port)
    _say(app.as_json, {"started": True, "running": True, "pid": pid, "socket": files.address},
         f"Started the Cairn daemon (PID {pid}) on {files.address}.")


@daemon.command()
@json_option
def stop() -> None:
    """Stop the daemon: it finishes the reply in progress, frees the model and closes the database."""
    from cairn.app.daemon import lifecycle

    app = get_app()
    pid = lifecycle.stop(app.paths)
    _say(app.as_json, {"stopped": pid is not None, "pid": pid},
         f"Stopped the Cairn daemon (PID {pid})." if pid else "The daemon is not running.")


@daemon.command()
@json_option
def status() -> None:
    """Whether the daemon runs, its PID, socket, version and what it holds."""
    from cairn.app.daemon import lifecycle

    app = get_app()
    files = lifecycle.Files.of(app.paths)
    facts: dict[str, Any] = {"running": False, "pid": lifecycle.read_pid(files), "socket": files.address, "version": None,
             "log": str(files.log)}
    if running(app.paths):
        try:
            with Client.for_paths(app.paths) as client:
                facts |= {"running": True, **client.check_version()}
        except CairnError as exc:
            facts["error"] = exc.message
    if app.as_json:
        emit_json(facts)
        return
    if not facts["running"]:
        click.echo("The Cairn daemon is not running." + (f" ({facts['error']})" if "error" in facts else ""))
        return
    model = "loaded" if facts["model_loaded"] else "not loaded (loads on first use)"
    live = facts["memories"].get("live", 0)
    click.echo(f"Running: PID {facts['pid']}, version {facts['version']} (API {facts['api_version']}), "
               f"socket {facts['socket']}\nModel {model}; {live} live memories; up {facts['uptime_s']:.0f} s.")


@daemon.command()
@click.option("-n", "lines", type=click.IntRange(min=1), default=50, show_default=True, help="How many last lines.")
def logs(lines: int) -> None:
    """Show the end of the daemon's log."""
    from cairn.app.daemon import lifecycle

    path = lifecycle.Files.of(get_app().paths).log
    if not path.exists():
        click.echo(f"No daemon log yet ({path}).")
        return
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in deque(fh, maxlen=lines):
            click.echo(line.rstrip("\n"))


@daemon.command()
@click.option("--keep-alive", type=click.FloatRange(min=0), help="Seconds the model stays loaded when idle.")
@click.option("--tcp", "tcp_port", type=click.IntRange(0, 65535), help="Also listen on 127.0.0.1:PORT with a token.")
def run(keep_alive: float | None, tcp_port: int | None) -> None:
    """Run the daemon in the foreground (for a service manager; logs go to the daemon log)."""
    from cairn.app.daemon import lifecycle

    app = get_app()
    lifecycle.setup_log(lifecycle.Files.of(app.paths))
    keep = keep_alive if keep_alive is not None else app.settings.daemon.keep_alive_s
    lifecycle.serve(app.paths, app.settings, keep, tcp_port)


def _say(as_json: bool, data: dict[str, object], text: str) -> None:
    if as_json:
        emit_json(data)
    else:
        click.echo(text)


@daemon.command()
@json_option
def install() -> None:
    """Run the daemon at login as a user service (systemd on Linux, launchd on macOS; Windows: prints the steps)."""
    from cairn.app.daemon import lifecycle, service

    app = get_app()
    report = service.install(where=app.paths, running_pid=lifecycle.read_pid(lifecycle.Files.of(app.paths)))
    _say(app.as_json, report.as_dict(), report.describe())


@daemon.command()
@json_option
def uninstall() -> None:
    """Stop the daemon's user service and remove what `cairn daemon install` wrote."""
    from cairn.app.daemon import service

    app = get_app()
    report = service.uninstall()
    _say(app.as_json, report.as_dict(), report.describe())

