"""The Cairn daemon: the one process that owns the model and writes the memory database while it
runs, serving a local socket API (OpenAI-compatible chat plus a memory API) to the CLI, the GUI,
the MCP bridge and any OpenAI client. ``engine`` owns the core objects, ``routes_*`` the API,
``server`` the ASGI app and its socket, ``lifecycle`` start/stop/status."""
