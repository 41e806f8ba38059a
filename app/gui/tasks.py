"""Daemon calls off the GUI thread, results back as signals (after Anki's ``taskman``).

``Tasks.run(fn, done, failed)`` runs ``fn(client)`` on a worker thread with its own
:class:`~cairn.app.client.Client` and calls ``done(result)`` (or ``failed(error)``) on the GUI
thread. ``Tasks.stream(fn, item, done, failed)`` does the same for a generator, delivering each
item as it comes (a reply's tokens). A call is never made on the GUI thread, so the window never
freezes; an error reaches the view as a :class:`~cairn.core.CairnError` (its sentence is what the
user sees) or, for a bug, as the exception.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QWidget

from cairn.app.client import Client
from cairn.app.gui import qt_none
from cairn.core import Paths

log = logging.getLogger(__name__)
Done = Callable[[Any], None]
W = TypeVar("W", bound=QWidget)
Failed = Callable[[BaseException], None]


class _Relay(QObject):
    """Carries a worker's results to the GUI thread (signals cross threads as queued calls)."""

    item = Signal(object)
    done = Signal(object)
    failed = Signal(object)


class _Job(QRunnable):
    def __init__(self, work: Callable[[], Any], relay: _Relay, streaming: bool) -> None:
        super().__init__()
        self.work, self.relay, self.streaming = work, relay, streaming

    def run(self) -> None:
        try:
            result = self.work()
            if self.streaming:
                for piece in result:
                    self.relay.item.emit(piece)
                result = None
        except BaseException as exc:  # noqa: BLE001 - every failure goes to the view as a signal
            log.debug("task failed", exc_info=True)
            self.relay.failed.emit(exc)
            return
        self.relay.done.emit(result)


class Tasks(QObject):
    """Runs daemon calls on a small thread pool; one per window."""

    def __init__(self, paths: Paths, parent: QObject | None = None) -> None:
        super().__init__(parent)
        qt_none.protect()  # every view is built on Tasks: guard CPython 3.11 against PySide6's None leak first
        self.paths = paths
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(4)
        self._relays: set[_Relay] = set()
        self.cancelled = threading.Event()  # set when the window closes: streams stop

    def run(self, fn: Callable[[Client], Any], done: Done | None = None, failed: Failed | None = None) -> None:
        self._start(lambda: self._call(fn), False, None, done, failed)

    def stream(self, fn: Callable[[Client], Iterator[Any]], item: Done, done: Done | None = None,
               failed: Failed | None = None) -> None:
        def gen() -> Iterator[Any]:
            with Client.for_paths(self.paths) as client:
                for piece in fn(client):
                    if self.cancelled.is_set():
                        return
                    yield piece
        self._start(gen, True, item, done, failed)

    def _call(self, fn: Callable[[Client], Any]) -> Any:
        with Client.for_paths(self.paths) as client:
            return fn(client)

    def _start(self, work: Callable[[], Any], streaming: bool, item: Done | None, done: Done | None,
               failed: Failed | None) -> None:
        relay = _Relay()
        self._relays.add(relay)  # kept alive until the job reports
        if item is not None:
            relay.item.connect(item)
        relay.done.connect(lambda r: self._finish(relay, done, r))
        relay.failed.connect(lambda e: self._finish(relay, failed or self.report, e))
        self.pool.start(_Job(work, relay, streaming))

    def _finish(self, relay: _Relay, then: Done | Failed | None, value: Any) -> None:
        self._relays.discard(relay)
        if then is not None:
            then(value)

    def report(self, error: BaseException) -> None:
        """Default failure handler: the window replaces it with an error dialog."""
        log.warning("daemon call failed: %s", error)

    def wait(self, msecs: int = 30_000) -> bool:
        """Wait for running calls (tests, shutdown)."""
        return bool(self.pool.waitForDone(msecs))


def row_table(columns: list[str], name: str) -> QTableWidget:
    """A read-only table selected by rows, its first column stretched, the others fitted."""
    table = named(QTableWidget(0, len(columns)), name)
    table.setHorizontalHeaderLabels(columns)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    return table


def named(widget: W, name: str, placeholder: str | None = None) -> W:
    """``widget`` with its accessible name (what a screen reader says) and placeholder text."""
    widget.setAccessibleName(name)
    if placeholder is not None:
        widget.setProperty("placeholderText", placeholder)
    return widget
