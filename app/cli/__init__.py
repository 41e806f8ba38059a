"""The `cairn` command line. Thin: parses arguments, calls core, prints results or errors."""
