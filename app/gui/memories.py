"""The memory browser: hybrid search with filters, a detail pane (text, provenance, importance and
its parts, strength, history) and the actions: add, edit, pin, forget, restore, purge (confirmed),
import and export, and importing a chat history (a chat app's export) through the daemon."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from cairn.app.client import Client
from cairn.app.gui.memory_filters import SOURCES, STATES, Filters
from cairn.app.gui.tasks import Tasks, named
from cairn.core import CairnError, iso, parse_when

OnError = Callable[[BaseException], None]
CHAT_FILES = "Chat exports (*.txt *.json);;All files (*)"


class Dialogs:
    """The questions the browser asks the user; tests replace them."""

    def confirm(self, parent: QWidget, title: str, text: str) -> bool:
        answer = QMessageBox.question(parent, title, text)
        return bool(answer == QMessageBox.StandardButton.Yes)

    def text(self, parent: QWidget, title: str, label: str, value: str = "") -> str | None:
        got, ok = QInputDialog.getMultiLineText(parent, title, label, value)
        return got if ok and got.strip() else None

    def open_file(self, parent: QWidget, title: str, kinds: str = "Cairn export (*.jsonl);;All files (*)") -> Path | None:
        name, _ = QFileDialog.getOpenFileName(parent, title, "", kinds)
        return Path(name) if name else None

    def inform(self, parent: QWidget, title: str, text: str) -> None:
        QMessageBox.information(parent, title, text)

    def save_file(self, parent: QWidget, title: str) -> Path | None:
        name, _ = QFileDialog.getSaveFileName(parent, title, "cairn-export.jsonl", "Cairn export (*.jsonl)")
        return Path(name) if name else None


class MemoryBrowser(QWidget):
    open_conversation = Signal(str)  # "jump to the source turn": the conversation a memory came from
    conversations_changed = Signal()  # a chat history was imported: the chat view's list is stale
    def __init__(self, tasks: Tasks, parent: QWidget | None = None, on_error: OnError | None = None,
                 dialogs: Dialogs | None = None) -> None:
        super().__init__(parent)
        self.tasks, self.on_error, self.dialogs = tasks, on_error or tasks.report, dialogs or Dialogs()
        self.current: dict[str, Any] | None = None
        self.shown: list[dict[str, Any]] = []
        self._asked = 0
        self._build()

    def _build(self) -> None:
        self.query = named(QLineEdit(), "Search memories", "Search (meaning, words, dates)...")
        self.query.returnPressed.connect(self.refresh)
        self.state = named(QComboBox(), "Which memories")
        self.state.addItems(STATES)
        self.state.currentIndexChanged.connect(lambda _i: self.refresh())
        self.kind = named(QLineEdit(), "Kind filter", "kind")
        self.source = named(QComboBox(), "Source filter")
        self.source.addItems(SOURCES)
        self.client = named(QLineEdit(), "Written by filter", "written by (you, or a program)")
        self.since = named(QLineEdit(), "From date", "from (YYYY-MM-DD)")
        self.until = named(QLineEdit(), "To date", "to (YYYY-MM-DD)")
        self.pinned = named(QCheckBox("pinned"), "Only pinned memories")
        for edit in (self.kind, self.client, self.since, self.until):
            edit.returnPressed.connect(self.refresh)
        self.source.currentIndexChanged.connect(lambda _i: self.refresh())
        self.pinned.toggled.connect(lambda _on: self.refresh())
        top = QVBoxLayout()
        top.addWidget(self.query)
        row = QHBoxLayout()
        for w in (self.state, self.kind, self.source, self.client, self.since, self.until, self.pinned):
            row.addWidget(w)
        top.addLayout(row)
        self.results = named(QListWidget(), "Memories found")
        self.results.currentItemChanged.connect(lambda item, _old: self._select(item))
        self.detail = named(QTextBrowser(), "Memory details")
        self.detail.setOpenLinks(False)
        self.detail.anchorClicked.connect(self._link)
        split = QSplitter()
        split.addWidget(self.results)
        split.addWidget(self.detail)
        split.setSizes([420, 480])
        self.buttons = {name: named(QPushButton(name), f"{name} memory") for name in
                        ("Add", "Edit", "Pin", "Forget", "Restore", "Purge", "Import", "Export")}
        self.buttons["Import chat"] = named(QPushButton("Import chat..."), "Import a chat history")
        actions = {"Add": self.add, "Edit": self.edit, "Pin": self.pin, "Forget": self.forget,
                   "Restore": self.restore, "Purge": self.purge, "Import": self.import_file, "Export": self.export_file,
                   "Import chat": self.import_chat}
        bar = QHBoxLayout()
        for name, button in self.buttons.items():
            button.clicked.connect(actions[name])
            bar.addWidget(button)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(split)
        lay.addLayout(bar)

    # ---- finding ------------------------------------------------------------------------------

    def filters(self) -> Filters:
        """The filters as set; a date that is not one raises InvalidInput (shown as an error)."""
        def when(edit: QLineEdit) -> float | None:
            return parse_when(edit.text()) if edit.text().strip() else None
        source = SOURCES[self.source.currentIndex()]
        return Filters(STATES[self.state.currentIndex()], self.kind.text().strip(),
                       "" if source == SOURCES[0] else source, self.client.text().strip(), when(self.since),
                       when(self.until), self.pinned.isChecked())

    def refresh(self) -> None:
        query = self.query.text().strip()
        try:
            f = self.filters()
        except CairnError as exc:
            self.on_error(exc)
            return

        def find(c: Client) -> list[dict[str, Any]]:
            if query:
                found = [h["memory"] for h in c.request("POST", "/v1/memories/search", f.search_body(query))["data"]]
            else:
                found = c.request("GET", "/v1/memories", params=f.list_params())["data"]
            return [m for m in found if f.matches(m)]
        self._asked += 1
        asked = self._asked  # a slower, older search must not overwrite a newer one
        self.tasks.run(find, lambda found: self._show(found) if asked == self._asked else None, self.on_error)

    def _link(self, url: QUrl) -> None:
        if url.scheme() == "conversation":
            self.open_conversation.emit(url.path())

    def _show(self, found: list[dict[str, Any]]) -> None:
        self.shown = found
        self.results.clear()
        for m in found:
            mark = " (archived)" if m.get("forgotten_by") == "sweep" else " (forgotten)" if m.get("forgotten_at") else ""
            item = QListWidgetItem(f"#{m['id']}  {'* ' if m['pinned'] else ''}{m['text'][:90]}{mark}")
            item.setData(256, m["id"])
            self.results.addItem(item)
        if found and self.current is None:
            self.results.setCurrentRow(0)  # show the best match's details

    def open(self, memory_id: int) -> None:
        """Show one memory (from a chat badge)."""
        self.tasks.run(lambda c: c.request("GET", f"/v1/memories/{memory_id}/why"), self._detail, self.on_error)

    def _select(self, item: QListWidgetItem | None) -> None:
        if item is not None:
            self.open(int(item.data(256)))

    def _detail(self, why: dict[str, Any]) -> None:
        self.current = why["memory"]
        self.detail.setHtml(detail_html(why))

    # ---- actions ------------------------------------------------------------------------------

    def _act(self, fn: Callable[[Client], Any]) -> None:
        self.tasks.run(fn, lambda _r: self._after(), self.on_error)

    def _after(self) -> None:
        self.refresh()
        if self.current is not None:
            mid = self.current["id"]
            self.tasks.run(lambda c: c.request("GET", f"/v1/memories/{mid}/why"), self._detail, lambda _e: None)

    def add(self) -> None:
        text = self.dialogs.text(self, "Remember", "What should Cairn remember?")
        if text:
            self._act(lambda c: c.request("POST", "/v1/memories", {"text": text}))

    def edit(self) -> None:
        if self.current is not None:
            mid, old = self.current["id"], self.current["text"]
            text = self.dialogs.text(self, "Edit memory", f"Memory #{mid}", old)
            if text and text != old:
                self._act(lambda c: c.request("PATCH", f"/v1/memories/{mid}", {"text": text}))

    def pin(self) -> None:
        if self.current is not None:
            mid, pinned = self.current["id"], not self.current["pinned"]
            self._act(lambda c: c.request("POST", f"/v1/memories/{mid}/pin", {"pinned": pinned}))

    def forget(self) -> None:
        if self.current is not None:
            mid = self.current["id"]
            self._act(lambda c: c.request("POST", f"/v1/memories/{mid}/forget", {"reason": "forgotten in the app"}))

    def restore(self) -> None:
        if self.current is not None:
            mid = self.current["id"]
            self._act(lambda c: c.request("POST", f"/v1/memories/{mid}/restore", {"reason": "restored in the app"}))

    def purge(self) -> None:
        if self.current is None:
            return
        mid = self.current["id"]
        if self.dialogs.confirm(self, "Purge memory", f"Erase memory #{mid} for good? This cannot be undone."):
            self.current = None
            self.detail.setHtml("")
            self._act(lambda c: c.request("DELETE", f"/v1/memories/{mid}"))

    def import_file(self) -> None:
        path = self.dialogs.open_file(self, "Import memories")
        if path is not None:
            self._act(lambda c: c.request("POST", "/v1/import", content=path.read_bytes()))

    def import_chat(self) -> None:
        """A chat app's text export or LoCoMo JSON; the daemon reads it whole, then logs it."""
        path = self.dialogs.open_file(self, "Import a chat history", CHAT_FILES)
        if path is None:
            return

        def done(reply: dict[str, Any]) -> None:
            self._after()
            self.conversations_changed.emit()
            self.dialogs.inform(self, "Chat imported", chat_summary(reply["data"]))

        self.tasks.run(lambda c: c.request("POST", "/v1/conversations/import", params={"name": path.stem},
                                           content=path.read_bytes()), done, self.on_error)

    def export_file(self) -> None:
        path = self.dialogs.save_file(self, "Export memories")
        if path is not None:
            self.tasks.run(lambda c: path.write_text(c.request("GET", "/v1/export"), encoding="utf-8"),
                           None, self.on_error)


