"""The Models view, offscreen, against a real daemon and a local, throttled model hub: a pull's
progress bar reaching 100%, cancelling a pull, importing a GGUF and choosing the chat model."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtGui import QImage  # noqa: E402

from cairn.app.client import Client  # noqa: E402
from cairn.app.gui.models import STEPS, ModelsView  # noqa: E402
from cairn.app.gui.tasks import Tasks  # noqa: E402
from cairn.core import Paths, config  # noqa: E402
from cairn.models import tiny_gguf  # noqa: E402
from tests.app.daemon.models_hub import MODEL_ID, Hub, hub_gguf, model_hub  # noqa: E402, F401 - fixtures

WAIT = 20_000  # ms


@dataclass
class Shown:
    view: ModelsView
    hub: Hub
    errors: list[BaseException] = field(default_factory=list)

    def row(self, model: str) -> dict[str, Any]:
        return next(r for r in self.view.models if r["id"] == model)


@pytest.fixture
def shown(qtbot: Any, model_hub: Hub, daemon: Client, daemon_paths: Paths) -> Iterator[Shown]:  # noqa: F811
    s = Shown(ModelsView(Tasks(daemon_paths)), model_hub)
    s.view.on_error = s.errors.append
    qtbot.addWidget(s.view)
    s.view.resize(900, 480)
    s.view.show()
    s.view.refresh()
    qtbot.waitUntil(lambda: any(r["id"] == MODEL_ID for r in s.view.models), timeout=WAIT)
    yield s
    s.view.timer.stop()
    s.view.tasks.wait()


def _shot(view: ModelsView, path: Path) -> None:
    assert view.grab().save(str(path))
    image = QImage(str(path))
    assert image.width() >= 600 and len({image.pixel(x, y) for x in range(0, image.width(), 7)
                                         for y in range(0, image.height(), 7)}) > 4


def test_a_pull_advances_the_progress_bar_to_100_percent(qtbot: Any, shown: Shown, tmp_path: Path) -> None:
    view, seen = shown.view, []
    shown.hub.delay_s = 0.03  # about 2 MB/s: several polls see the bar move
    view.progress.valueChanged.connect(seen.append)
    view.select(MODEL_ID)
    assert view.buttons["Pull"].isEnabled() and not view.buttons["Cancel"].isEnabled()
    view.buttons["Pull"].click()
    qtbot.waitUntil(lambda: view.job is not None and view.job["state"] == "done", timeout=WAIT)
    qtbot.waitUntil(lambda: shown.row(MODEL_ID)["installed"], timeout=WAIT)
    assert view.progress.value() == view.progress.maximum() == STEPS and view.progress.text().startswith("100%")
    assert any(0 < v < STEPS for v in seen), seen  # it advanced, not only jumped
    assert f"Installed {MODEL_ID}" in view.status.text() and shown.errors == []
    assert not view.buttons["Pull"].isEnabled() and view.buttons["Use this model"].isEnabled()
    _shot(view, tmp_path / "models-pulled.png")


def test_cancel_stops_a_pull(qtbot: Any, shown: Shown, daemon: Client, tmp_path: Path) -> None:
    view = shown.view
    shown.hub.delay_s = 0.08  # slow: still running when cancelled
    view.select(MODEL_ID)
    view.buttons["Pull"].click()
    qtbot.waitUntil(lambda: view.job is not None and view.job["done_bytes"] > 0, timeout=WAIT)
    assert view.buttons["Cancel"].isEnabled() and 0 < view.progress.value() < STEPS
    _shot(view, tmp_path / "models-pulling.png")
    view.buttons["Cancel"].click()
    qtbot.waitUntil(lambda: view.job is not None and view.job["state"] == "cancelled", timeout=WAIT)
    assert "cancelled" in view.status.text() and not view.timer.isActive()
    assert view.buttons["Pull"].isEnabled() and not view.buttons["Cancel"].isEnabled()
    rows = {r["id"]: r for r in daemon.request("GET", "/v1/models/catalog")["data"]}
    assert not rows[MODEL_ID]["installed"] and shown.errors == []


def test_import_a_gguf_and_use_it(qtbot: Any, shown: Shown, daemon: Client, daemon_paths: Paths,
                                  tmp_path: Path) -> None:
    view = shown.view
    source = tiny_gguf.write(tmp_path / "pocket.gguf")
    view.choose_file = lambda _parent: source  # no dialog in a test
    view.buttons["Import GGUF..."].click()
    qtbot.waitUntil(lambda: (view.selected() or {}).get("id") == "pocket", timeout=WAIT)
    assert "Imported pocket" in view.status.text() and view.buttons["Use this model"].isEnabled()
    view.buttons["Use this model"].click()
    qtbot.waitUntil(lambda: shown.row("pocket")["active"], timeout=WAIT)
    assert [r["id"] for r in view.models if r["active"]] == ["pocket"] and "pocket" in view.heading.text()
    assert not view.buttons["Use this model"].isEnabled()
    assert config.load(daemon_paths.config_file).llm.model == "pocket"
    assert daemon.request("GET", "/v1/models")["data"][0]["id"] == "pocket.gguf"
    view.choose_file = lambda _parent: None  # the dialog cancelled: nothing happens
    view.buttons["Import GGUF..."].click()
    assert shown.errors == []
