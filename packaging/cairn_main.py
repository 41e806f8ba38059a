"""The bundle's entry script: the one `cairn` executable (CLI, `cairn app`, `cairn mcp`, and the
daemon as `cairn -m cairn.app.daemon`); see cairn.app.cli.launch."""

from cairn.app.cli.launch import entry

entry()
