"""`cairn app`: the window (starting the daemon when none runs), or with ``--screenshot`` one view
rendered to a PNG."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cairn.core import Paths

if TYPE_CHECKING:  # Qt loads only when the app runs (`cairn --help` stays fast)
    from PySide6.QtWidgets import QApplication

    from cairn.app.gui.tasks import Tasks

log = logging.getLogger(__name__)
SETTLE_MS = 400  # a view counts as drawn when no daemon call ran for this long


def offscreen_without_display() -> None:
    """Draw offscreen when there is no display (a screenshot or a benchmark on a server)."""
    if not os.environ.get("QT_QPA_PLATFORM") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform in ("darwin", "win32")):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def ensure_daemon(paths: Paths) -> None:
    from cairn.app.client import running
    from cairn.app.daemon import lifecycle

    if not running(paths):
        lifecycle.start(paths)


def run(paths: Paths, screenshot: Path | None = None, view: str = "chat", asks: tuple[str, ...] = ()) -> int:
    if screenshot is not None:
        offscreen_without_display()
    from PySide6.QtWidgets import QApplication

    from cairn.app.gui.tasks import Tasks
    from cairn.app.gui.window import MainWindow

    ensure_daemon(paths)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Cairn")
    tasks = Tasks(paths)
    errors: list[str] = []
    window = MainWindow(tasks, show_error=(lambda _w, text: errors.append(text)) if screenshot else None)
    if screenshot is not None:
        window.resize(1000, 680)  # the same size every time, whatever the user's saved geometry
    window.show()
    window.show_view(view)
    if screenshot is None:
        return int(app.exec())
    for text in asks:
        window.chat.send(text)
        _settle(app, tasks, lambda: not window.chat.busy)
    window.show_view(view)
    _settle(app, tasks)
    saved = window.grab().save(str(screenshot))
    window.close()
    for text in errors:
        log.warning("while drawing the screenshot: %s", text)
    return 0 if saved else 1


def _settle(app: QApplication, tasks: Tasks, ready: Callable[[], bool] | None = None,
            timeout_s: float = 300.0) -> None:
    """Process events until the daemon calls are done (and ``ready()`` holds)."""
    quiet_since: float | None = None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        app.processEvents()
        idle = tasks.pool.activeThreadCount() == 0 and (ready is None or ready())
        quiet_since = (quiet_since or time.monotonic()) if idle else None
        if quiet_since is not None and time.monotonic() - quiet_since > SETTLE_MS / 1000:
            return
        time.sleep(0.02)
