"""The desktop app (PySide6): a client of the daemon. It starts the daemon when none runs and
never opens the database or loads a model itself. Every daemon call runs off the GUI thread
(:mod:`.tasks`); results come back as signals."""
