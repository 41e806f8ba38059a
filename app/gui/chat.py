"""The chat view: conversations on the left, the transcript on the right, each answer streamed as it
arrives and followed by its badge: memory used or skipped (the gate's reason) and which memories,
as links that open them in the memory browser."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from cairn.app.client import Client, quote_path
from cairn.app.gui.tasks import Tasks, named
from cairn.core import iso

OnError = Callable[[BaseException], None]
AskName = Callable[[QWidget, str, str, str], "str | None"]


def _ask_name(parent: QWidget, title: str, label: str, value: str) -> str | None:
    text, ok = QInputDialog.getText(parent, title, label, text=value)
    return text if ok else None


class Transcript:
    """The conversation as shown, in Markdown (the model's answers may hold lists and code):
    past turns, the answer streaming now, and a badge under each answer."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.streaming = ""

    def markdown(self) -> str:
        live = [f"**Cairn:** {self.streaming}"] if self.streaming else []
        return "\n\n".join(self.parts + live)

    def user(self, text: str, speaker: str | None = None) -> None:
        """A turn of yours, or of ``speaker`` in a conversation with several (an imported chat)."""
        self.parts.append(f"**{_escape(speaker) if speaker else 'You'}:** {_escape(text)}")

    def answer(self, text: str, ext: dict[str, Any] | None) -> None:
        self.streaming = ""
        self.parts.append(f"**Cairn:** {text}")
        if ext:
            self.parts.append(badge(ext))


def _escape(text: str) -> str:
    """The user's words shown as typed, not read as Markdown."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!<>|~])", r"\\\1", text)


def badge(ext: dict[str, Any]) -> str:
    """The line under an answer: memory used or skipped, the gate's reason, links to the memories."""
    gate = ext.get("gate") or {}
    links = ", ".join(f"[#{q['id']}](memory:{q['id']})" for q in ext.get("quotes", []))
    if ext.get("used"):
        head = f"Memory used: {links}"
    else:
        head = "Memory searched, nothing close enough" if gate.get("retrieve") else "Memory skipped"
    why = _escape(str(gate.get("reason", "")))
    note = f" *{_escape(ext['note'])}*" if ext.get("note") else ""
    return f"> {head} ({why}).{note}"


class ChatView(QWidget):
    open_memory = Signal(int)  # a memory link under an answer was clicked
    streamed = Signal(str)  # a piece of the reply arrived
    answered = Signal(str)  # the reply is complete (its text)

    def __init__(self, tasks: Tasks, parent: QWidget | None = None, on_error: OnError | None = None,
                 ask_name: AskName | None = None) -> None:
        super().__init__(parent)
        self.tasks, self.on_error = tasks, on_error or tasks.report
        self.ask_name = ask_name or _ask_name
        self.conversation = _new_name()
        self.transcript = Transcript()
        self.last_question = ""
        self.last_answer = ""
        self._stop = threading.Event()
        self.busy = False
        self._asked = 0
        self._build()

    def _build(self) -> None:
        self.conversations = named(QListWidget(), "Conversations")
        self.conversations.itemActivated.connect(self._resume)
        self.new_button = named(QPushButton("New"), "New conversation")
        self.new_button.clicked.connect(self.new_conversation)
        self.delete_button = named(QPushButton("Delete"), "Delete conversation")
        self.delete_button.clicked.connect(self._delete)
        self.rename_button = named(QPushButton("Rename"), "Rename conversation")
        self.rename_button.clicked.connect(self.rename)
        left = QWidget()
        lay = QVBoxLayout(left)
        lay.addWidget(self.conversations)
        row = QHBoxLayout()
        row.addWidget(self.new_button)
        row.addWidget(self.rename_button)
        row.addWidget(self.delete_button)
        lay.addLayout(row)
        self.view = named(QTextBrowser(), "Transcript")
        self.view.setOpenLinks(False)
        self.view.anchorClicked.connect(self._link)
        self.input = named(QLineEdit(), "Message", "Say something, or ask about your life...")
        self.input.returnPressed.connect(self.send)
        self.send_button = named(QPushButton("Send"), "Send")
        self.send_button.clicked.connect(self.send)
        self.stop_button = named(QPushButton("Stop"), "Stop the reply")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.copy_button = named(QPushButton("Copy"), "Copy the last answer")
        self.copy_button.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.last_answer))
        self.again_button = named(QPushButton("Regenerate"), "Ask the last question again")
        self.again_button.clicked.connect(lambda: self.send(self.last_question) if self.last_question else None)
        right = QWidget()
        rlay = QVBoxLayout(right)
        rlay.addWidget(self.view)
        bar = QHBoxLayout()
        for w in (self.input, self.send_button, self.stop_button, self.copy_button, self.again_button):
            bar.addWidget(w)
        rlay.addLayout(bar)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([220, 680])
        QVBoxLayout(self).addWidget(split)
        QShortcut(QKeySequence("Ctrl+N"), self, self.new_conversation)
        QShortcut(QKeySequence("Escape"), self, self.stop)

    # ---- conversations ------------------------------------------------------------------------

    def refresh(self) -> None:
        self._asked += 1
        asked = self._asked  # an older, slower listing must not overwrite a newer one
        self.tasks.run(lambda c: c.request("GET", "/v1/conversations", params={"limit": 100})["data"],
                       lambda found: self._show_conversations(found) if asked == self._asked else None,
                       self.on_error)

    def _show_conversations(self, found: list[dict[str, Any]]) -> None:
        self.conversations.clear()
        for conv in found:
            item = QListWidgetItem(f"{(iso(conv['last_at']) or '')[:16].replace('T', ' ')}  {conv['turns']} turns\n"
                                   f"{conv['name']}")
            item.setToolTip(conv["name"])
            item.setData(256, conv["name"])
            self.conversations.addItem(item)

    def new_conversation(self) -> None:
        self.conversation = _new_name()
        self.transcript = Transcript()
        self.view.setMarkdown("")

    def _resume(self, item: QListWidgetItem) -> None:
        name = str(item.data(256))

        def load(c: Client) -> list[dict[str, Any]]:
            c.request("POST", f"/v1/conversations/{quote_path(name)}/resume")
            turns: list[dict[str, Any]] = c.request("GET", f"/v1/conversations/{quote_path(name)}")["turns"]
            return turns
        self.tasks.run(load, lambda turns: self._show_turns(name, turns), self.on_error)

    def open_conversation(self, name: str) -> None:
        """Resume conversation ``name`` and show its turns (from a memory's provenance)."""
        item = QListWidgetItem(name)
        item.setData(256, name)
        self._resume(item)

    def _show_turns(self, name: str, turns: list[dict[str, Any]]) -> None:
        """A resumed conversation: what you said (the log keeps your turns; Cairn's replies are
        not stored, and the conversation goes on from its saved cache)."""
        self.conversation, self.transcript = name, Transcript()
        several = len({t.get("speaker") for t in turns}) > 1  # an imported chat: say who said what
        for t in turns:
            self.transcript.user(t["text"], t.get("speaker") if several else None)
        if turns and not several:
            self.transcript.parts.append("> *Cairn's earlier replies are not in the log; the conversation continues from here.*")
        self.view.setMarkdown(self.transcript.markdown())

    def rename(self) -> None:
        item = self.conversations.currentItem()
        if item is None:
            return
        old = str(item.data(256))
        new = self.ask_name(self, "Rename conversation", "New name:", old)
        if new and new.strip() and new.strip() != old:
            name = new.strip()

            def done(_result: object) -> None:
                if self.conversation == old:
                    self.conversation = name
                self.refresh()
            self.tasks.run(lambda c: c.request("PATCH", f"/v1/conversations/{quote_path(old)}", {"name": name}),
                           done, self.on_error)

    def _delete(self) -> None:
        item = self.conversations.currentItem()
        if item is not None:
            name = str(item.data(256))
            self.tasks.run(lambda c: c.request("DELETE", f"/v1/conversations/{quote_path(name)}"),
                           lambda _r: self.refresh(), self.on_error)

    # ---- a turn -------------------------------------------------------------------------------

    def send(self, text: str | None = None) -> None:
        text = (text if isinstance(text, str) else self.input.text()).strip()
        if not text or self.busy:
            return
        self.input.clear()
        self.last_question, self.busy = text, True
        self._stop.clear()
        self.transcript.user(text)
        self.view.setMarkdown(self.transcript.markdown())
        self.send_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        body = {"model": "cairn", "stream": True, "messages": [{"role": "user", "content": text}],
                "cairn": {"conversation": self.conversation}}
        self._ext: dict[str, Any] | None = None
        self.tasks.stream(lambda c: self._events(c, body), self._event, self._finished, self._failed)

    def _events(self, client: Client, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for event in client.stream("/v1/chat/completions", body):
            if self._stop.is_set():
                return  # leaving closes the stream: the daemon stops generating
            yield event

    def _event(self, event: dict[str, Any]) -> None:
        if "error" in event:
            self.transcript.streaming += f"\n[{event['error']['message']}]"
        else:
            piece = event["choices"][0]["delta"].get("content") or ""
            self.transcript.streaming += piece
            self._ext = event.get("cairn", self._ext)
            if piece:
                self.streamed.emit(piece)
        self.view.setMarkdown(self.transcript.markdown())
        self.view.verticalScrollBar().setValue(self.view.verticalScrollBar().maximum())

    def _finished(self, _result: object = None) -> None:
        self.last_answer = self.transcript.streaming
        self.transcript.answer(self.last_answer or "(stopped)", self._ext)
        self.view.setMarkdown(self.transcript.markdown())
        self.busy = False
        self.send_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.answered.emit(self.last_answer)
        self.refresh()

    def _failed(self, error: BaseException) -> None:
        self._finished()
        self.on_error(error)

    def stop(self) -> None:
        self._stop.set()

    def _link(self, url: QUrl) -> None:
        if url.scheme() == "memory" and url.path().isdigit():
            self.open_memory.emit(int(url.path()))


def _new_name() -> str:
    return f"app-{uuid.uuid4().hex[:12]}"

