"""`cairn app`: the desktop app."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import click

from cairn.app.cli.context import FilePath, get_app
from cairn.core import CairnError

VIEWS = ("chat", "memories", "forgetting", "models", "settings")


@click.command("app")
@click.option("--screenshot", type=FilePath(path_type=Path, dir_okay=False),
              help="Render one view to this PNG and exit (offscreen when there is no display).")
@click.option("--view", type=click.Choice(VIEWS), default="chat", show_default=True, help="Which view to open.")
@click.option("--ask", "asks", multiple=True, help="Send this message first (repeatable; with --screenshot).")
def app_cmd(screenshot: Path | None, view: str, asks: tuple[str, ...]) -> None:
    """Open Cairn's window (it starts the daemon if none runs)."""
    if importlib.util.find_spec("PySide6") is None:
        raise CairnError("The desktop app needs PySide6, which is not installed.",
                         hint="pip install 'cairn[gui]' (`make install` installs it).")
    from cairn.app.gui.app import run

    status = run(get_app().paths, screenshot, view, asks)
    if status:
        raise click.exceptions.Exit(status)
