"""The Settings view, offscreen, against a real daemon: a setting changed in the form and applied
reaches the settings file (and the view says the daemon must restart), and an MCP client's scope
changed in the table reaches the daemon."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QSpinBox  # noqa: E402

from cairn.app.client import Client  # noqa: E402
from cairn.app.gui.settings import SettingsView  # noqa: E402
from cairn.app.gui.tasks import Tasks  # noqa: E402
from cairn.core import Paths, config  # noqa: E402

WAIT = 20_000  # ms


@pytest.fixture
def view(qtbot: Any, daemon: Client, daemon_paths: Paths) -> Iterator[SettingsView]:  # noqa: F811
    shown = SettingsView(Tasks(daemon_paths))
    shown.errors = []  # type: ignore[attr-defined]
    shown.on_error = shown.errors.append  # type: ignore[attr-defined]
    qtbot.addWidget(shown)
    shown.resize(1000, 640)
    shown.show()
    shown.refresh()
    qtbot.waitUntil(lambda: "retention.max_memories" in shown.editors, timeout=WAIT)
    yield shown
    shown.tasks.wait()


def test_the_form_shows_every_setting_with_its_range_and_meaning(view: SettingsView) -> None:
    budget = view.editors["retention.max_memories"]
    assert isinstance(budget, QSpinBox) and budget.minimum() == 0 and budget.value() == 0
    assert budget.text() == "no budget" and "storage budget" in budget.toolTip()
    assert isinstance(view.editors["llm.kv_type"], QComboBox) and view.editors["llm.kv_type"].currentText() == "f16"
    assert isinstance(view.editors["gate.threshold"], QDoubleSpinBox)
    assert view.editors["mcp.default_scope"].currentText() == "read-write"  # type: ignore[union-attr]
    controls = [*view.editors.values(), view.apply_button, view.refresh_button, view.table, view.status]
    assert all(w.accessibleName() for w in controls)
    assert view.editors["retention.max_memories"].accessibleName() == "Memory budget (retention.max_memories)"


def test_apply_writes_the_memory_budget(qtbot: Any, view: SettingsView, daemon: Client, daemon_paths: Paths,
                                        tmp_path: Path) -> None:
    budget = view.editors["retention.max_memories"]
    assert isinstance(budget, QSpinBox)
    budget.setValue(2500)
    assert view.changes() == {"retention.max_memories": 2500}
    view.apply_button.click()
    qtbot.waitUntil(lambda: "Restart the daemon" in view.status.text(), timeout=WAIT)
    assert "retention.max_memories" in view.status.text() and view.errors == []  # type: ignore[attr-defined]
    assert config.load(daemon_paths.config_file).retention.max_memories == 2500
    entry = daemon.request("GET", "/v1/settings")["settings"]["retention"]["max_memories"]
    assert entry["saved"] == 2500 and entry["value"] == 0
    assert view.changes() == {} and budget.value() == 2500
    assert view.grab().save(str(tmp_path / "settings.png"))
    assert QImage(str(tmp_path / "settings.png")).width() >= 600


def test_a_refused_apply_shows_the_daemon_sentence(qtbot: Any, view: SettingsView, daemon_paths: Paths,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    before = daemon_paths.config_file.read_bytes()
    monkeypatch.setattr(view, "changes", lambda: {"gate.threshold": 5, "retention.colour": 1})  # the form cannot
    view.apply_button.click()
    qtbot.waitUntil(lambda: bool(view.errors), timeout=WAIT)  # type: ignore[attr-defined]
    message = str(view.errors[0])  # type: ignore[attr-defined]
    assert "retention.colour" in message and "gate.threshold" in message and view.status.text().startswith("Not saved")
    assert view.apply_button.isEnabled() and daemon_paths.config_file.read_bytes() == before


def test_changing_a_client_scope_in_the_table(qtbot: Any, view: SettingsView, daemon: Client,
                                              daemon_paths: Paths) -> None:
    with Client.for_paths(daemon_paths, client_name="editor-x") as program:
        program.request("POST", "/v1/memories", {"text": "The editor saved my draft notes."})
    view.refresh_clients()
    qtbot.waitUntil(lambda: view.scope_box("editor-x") is not None, timeout=WAIT)
    box = view.scope_box("editor-x")
    assert box is not None and box.currentText() == "read-write" and box.accessibleName() == "Scope of editor-x"
    assert view.table.item(0, 2).text() == "1" and not view.clients_note.isVisible()
    box.setCurrentText("read")

    def scope() -> str:
        return str(next(c["scope"] for c in daemon.request("GET", "/v1/clients")["data"] if c["name"] == "editor-x"))
    qtbot.waitUntil(lambda: scope() == "read", timeout=WAIT)
    qtbot.waitUntil(lambda: "editor-x may now: read" in view.status.text(), timeout=WAIT)
    assert view.errors == []  # type: ignore[attr-defined]
