"""What every CLI command needs: paths, settings, and a bank opened on first use, closed at exit."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click

from cairn.core import config, paths
from cairn.core.clock import SystemClock
from cairn.core.memory.bank import MemoryBank
from cairn.core.memory.textcheck import decode_utf8


@dataclass
class App:
    paths: paths.Paths
    as_json: bool = False
    _settings: config.Settings | None = None
    _bank: MemoryBank | None = field(default=None, repr=False)

    @property
    def settings(self) -> config.Settings:
        if self._settings is None:
            self._settings = config.load(self.paths.config_file)
        return self._settings

    def bank(self) -> MemoryBank:
        if self._bank is None:
            self._bank = MemoryBank.open(self.paths.database, self.settings, clock=SystemClock(),
                                         models_dir=self.paths.models_dir)
        return self._bank

    def close(self) -> None:
        if self._bank is not None:
            self._bank.close()
            self._bank = None


def get_app() -> App:
    return click.get_current_context().find_object(App)


def setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")


def read_text(text: str | None, file: Path | None, what: str = "text") -> str:
    """The text to use: an argument, '-' (standard input) or a file; always strict UTF-8."""
    if file is not None and text is not None:
        raise click.UsageError(f"Give the {what} as an argument or with --file, not both.")
    if file is not None:
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise click.BadParameter(f"cannot read {file}: {exc.strerror or exc}", param_hint="--file") from exc
        return decode_utf8(data, f"file {file}")
    if text is None or text == "-":
        stream = click.get_binary_stream("stdin")
        if text is None and stream.isatty():
            raise click.UsageError(f"Give the {what} as an argument, with --file, or on standard input ('-').")
        return decode_utf8(stream.read(), "standard input")
    return text


def json_option(f):  # type: ignore[no-untyped-def]
    """--json on a subcommand too (`cairn recall q --json` as well as `cairn --json recall q`)."""
    def turn_on(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.find_object(App).as_json = True
    return click.option("--json", "as_json", is_flag=True, expose_value=False, callback=turn_on,
                        help="Print machine-readable JSON.")(f)
