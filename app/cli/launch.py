"""The process entry point of the `cairn` script and of the bundled executable.

Two things happen here before the command line is imported (about 0.6 s of imports):
``cairn --version`` is answered at once, and, in a frozen bundle (PyInstaller), where
``sys.executable`` is Cairn itself rather than a Python, ``cairn -m cairn.app.daemon ...`` runs the
daemon, so `cairn daemon start`, `cairn daemon install` and the desktop app, which spawn
``sys.executable -m cairn.app.daemon``, work unchanged from the bundle.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

# What a bundle runs for ``-m MODULE``: Cairn's own runnable modules, nothing else.
MODULES = ("cairn.app.daemon", "cairn.app.cli")


def version_line() -> str:
    """What ``cairn --version`` prints (the same words as click's version option)."""
    from importlib.metadata import version

    return f"cairn, version {version('cairn')}"


def frozen() -> bool:
    """Whether this process is a bundled executable (PyInstaller sets ``sys.frozen``)."""
    return bool(getattr(sys, "frozen", False))


def module_main(name: str) -> Callable[[list[str]], int]:
    """The ``main(argv) -> status`` of one of :data:`MODULES`."""
    if name == "cairn.app.daemon":
        from cairn.app.daemon.__main__ import main as daemon_main

        return daemon_main
    from cairn.app.cli.main import main

    return main


def run(argv: list[str]) -> int:
    """Run Cairn with ``argv`` (the arguments after the program name); the exit status."""
    if argv == ["--version"]:
        sys.stdout.write(version_line() + "\n")
        return 0
    if frozen() and len(argv) >= 2 and argv[0] == "-m":
        if argv[1] not in MODULES:
            sys.stderr.write(f"Error: this Cairn bundle runs only {', '.join(MODULES)} with -m, not {argv[1]!r}.\n")
            return 2
        return module_main(argv[1])(argv[2:])
    from cairn.app.cli.main import main

    return main(argv)


def entry() -> None:
    sys.exit(run(sys.argv[1:]))


def gui_entry() -> None:
    """The windowed executable of the Windows and macOS bundles (cairnw.exe, Cairn.app): the same,
    except that started with no arguments (from a menu, a shortcut, the Finder) it opens the app."""
    args = [a for a in sys.argv[1:] if not a.startswith("-psn_")]  # old macOS Finders add -psn_0_NNN
    sys.exit(run(args or ["app"]))
