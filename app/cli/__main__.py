"""`python -m cairn.app.cli` runs the CLI (same as the `cairn` script)."""

from cairn.app.cli.main import entry

entry()
