"""Cairn's edges: the command line, and later the daemon, its client and the desktop app."""