def chat_summary(results: list[dict[str, Any]]) -> str:
    """What an import did, a line per conversation."""
    return "\n".join(f"{r['conversation']}: {r['logged']} messages logged, {r['stored']} new memories, "
                     f"{r['joined']} joined the message before, {r['skipped']} lines skipped." for r in results)


def _jump(src: dict[str, Any]) -> str:
    if src["type"] != "conversation" or not src.get("ref"):
        return ""
    return f' · <a href="conversation:{html.escape(src["ref"])}">open the conversation</a>'


def detail_html(why: dict[str, Any]) -> str:
    """A memory's detail pane: text, provenance, importance and its parts, strength, history."""
    m, src = why["memory"], why["memory"]["source"]
    where = " · ".join(str(x) for x in (src["type"], src.get("ref"), src.get("speaker"), iso(src.get("time"))) if x)
    parts = "".join(f"<tr><td>{html.escape(k)}</td><td>{v:+.2f}</td></tr>"
                    for k, v in sorted(why["importance"]["contributions"].items(), key=lambda kv: -abs(kv[1]))[:8])
    history = "".join(f"<li>{iso(h['at'])} {html.escape(h['action'])}"
                      f"{' — ' + html.escape(h['reason']) if h.get('reason') else ''}</li>" for h in why["history"])
    state = "archived" if m.get("forgotten_by") == "sweep" else "forgotten" if m.get("forgotten_at") else "live"
    return (f"<h3>#{m['id']} {html.escape(m['text'])}</h3>"
            f"<p>{state}{', pinned' if m['pinned'] else ''} · kind {html.escape(m['kind'])} · "
            f"written by {html.escape(m.get('client') or 'you')}</p>"
            f"<p><b>From</b> {html.escape(where)}{_jump(src)}</p>"
            f"<p><b>Importance</b> {why['importance']['score']:.2f} · <b>strength</b> {why['strength_days']:.0f} days · "
            f"<b>retention now</b> {why['retention_now']:.2f} · recalled {why['recalls']} times</p>"
            f"<table>{parts}</table><p><b>History</b></p><ul>{history}</ul>")
