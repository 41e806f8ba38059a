"""The Settings view: a form built from ``GET /v1/settings`` (a spin box with its range, or a list
of choices, each with its meaning as a tooltip), **Apply** (``PUT /v1/settings``; the daemon
applies a saved change at its next start, and the view says which ones wait for it), and the MCP
clients: each program that used the bank, its scope (changed at once with ``PUT /v1/clients/{name}``),
its writes and reads and when it was last seen.

Every daemon call goes through :class:`~cairn.app.gui.tasks.Tasks`, never on the GUI thread."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cairn.app.gui.tasks import Tasks, named, row_table

OnError = Callable[[BaseException], None]
Editor = QSpinBox | QDoubleSpinBox | QComboBox
SCOPES = ("read", "read-write", "off")
CLIENT_COLUMNS = ("Client", "Scope", "Writes", "Reads", "Last seen")
TITLES = {"llm": "Chat model", "retention": "Forgetting", "gate": "Memory gate", "daemon": "Daemon",
          "mcp": "Programs (MCP)"}
LABELS = {"llm.n_ctx": "Context size (tokens)", "llm.kv_type": "KV cache type", "llm.eviction": "Eviction policy",
          "retention.max_memories": "Memory budget", "retention.archive_below": "Archive below retention",
          "gate.threshold": "Gate sensitivity", "daemon.keep_alive_s": "Keep the model loaded (s)",
          "mcp.default_scope": "New clients may"}
SPECIAL = {"retention.max_memories": "no budget", "gate.threshold": "fitted", "daemon.keep_alive_s": "always"}
INT_MAX = 2**31 - 1  # a QSpinBox holds an int
COLUMNS = 3  # section boxes per row: the form fits the window's default 1000 pixels


def label(key: str) -> str:
    return LABELS.get(key, key.rsplit(".", 1)[-1].replace("_", " ").capitalize())


def tooltip(key: str, entry: dict[str, Any]) -> str:
    limits = [f"choices: {', '.join(entry['choices'])}"] if "choices" in entry else []
    if "min" in entry and "max" in entry:
        limits.append(f"from {entry['min']:g} to {entry['max']:g}")
    limits.append(f"default {entry['default']}")
    restart = "; takes effect when the daemon restarts" if entry.get("restart") else ""
    return f"{key}: {entry['doc']} ({'; '.join(limits)}{restart})"


def editor(key: str, entry: dict[str, Any]) -> Editor:
    """The control for one setting: a list of choices, or a spin box with the setting's range."""
    box: Editor
    if "choices" in entry:
        box = QComboBox()
        box.addItems([str(c) for c in entry["choices"]])
    elif entry["type"] == "int":
        box = QSpinBox()
        box.setRange(int(max(entry.get("min", -INT_MAX), -INT_MAX)), int(min(entry.get("max", INT_MAX), INT_MAX)))
        box.setGroupSeparatorShown(True)
    else:
        box = QDoubleSpinBox()
        low, high = float(entry.get("min", -1e9)), float(entry.get("max", 1e9))
        box.setDecimals(3 if high - low <= 10 else 0)
        box.setSingleStep(0.01 if high - low <= 10 else 10.0)
        box.setRange(low, high)
    if key in SPECIAL and not isinstance(box, QComboBox):
        box.setSpecialValueText(SPECIAL[key])  # shown at the minimum, which means it
    box.setToolTip(tooltip(key, entry))
    return named(box, f"{label(key)} ({key})")


def value_of(box: Editor) -> Any:
    return box.currentText() if isinstance(box, QComboBox) else box.value()


def set_value(box: Editor, value: Any) -> None:
    if isinstance(box, QComboBox):
        box.setCurrentText(str(value))
    elif isinstance(box, QSpinBox):
        box.setValue(int(value))
    else:
        box.setValue(float(value))


def seen_text(when: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(when)) if when else "never"


