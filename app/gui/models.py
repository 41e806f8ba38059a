"""The Models view: the bundled, installed and catalog models (size, licence, installed, active),
**Pull** with a progress bar and **Cancel**, **Import GGUF...** and **Use this model**.

Every daemon call goes through :class:`~cairn.app.gui.tasks.Tasks`, never on the GUI thread: a pull
starts a download job in the daemon (``POST /v1/models/pull``) and a timer polls its state
(``GET /v1/models/jobs/{job}``) until it is done, failed or cancelled."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cairn.app.client import Client
from cairn.app.gui.tasks import Tasks, named, row_table
from cairn.core import CairnError

OnError = Callable[[BaseException], None]
ChooseFile = Callable[[QWidget], Path | None]
COLUMNS = ("Model", "Size", "Licence", "Installed", "Active")
POLL_MS = 250
STEPS = 1000  # the progress bar's range: bytes do not fit its int, a tenth of a percent does
ID_ROLE = Qt.ItemDataRole.UserRole


def size_text(size: int | None) -> str:
    if size is None:
        return "?"
    if size >= 1_000_000_000:
        return f"{size / 1e9:.1f} GB"
    return f"{size / 1e6:.1f} MB" if size < 10_000_000 else f"{size / 1e6:.0f} MB"


def installed_text(row: dict[str, Any]) -> str:
    if row["bundled"]:
        return "Bundled" if row["installed"] else "Not installed"
    return ("Imported" if row["source"] == "imported" else "Installed") if row["installed"] else "Not installed"


def heading(models: list[dict[str, Any]], setting: str) -> str:
    """What the daemon chats with: the active model, a GGUF path the settings name, or nothing."""
    active = next((r for r in models if r["active"]), None)
    if active is not None:
        return str(active["name"])
    return "none (memory-only)" if setting in ("", "auto", "none") else setting


def choose_gguf(parent: QWidget) -> Path | None:
    """Ask for a GGUF file (the view's default; tests give their own)."""
    name, _ = QFileDialog.getOpenFileName(parent, "Import a GGUF model", "", "GGUF models (*.gguf);;All files (*)")
    return Path(name) if name else None


class ModelsView(QWidget):
    def __init__(self, tasks: Tasks, parent: QWidget | None = None, on_error: OnError | None = None) -> None:
        super().__init__(parent)
        self.tasks, self.on_error = tasks, on_error or tasks.report
        self.choose_file: ChooseFile = choose_gguf
        self.models: list[dict[str, Any]] = []
        self.job: dict[str, Any] | None = None  # the latest pull's state, as the daemon last reported it
        self._polling = False
        self._want: str | None = None  # the model to select once the list comes back
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self._poll)
        self._build()

    def _build(self) -> None:
        self.heading = named(QLabel("Chat model: ..."), "Active chat model")
        bold = self.heading.font()
        bold.setBold(True)
        self.heading.setFont(bold)
        self.table = row_table(list(COLUMNS), "Models")
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.itemSelectionChanged.connect(self._selected)
        self.detail = named(QLabel(), "Model details")
        self.detail.setWordWrap(True)
        self.progress = named(QProgressBar(), "Download progress")
        self.progress.setRange(0, STEPS)
        self.progress.setValue(0)
        self.progress.setFormat("No download")
        self.status = named(QLabel(), "Download status")
        lay = QVBoxLayout(self)
        for w in (self.heading, self.table, self.detail, self.progress, self.status):
            lay.addWidget(w)
        lay.addLayout(self._buttons())

    def _buttons(self) -> QHBoxLayout:
        self.buttons = {
            "Pull": named(QPushButton("Pull"), "Pull the selected model"),
            "Cancel": named(QPushButton("Cancel"), "Cancel the download"),
            "Import GGUF...": named(QPushButton("Import GGUF..."), "Import a GGUF model file"),
            "Use this model": named(QPushButton("Use this model"), "Use the selected model for chat"),
            "Refresh": named(QPushButton("Refresh"), "Refresh the model list")}
        actions = {"Pull": self.pull, "Cancel": self.cancel, "Import GGUF...": self.import_file,
                   "Use this model": self.use_selected, "Refresh": self.refresh}
        bar = QHBoxLayout()
        for name, button in self.buttons.items():
            button.clicked.connect(actions[name])
            bar.addWidget(button)
        bar.insertStretch(2)
        self._enable()
        return bar

    # ---- the list -----------------------------------------------------------------------------

    def refresh(self) -> None:
        self.tasks.run(lambda c: c.request("GET", "/v1/models/catalog"), self._show, self.on_error)

    def _show(self, reply: dict[str, Any]) -> None:
        keep = self.selected()
        self.models = reply["data"]
        self.table.setRowCount(len(self.models))
        for i, row in enumerate(self.models):
            cells = (row["name"], size_text(row["size_bytes"]), row["licence"] or "—", installed_text(row),
                     "Active" if row["active"] else "")
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(ID_ROLE, row["id"])
                item.setToolTip(row["note"])
                font = item.font()
                font.setBold(bool(row["active"]))
                item.setFont(font)
                if j == 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, item)
        self.heading.setText("Chat model: " + heading(self.models, str(reply.get("setting", ""))))
        want, self._want = self._want or (keep["id"] if keep is not None else None), None
        if want is not None:
            self.select(want)
        self._selected()

    def selected(self) -> dict[str, Any] | None:
        rows = self.table.selectionModel().selectedRows()
        return self.models[rows[0].row()] if rows and rows[0].row() < len(self.models) else None

    def select(self, model: str) -> None:
        for i, row in enumerate(self.models):
            if row["id"] == model:
                self.table.selectRow(i)

    def _selected(self) -> None:
        row = self.selected()
        if row is None:
            self.detail.setText("Select a model to see what it is.")
        else:
            where = f"File: {row['path']}" if row["path"] else f"About {size_text(row['size_bytes'])} to download."
            context = f"Context: {row['context']:,} tokens. " if row["context"] else ""
            self.detail.setText(f"<b>{row['id']}</b>: {row['note']}<br>{context}{where}")
        self._enable()

    def _enable(self) -> None:
        row, running = self.selected(), self.running
        self.buttons["Pull"].setEnabled(bool(row and row["source"] == "catalog" and not row["installed"]) and not running)
        self.buttons["Cancel"].setEnabled(running)
        self.buttons["Use this model"].setEnabled(bool(row and row["installed"] and not row["active"]))

    # ---- pulling ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.job is not None and self.job["state"] == "running"

    def pull(self) -> None:
        row = self.selected()
        if row is None or self.running:
            return
        model = row["id"]
        self.tasks.run(lambda c: c.request("POST", "/v1/models/pull", {"id": model}),
                       lambda reply: self._started(model, reply["job"]), self.on_error)

    def _started(self, model: str, job: str) -> None:
        self.job = {"job": job, "id": model, "state": "running", "done_bytes": 0, "total_bytes": None}
        self.progress.setValue(0)
        self._progress(dict(self.job))
        self.timer.start()

    def _poll(self) -> None:
        if self._polling or self.job is None:
            return
        self._polling, job = True, self.job["job"]
        self.tasks.run(lambda c: c.request("GET", f"/v1/models/jobs/{job}"), self._polled, self._poll_failed)

    def _polled(self, job: dict[str, Any]) -> None:
        self._polling = False
        self._progress(job)

    def _poll_failed(self, error: BaseException) -> None:
        self._polling = False
        self.timer.stop()
        self.on_error(error)

    def _progress(self, job: dict[str, Any]) -> None:
        current = self.job
        if current is not None and (current["job"] != job["job"] or current["state"] != "running"):
            return  # a poll answered after its job ended (a cancel's reply came first) or another began
        self.job = job
        done, total = job["done_bytes"], job["total_bytes"]
        if job["state"] == "done":
            total = done = total or done
        if total:
            self.progress.setRange(0, STEPS)
            self.progress.setValue(min(STEPS, done * STEPS // total))
            self.progress.setFormat(f"%p%  ({size_text(done)} of {size_text(total)})")
        elif job["state"] == "running":
            self.progress.setRange(0, 0)  # busy: the size is not known yet
        self.status.setText(self._status_text(job))
        if job["state"] != "running":
            self._ended(job)
        self._enable()

    def _status_text(self, job: dict[str, Any]) -> str:
        error = job.get("error") or {}
        return {"running": f"Downloading {job['id']}{' (cancelling)' if job.get('cancelling') else ''}...",
                "done": f"Installed {job['id']}.", "cancelled": f"Download of {job['id']} cancelled; pulling "
                                                             "it again resumes where it stopped.",
                "failed": f"Download of {job['id']} failed: {error.get('message', '')}"}.get(job["state"], "")

    def _ended(self, job: dict[str, Any]) -> None:
        self.timer.stop()
        if self.progress.maximum() == 0:
            self.progress.setRange(0, STEPS)
        if job["state"] == "done":
            self.refresh()
        elif job["state"] == "failed":
            error = job.get("error") or {}
            self.on_error(CairnError(error.get("message", "The download failed."), error.get("hint") or None))

    def cancel(self) -> None:
        if self.job is None or not self.running:
            return
        job = self.job["job"]
        self.tasks.run(lambda c: c.request("DELETE", f"/v1/models/jobs/{job}"), self._progress, self.on_error)

    # ---- importing and choosing -----------------------------------------------------------------

    def import_file(self) -> None:
        path = self.choose_file(self)
        if path is None:
            return

        def imported(row: dict[str, Any]) -> None:
            self.status.setText(f"Imported {row['id']} from {path.name}.")
            self._want = row["id"]
            self.refresh()
        self.tasks.run(lambda c: c.request("POST", "/v1/models/import", {"path": str(path)}), imported, self.on_error)

    def use_selected(self) -> None:
        row = self.selected()
        if row is None or not row["installed"]:
            return
        model = row["id"]

        def use(c: Client) -> Any:
            return c.request("PUT", "/v1/models/active", {"id": model})
        self.tasks.run(use, self._used, self.on_error)

    def _used(self, row: dict[str, Any]) -> None:
        self.status.setText(f"Cairn now chats with {row['name']}; the next turn loads it.")
        self.refresh()
