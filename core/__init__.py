"""Cairn core: memory bank, configuration and paths. No UI, no web server, no CLI."""