class SettingsView(QWidget):
    def __init__(self, tasks: Tasks, parent: QWidget | None = None, on_error: OnError | None = None) -> None:
        super().__init__(parent)
        self.tasks, self.on_error = tasks, on_error or tasks.report
        self.entries: dict[str, dict[str, Any]] = {}  # "section.key": the daemon's latest entry
        self.editors: dict[str, Editor] = {}
        self.clients: list[dict[str, Any]] = []
        self._build()

    def _build(self) -> None:
        self.heading = named(QLabel("Settings: ..."), "Settings file")
        self.heading.setWordWrap(True)
        self.heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.form = QWidget()
        self.grid = QGridLayout(self.form)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.status = named(QLabel(), "Settings status")
        self.status.setWordWrap(True)
        self.apply_button = named(QPushButton("Apply"), "Apply the changed settings")
        self.apply_button.clicked.connect(self.apply)
        self.refresh_button = named(QPushButton("Refresh"), "Reload the settings and clients")
        self.refresh_button.clicked.connect(self.refresh)
        bar = QHBoxLayout()
        bar.addWidget(self.status, 1)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.apply_button)
        lay = QVBoxLayout(self)
        lay.addWidget(self.heading)
        lay.addWidget(self.form)
        lay.addLayout(bar)
        lay.addWidget(self._clients_box(), 1)

    def _clients_box(self) -> QGroupBox:
        box = named(QGroupBox("Programs using your memory (MCP clients)"), "MCP clients")
        self.table = row_table(list(CLIENT_COLUMNS), "MCP clients and their scopes")
        self.clients_note = named(QLabel("No program has used your memory yet."), "MCP clients note")
        lay = QVBoxLayout(box)
        lay.addWidget(self.table)
        lay.addWidget(self.clients_note)
        return box

    # ---- the settings ---------------------------------------------------------------------------

    def refresh(self) -> None:
        self.tasks.run(lambda c: c.request("GET", "/v1/settings"), self._show, self.on_error)
        self.refresh_clients()

    def _show(self, reply: dict[str, Any]) -> None:
        self.heading.setText(f"Settings file: {reply['file']}")
        self.entries = {f"{s}.{k}": e for s, table in reply["settings"].items() for k, e in table.items()}
        if not self.editors:
            self._make_form(reply["settings"])
        for key, box in self.editors.items():
            if key in self.entries:
                set_value(box, self.entries[key]["saved"])
        waiting = self.pending()
        self.status.setText(f"Saved, waiting for a daemon restart (cairn daemon stop, then start): "
                            f"{', '.join(waiting)}." if waiting
                            else "These are the settings the daemon runs with.")

    def _make_form(self, settings: dict[str, dict[str, Any]]) -> None:
        for i, (section, table) in enumerate(settings.items()):
            group = named(QGroupBox(TITLES.get(section, section)), f"{TITLES.get(section, section)} settings")
            form = QFormLayout(group)
            for key, entry in table.items():
                box = self.editors[f"{section}.{key}"] = editor(f"{section}.{key}", entry)
                caption = QLabel(label(f"{section}.{key}"))
                caption.setToolTip(box.toolTip())
                caption.setBuddy(box)
                form.addRow(caption, box)
            self.grid.addWidget(group, i // COLUMNS, i % COLUMNS, Qt.AlignmentFlag.AlignTop)
        for column in range(COLUMNS):
            self.grid.setColumnStretch(column, 1)

    def pending(self) -> list[str]:
        """Saved settings the daemon does not run with yet."""
        return [k for k, e in self.entries.items() if e.get("restart") and e["saved"] != e["value"]]

    def changes(self) -> dict[str, Any]:
        """The settings changed in the form, as ``PUT /v1/settings`` takes them."""
        out = {}
        for key, box in self.editors.items():
            saved = self.entries[key]["saved"]
            if isinstance(box, QDoubleSpinBox):
                saved = round(float(saved), box.decimals())
            if value_of(box) != saved:
                out[key] = value_of(box)
        return out

    def apply(self) -> None:
        changes = self.changes()
        if not changes:
            self.status.setText("Nothing to apply: no setting was changed.")
            return
        self.apply_button.setEnabled(False)
        self.tasks.run(lambda c: c.request("PUT", "/v1/settings", {"changes": changes}), self._applied,
                       self._apply_failed)

    def _applied(self, reply: dict[str, Any]) -> None:
        self.apply_button.setEnabled(True)
        self._show(reply)
        restart = reply.get("restart_needed") or []
        self.status.setText(f"Saved. Restart the daemon to apply: {', '.join(restart)} "
                            "(cairn daemon stop, then start)." if restart else "Saved.")

    def _apply_failed(self, error: BaseException) -> None:
        self.apply_button.setEnabled(True)
        self.status.setText("Not saved: nothing was changed.")
        self.on_error(error)

    # ---- the clients ------------------------------------------------------------------------------

    def refresh_clients(self) -> None:
        self.tasks.run(lambda c: c.request("GET", "/v1/clients"), self._show_clients, self.on_error)

    def _show_clients(self, reply: dict[str, Any]) -> None:
        self.clients = reply["data"]
        self.table.setRowCount(len(self.clients))
        for i, client in enumerate(self.clients):
            name = client["name"]
            cells = (name, "", f"{client['writes']:,}", f"{client['reads']:,}", seen_text(client["last_seen"]))
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j in (2, 3):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, item)
            self.table.setCellWidget(i, 1, self._scope_box(name, client["scope"]))
        self.clients_note.setVisible(not self.clients)

    def _scope_box(self, name: str, scope: str) -> QComboBox:
        box = named(QComboBox(), f"Scope of {name}")
        box.addItems(SCOPES)
        box.setCurrentText(scope)
        box.setToolTip("read: may search and read your memories; read-write: may also add them; off: refused")
        box.currentTextChanged.connect(lambda s: self.set_scope(name, s))
        return box

    def scope_box(self, name: str) -> QComboBox | None:
        row = next((i for i, c in enumerate(self.clients) if c["name"] == name), None)
        box = self.table.cellWidget(row, 1) if row is not None else None
        return box if isinstance(box, QComboBox) else None

    def set_scope(self, name: str, scope: str) -> None:
        def done(client: dict[str, Any]) -> None:
            self.status.setText(f"{client['name']} may now: {client['scope']}.")
            self.refresh_clients()

        def failed(error: BaseException) -> None:
            self.refresh_clients()  # the table shows the scope the daemon kept
            self.on_error(error)
        path = f"/v1/clients/{quote(name, safe='')}"
        self.tasks.run(lambda c: c.request("PUT", path, {"scope": scope}), done, failed)
