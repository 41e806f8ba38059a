"""PyInstaller hook: wordfreq reads its lists from ``wordfreq/data``; Cairn needs English only."""

from pathlib import Path

from bundle_files import wordfreq_english
from PyInstaller.utils.hooks import get_package_paths

datas = wordfreq_english(Path(get_package_paths("wordfreq")[1]))
