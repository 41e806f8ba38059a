"""`cairn mcp`: a stdio MCP server that forwards to the daemon (starting it if needed) and never
opens SQLite. Each MCP client acts under its own scope (see ``cairn.core.memory`` clients)."""
