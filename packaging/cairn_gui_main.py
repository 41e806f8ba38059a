"""The entry script of the windowed executable (Windows: cairnw.exe, macOS: the Cairn.app's): the
same Cairn, opening the desktop app when started with no arguments; see cairn.app.cli.launch."""

from cairn.app.cli.launch import gui_entry

gui_entry()
