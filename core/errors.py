"""The one errors module.

Every failure a user can cause or meet is a :class:`CairnError` raised at its source with a
user-safe ``message`` (one sentence, names the problem) and an optional ``hint`` (what to do).
Only the edges (CLI, daemon API, GUI) turn these into words on a screen.
"""

from __future__ import annotations


class CairnError(Exception):
    """Base of every error Cairn raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(CairnError):
    """The user's settings file is unreadable or has invalid values (all listed at once)."""

    def __init__(self, problems: list[str], path: str | None = None) -> None:
        where = f" in {path}" if path else ""
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        message = f"Invalid settings{where} ({count}): " + "; ".join(problems)
        super().__init__(message, hint="Fix or remove those keys; defaults apply to any key left out.")
        self.problems = problems


class InvalidInput(CairnError):
    """Text or arguments that Cairn will not store: empty, oversized, undecodable, malformed."""

    exit_code = 2


class NotFound(CairnError):
    """A memory (or other named thing) that does not exist."""

    exit_code = 3


class StorageError(CairnError):
    """The database cannot be opened, read or written."""

    exit_code = 4


class DatabaseBusy(StorageError):
    """Another connection holds the database in a way that stops this operation finishing."""


class SchemaTooNew(StorageError):
    """The database was written by a newer Cairn than this one."""


class ModelLoadError(CairnError):
    """A model file is missing, truncated, corrupt, or does not match its tokenizer."""

    exit_code = 5


class DownloadError(CairnError):
    """A model download failed or its checksum did not match (nothing was installed)."""

    exit_code = 6


class EmbedderMismatch(StorageError):
    """The database's vectors come from another embedder (or dimension) than the configured one."""


class ContextFullError(CairnError):
    """A prompt longer than the model's whole context window (even after eviction)."""

    exit_code = 7


class ServiceError(CairnError):
    """The Cairn daemon could not be reached, speaks another API version, or refused a request
    (``code``: the stable error code of its reply, "unavailable" when there was no reply)."""

    exit_code = 8

    def __init__(self, message: str, hint: str | None = None, code: str = "unavailable", status: int = 0) -> None:
        super().__init__(message, hint)
        self.code, self.status = code, status


class NotPermitted(CairnError):
    """A client (an MCP client, another program) asked for more than its scope allows."""

    exit_code = 9
