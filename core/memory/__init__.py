"""The memory bank: SQLite + sqlite-vec + FTS5, with provenance and history for every memory."""
