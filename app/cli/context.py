"""What every CLI command needs: paths, settings, and a bank opened on first use, closed at exit."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import click

from cairn.app.client import Client, running
from cairn.app.remote import RemoteBank
from cairn.core import InvalidInput, ServiceError, SystemClock, config, paths
from cairn.core.memory import MemoryBank, MemoryId, decode_utf8


@dataclass
class App:
    paths: paths.Paths
    as_json: bool = False
    _settings: config.Settings | None = None
    _bank: MemoryBank | RemoteBank | None = field(default=None, repr=False)

    @property
    def settings(self) -> config.Settings:
        if self._settings is None:
            self._settings = config.load(self.paths.config_file)
        return self._settings

    def bank(self) -> MemoryBank | RemoteBank:
        """The user's bank: through the daemon when one runs (so the CLI never opens the database
        beside it), else opened in this process."""
        if self._bank is None:
            if running(self.paths):
                self._bank = RemoteBank(Client.for_paths(self.paths))
            else:
                self._bank = self.local_bank()
        return self._bank

    def local_bank(self) -> MemoryBank:
        """The bank opened in this process; refused while a daemon owns the database."""
        if running(self.paths):
            raise ServiceError("The Cairn daemon is running and owns the memory database; this command works only "
                               "without it.", hint="Stop it first (`cairn daemon stop`), then run the command again.",
                               code="daemon_running")
        if not isinstance(self._bank, MemoryBank):
            paths.secure(self.paths)  # an older install's folders and files become private
            self._bank = MemoryBank.open(self.paths.database, self.settings, clock=SystemClock(),
                                         models_dir=self.paths.models_dir)
        return self._bank

    def close(self) -> None:
        if self._bank is not None:
            self._bank.close()
            self._bank = None


class FilePath(click.Path):
    """click.Path that also refuses a name with a NUL character (the OS cannot open it)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and "\x00" in value:
            self.fail("a file name cannot contain a NUL character", param, ctx)
        return super().convert(value, param, ctx)


class OutputFile(FilePath):
    """A file a command will write, its folder checked before the command's work starts: a long run
    should not end in a path it cannot write."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = super().convert(value, param, ctx)
        folder = Path(path).expanduser().parent
        if not folder.is_dir():
            self.fail(f"the folder {folder} does not exist", param, ctx)
        return path


OUTPUT_FILE = OutputFile()


class MemoryIdType(click.ParamType[MemoryId]):
    """A memory id on the command line: a whole number, typed as :class:`MemoryId`."""

    name = "id"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> MemoryId:
        try:
            return MemoryId(int(value))
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a memory id (a whole number, as `cairn memories list` shows)", param, ctx)


MEMORY_ID = MemoryIdType()


def get_app() -> App:
    app = click.get_current_context().find_object(App)
    if app is None:  # pragma: no cover - every command runs under the `cairn` group, which makes one
        raise click.UsageError("Cairn's commands run under `cairn`.")
    return app


def setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")


def read_text(text: str | None, file: Path | None, what: str = "text", limit: int | None = None) -> str:
    """The text to use: an argument, '-' (standard input) or a file; always strict UTF-8. With a
    ``limit`` in bytes, reading stops just past it (a huge or endless input is refused, not read)."""
    if file is not None and text is not None:
        raise click.UsageError(f"Give the {what} as an argument or with --file, not both.")
    if file is not None:
        try:
            with file.open("rb") as fh:
                data = _read_bounded(fh, limit, f"file {file}")
        except OSError as exc:
            raise click.BadParameter(f"cannot read {file}: {exc.strerror or exc}", param_hint="--file") from exc
        return decode_utf8(data, f"file {file}")
    if text is None or text == "-":
        stream = sys.stdin.buffer
        if text is None and stream.isatty():
            raise click.UsageError(f"Give the {what} as an argument, with --file, or on standard input ('-').")
        return decode_utf8(_read_bounded(stream, limit, "standard input"), "standard input")
    return text


def _read_bounded(stream: BinaryIO, limit: int | None, where: str) -> bytes:
    data = stream.read() if limit is None else stream.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise InvalidInput(f"The {where} is more than {limit:,} bytes long; the limit is {limit:,} bytes.",
                           hint="Shorten it, or raise the limit in the settings; nothing was stored.")
    return data


def read_lines(path: Path, max_line: int) -> Iterator[bytes]:
    """The lines of a file (or '-', standard input), one at a time; a line longer than
    ``max_line`` bytes is refused without reading it all."""
    try:
        opened = contextlib.nullcontext(sys.stdin.buffer) if str(path) == "-" else path.open("rb")
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror or exc}", param_hint="PATH") from exc
    with opened as stream:
        number = 0
        while True:
            number += 1
            line = stream.readline(max_line + 1)
            if not line:
                return
            if len(line) > max_line and not line.endswith(b"\n"):
                raise InvalidInput(f"Line {number} of {path} is longer than {max_line:,} bytes: not a Cairn export.",
                                   hint="Nothing was imported.")
            yield line


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """--json on a subcommand too (`cairn recall q --json` as well as `cairn --json recall q`)."""
    def turn_on(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            get_app().as_json = True
    return click.option("--json", "as_json", is_flag=True, expose_value=False, callback=turn_on,
                        help="Print machine-readable JSON.")(f)
