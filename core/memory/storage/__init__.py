"""Storage: the memory database and everything that touches its files.

Owns opening a connection (driver choice, extensions, pragmas, migrations: ``db``,
``migrations``), all SQL (``store`` for memories, vectors, full text and history;
``store_retention`` for the conversation log, sweeps and consolidation), the plain values the
bank hands out (``records``), checking text and column values before a write (``textcheck``,
``columns``), erasing for good (``erase``) and export/import (``transfer``, ``export_format``).
Nothing outside this package writes SQL.
"""
