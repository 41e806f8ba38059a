"""The main window: Chat, Memories, Forgetting, Models and Settings tabs; tray icon, shortcuts, remembered
geometry, errors as dialogs with the daemon's sentence."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox, QSystemTrayIcon, QTabWidget, QWidget

from cairn.app.gui.chat import ChatView
from cairn.app.gui.forgetting import ForgettingView
from cairn.app.gui.memories import Dialogs, MemoryBrowser
from cairn.app.gui.models import ModelsView
from cairn.app.gui.settings import SettingsView
from cairn.app.gui.tasks import Tasks, named
from cairn.core import CairnError

VIEWS = ("chat", "memories", "forgetting", "models", "settings")


def error_text(error: BaseException) -> str:
    """What the user reads: the daemon's (or Cairn's) sentence and hint; a bug says so, no traceback."""
    if isinstance(error, CairnError):
        return error.message + (f"\n\n{error.hint}" if error.hint else "")
    return f"Something went wrong inside Cairn ({type(error).__name__}). The details are in the log."


class MainWindow(QMainWindow):
    def __init__(self, tasks: Tasks, dialogs: Dialogs | None = None,
                 show_error: Callable[[QWidget, str], None] | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Cairn")
        self.tasks = tasks
        self.errors: list[str] = []  # every error shown, newest last (the tests read it)
        self._show_error = show_error or (lambda parent, text: QMessageBox.warning(parent, "Cairn", text))
        self.chat = ChatView(tasks, on_error=self.error)
        self.memories = MemoryBrowser(tasks, on_error=self.error, dialogs=dialogs)
        self.forgetting = ForgettingView(tasks, on_error=self.error)
        self.models = ModelsView(tasks, on_error=self.error)
        self.settings = SettingsView(tasks, on_error=self.error)
        self.tabs = named(QTabWidget(), "Views")
        for title, view in (("Chat", self.chat), ("Memories", self.memories), ("Forgetting", self.forgetting),
                            ("Models", self.models), ("Settings", self.settings)):
            self.tabs.addTab(view, title)
        self.setCentralWidget(self.tabs)
        self.chat.open_memory.connect(self.open_memory)
        self.memories.open_conversation.connect(self.open_conversation)
        self.memories.conversations_changed.connect(self.chat.refresh)
        self.forgetting.open_memory.connect(self.open_memory)
        self.tabs.currentChanged.connect(lambda _i: self.refresh_current())
        self._shortcuts()
        self._tray()
        self._restore_geometry()

    def _shortcuts(self) -> None:
        for i in range(len(VIEWS)):
            QShortcut(QKeySequence(f"Ctrl+{i + 1}"), self, lambda i=i: self.tabs.setCurrentIndex(i))
        QShortcut(QKeySequence("Ctrl+F"), self, self._search)
        QShortcut(QKeySequence("Ctrl+Q"), self, self.close)

    def _search(self) -> None:
        self.tabs.setCurrentWidget(self.memories)
        self.memories.query.setFocus()

    def _tray(self) -> None:
        self.tray: QSystemTrayIcon | None = None
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        menu = QMenu(self)
        ask = QAction("Quick ask", self)
        ask.triggered.connect(self._quick_ask)
        quit_ = QAction("Quit", self)
        quit_.triggered.connect(self.close)
        menu.addAction(ask)
        menu.addAction(quit_)
        self.tray = QSystemTrayIcon(self.windowIcon(), self)
        self.tray.setContextMenu(menu)
        self.tray.setToolTip("Cairn")
        self.tray.show()

    def _quick_ask(self) -> None:
        self.showNormal()
        self.raise_()
        self.tabs.setCurrentWidget(self.chat)
        self.chat.input.setFocus()

    def show_view(self, name: str) -> None:
        self.tabs.setCurrentIndex(VIEWS.index(name))
        self.refresh_current()

    def refresh_current(self) -> None:
        view = self.tabs.currentWidget()
        refresh = getattr(view, "refresh", None)
        if refresh is not None:
            refresh()

    def open_memory(self, memory_id: int) -> None:
        self.tabs.setCurrentWidget(self.memories)
        self.memories.open(memory_id)

    def open_conversation(self, name: str) -> None:
        self.tabs.setCurrentWidget(self.chat)
        self.chat.open_conversation(name)

    def error(self, error: BaseException) -> None:
        text = error_text(error)
        self.errors.append(text)
        self._show_error(self, text)

    def _restore_geometry(self) -> None:
        saved = QSettings("cairn", "cairn").value("window/geometry")
        if saved is None or not self.restoreGeometry(saved):
            self.resize(1000, 680)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        QSettings("cairn", "cairn").setValue("window/geometry", self.saveGeometry())
        self.chat.stop()
        self.tasks.cancelled.set()
        self.tasks.wait(5000)
        super().closeEvent(event)
