"""The desktop app against a real daemon with the bundled model, offscreen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import QUrl  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402

from cairn.app.client import Client  # noqa: E402
from cairn.app.gui.memories import Dialogs  # noqa: E402
from cairn.app.gui.tasks import Tasks  # noqa: E402
from cairn.app.gui.window import MainWindow  # noqa: E402
from cairn.core import Paths  # noqa: E402

WAIT = 120_000  # ms: a first reply loads the model on a busy 2-core machine


class Yes(Dialogs):
    def __init__(self) -> None:
        self.told: list[str] = []
        self.files: list[Path] = []

    def confirm(self, parent: Any, title: str, text: str) -> bool:
        return True

    def open_file(self, parent: Any, title: str, kinds: str = "") -> Path | None:
        return self.files.pop(0) if self.files else None

    def inform(self, parent: Any, title: str, text: str) -> None:
        self.told.append(text)


@pytest.fixture
def window(qtbot: Any, daemon: Client, daemon_paths: Paths) -> MainWindow:
    w = MainWindow(Tasks(daemon_paths), dialogs=Yes(), show_error=lambda _w, _t: None)
    qtbot.addWidget(w)
    w.show()
    return w


def test_chat_streams_and_the_badge_opens_the_memory(qtbot: Any, window: MainWindow, daemon: Client) -> None:
    mid = daemon.request("POST", "/v1/memories", {"text": "My sister Ana lives in Lisbon"})["id"]
    pieces: list[str] = []
    window.chat.streamed.connect(pieces.append)
    with qtbot.waitSignal(window.chat.answered, timeout=WAIT):  # the model's own reply streams token by token
        window.chat.send("What is the capital of France?")
    assert len(pieces) >= 2 and "Memory skipped" in window.chat.transcript.markdown()
    with qtbot.waitSignal(window.chat.answered, timeout=WAIT):  # an answer from memory comes checked, whole
        window.chat.send("Where does my sister live?")
    assert window.errors == []
    assert "lisbon" in window.chat.last_answer.lower()
    page = window.chat.view.toHtml()
    assert f"memory:{mid}" in page and "Memory used" in window.chat.transcript.markdown()
    with qtbot.waitSignal(window.chat.open_memory, timeout=5000) as opened:
        window.chat.view.anchorClicked.emit(QUrl(f"memory:{mid}"))
    assert opened.args == [mid]
    qtbot.waitUntil(lambda: window.memories.current is not None and window.memories.current["id"] == mid, timeout=WAIT)
    assert window.tabs.currentWidget() is window.memories and "Lisbon" in window.memories.detail.toPlainText()


def test_forget_hides_it_from_search_and_restore_brings_it_back(qtbot: Any, window: MainWindow, daemon: Client) -> None:
    mid = daemon.request("POST", "/v1/memories", {"text": "The cabin wifi password is larch-42"})["id"]
    b = window.memories
    window.show_view("memories")
    b.query.setText("cabin wifi password")
    b.refresh()
    qtbot.waitUntil(lambda: [m["id"] for m in b.shown] == [mid], timeout=WAIT)
    b.open(mid)
    qtbot.waitUntil(lambda: b.current is not None, timeout=WAIT)
    b.forget()
    qtbot.waitUntil(lambda: b.shown == [] , timeout=WAIT)
    b.query.setText("")
    b.state.setCurrentIndex(2)  # forgotten
    qtbot.waitUntil(lambda: [m["id"] for m in b.shown] == [mid], timeout=WAIT)
    b.restore()
    qtbot.waitUntil(lambda: daemon.request("GET", f"/v1/memories/{mid}")["forgotten_at"] is None, timeout=WAIT)
    b.purge()  # confirmed by the test's dialogs
    qtbot.waitUntil(lambda: daemon.request("GET", "/v1/memories", params={"state": "all"})["data"] == [], timeout=WAIT)
    assert window.errors == []


def test_screenshot_command_draws_a_view(daemon: Client, daemon_paths: Paths, tmp_path: Path) -> None:
    daemon.request("POST", "/v1/memories", {"text": "I am allergic to penicillin"})
    out = tmp_path / "memories.png"
    proc = subprocess.run([sys.executable, "-m", "cairn.app.cli", "app", "--screenshot", str(out), "--view", "memories"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    image = QImage(str(out))
    assert image.width() >= 800 and image.height() >= 500
    colours = {image.pixel(x, y) for x in range(0, image.width(), 17) for y in range(0, image.height(), 17)}
    assert len(colours) > 5  # not blank


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs Xvfb (apt install xvfb)")
def test_a_real_window_under_xvfb_is_not_blank(daemon: Client, tmp_path: Path) -> None:
    out = tmp_path / "chat.png"
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    proc = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable, "-m", "cairn.app.cli", "app",
                           "--screenshot", str(out), "--view", "chat"], capture_output=True, text=True, timeout=300,
                          env=env)
    if "could not load the Qt platform plugin" in proc.stderr or "no Qt platform plugin" in proc.stderr:
        pytest.skip("the xcb platform's libraries are missing (apt install libxcb-cursor0 ...)")
    assert proc.returncode == 0, proc.stderr[-2000:]
    image = QImage(str(out))
    colours = {image.pixel(x, y) for x in range(0, image.width(), 13) for y in range(0, image.height(), 13)}
    assert image.width() >= 800 and len(colours) > 5


def test_bench_app_reports_startup_and_event_loop_latency(daemon: Client, daemon_paths: Paths) -> None:
    from cairn.app.gui import bench as app_bench

    report = app_bench.run(daemon_paths)
    assert report["reply_chars"] > 0 and report["streaming"]["ticks"] > 0 and report["idle"]["ticks"] >= 200
    assert 0 < report["usable_s"] <= report["process_to_screenshot_s"]


def test_rename_a_conversation(qtbot: Any, daemon: Client, daemon_paths: Paths) -> None:
    daemon.request("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "My cat is called Miso."}],
                                                    "cairn": {"conversation": "pets"}})
    w = MainWindow(Tasks(daemon_paths), show_error=lambda _w, _t: None)
    qtbot.addWidget(w)
    w.chat.ask_name = lambda *_args: "animals"
    w.chat.refresh()
    qtbot.waitUntil(lambda: w.chat.conversations.count() == 1, timeout=WAIT)
    w.chat.conversations.setCurrentRow(0)
    w.chat.rename()
    qtbot.waitUntil(lambda: [c["name"] for c in daemon.request("GET", "/v1/conversations")["data"]] == ["animals"],
                    timeout=WAIT)
    qtbot.waitUntil(lambda: "animals" in w.chat.conversations.item(0).text(), timeout=WAIT)


def test_filters_and_the_jump_to_the_source_conversation(qtbot: Any, window: MainWindow, daemon: Client,
                                                         daemon_paths: Paths) -> None:
    daemon.request("POST", "/v1/memories", {"text": "Dentist with Dr. Reyes on March 21", "kind": "event"})
    daemon.request("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "My cat is called Miso."}],
                                                    "cairn": {"conversation": "pets"}})
    with Client.for_paths(daemon_paths, client_name="editor-x") as c:
        c.request("POST", "/v1/memories", {"text": "Standup is at 9:30 every weekday"})
    b = window.memories
    window.show_view("memories")
    qtbot.waitUntil(lambda: len(b.shown) == 3, timeout=WAIT)
    b.client.setText("editor-x")
    b.refresh()
    qtbot.waitUntil(lambda: [m["text"] for m in b.shown] == ["Standup is at 9:30 every weekday"], timeout=WAIT)
    b.client.setText("")
    b.source.setCurrentIndex(2)  # conversation
    qtbot.waitUntil(lambda: [m["source"]["ref"] for m in b.shown] == ["pets"], timeout=WAIT)
    b.since.setText("not a date")
    b.refresh()
    assert window.errors and "not a date" in window.errors[-1]
    b.since.setText("")
    b.open(b.shown[0]["id"])
    qtbot.waitUntil(lambda: "open the conversation" in b.detail.toPlainText(), timeout=WAIT)
    b.detail.anchorClicked.emit(QUrl("conversation:pets"))
    qtbot.waitUntil(lambda: window.chat.conversation == "pets" and "Miso" in window.chat.transcript.markdown(),
                    timeout=WAIT)
    assert window.tabs.currentWidget() is window.chat


def test_a_chat_history_is_imported_from_the_memory_browser(qtbot: Any, window: MainWindow, daemon: Client,
                                                            tmp_path: Path) -> None:
    chat = tmp_path / "Chat with Ana.txt"
    chat.write_text("29.12.2023, 22:42 - Ana: I moved to Lisbon last week!\n"
                    "29.12.2023, 22:42 - Ana: The flat is in Alfama, near the castle.\n"
                    "29.12.2023, 22:43 - Ben: My cousin lives in Porto.\n", encoding="utf-8")
    dialogs = window.memories.dialogs
    assert isinstance(dialogs, Yes)
    dialogs.files.append(chat)
    window.show_view("memories")
    window.memories.buttons["Import chat"].click()
    qtbot.waitUntil(lambda: bool(dialogs.told), timeout=WAIT)
    assert dialogs.told == ["Chat with Ana: 3 messages logged, 2 new memories, 1 joined the message before, "
                            "0 lines skipped."]
    qtbot.waitUntil(lambda: any("Chat with Ana" in window.chat.conversations.item(i).text()
                                for i in range(window.chat.conversations.count())), timeout=WAIT)
    window.chat.open_conversation("Chat with Ana")
    qtbot.waitUntil(lambda: "**Ben:** My cousin" in window.chat.transcript.markdown(), timeout=WAIT)
    assert "**Ana:** I moved to Lisbon" in window.chat.transcript.markdown()
    dialogs.files.append(chat)  # the same file again: refused, nothing added
    window.memories.buttons["Import chat"].click()
    qtbot.waitUntil(lambda: bool(window.errors), timeout=WAIT)
    assert "Already in the log" in str(window.errors[-1])
    assert len(daemon.request("GET", "/v1/conversations/Chat with Ana")["turns"]) == 3
