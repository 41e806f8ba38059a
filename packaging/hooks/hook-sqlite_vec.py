"""PyInstaller hook: sqlite-vec's ``vec0`` extension is loaded by SQLite from a path, which
PyInstaller cannot see; collect it beside the package (see ../bundle_files.py)."""

from pathlib import Path

from bundle_files import vec0
from PyInstaller.utils.hooks import get_package_paths

binaries = vec0(Path(get_package_paths("sqlite_vec")[1]))
