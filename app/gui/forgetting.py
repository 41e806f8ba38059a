"""The Forgetting view: forgetting you can see. One memory's retention curve (the past since its last
recall, the days ahead, the level below which the bank archives it), the bank's strength
distribution, the memories the next sweep would archive (each with **Keep**, which pins it) and the
archived ones with the receipt of why and when (each with **Restore**).

Everything comes from the daemon through :class:`~cairn.app.gui.tasks.Tasks`, never on the GUI
thread (``forgetting_data``); the two drawings are in ``forgetting_draw``."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from cairn.app.client import Client
from cairn.app.gui.forgetting_data import Snapshot, days_text, fetch_why, load, retention_now, shorten, when_text
from cairn.app.gui.forgetting_draw import (
    DEFAULT_THRESHOLD,
    CurveChart,
    HistogramModel,
    StrengthHistogram,
    curve_model,
    strength_bins,
)
from cairn.app.gui.tasks import Tasks

log = logging.getLogger(__name__)
OnError = Callable[[BaseException], None]
ID_ROLE = Qt.ItemDataRole.UserRole
W = TypeVar("W", bound=QWidget)


class ForgettingView(QWidget):
    open_memory = Signal(int)  # the user asked to open a memory in the browser
    loaded = Signal()  # a refresh's results are on screen

    def __init__(self, tasks: Tasks, parent: QWidget | None = None, on_error: OnError | None = None) -> None:
        super().__init__(parent)
        self.tasks, self.on_error = tasks, on_error or tasks.report
        self.snapshot: Snapshot | None = None
        self.selected: int | None = None
        self.threshold = DEFAULT_THRESHOLD
        self._generation = 0  # the latest refresh: older results are dropped
        self._build()

    def _build(self) -> None:
        self.refresh_button = _named(QPushButton("Refresh"), "Refresh the forgetting view")
        self.refresh_button.clicked.connect(self.refresh)
        self.summary = _named(QLabel(), "Forgetting summary")
        self.summary.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.refresh_button)
        charts = QSplitter(Qt.Orientation.Horizontal)
        charts.addWidget(self._curve_panel())
        charts.addWidget(self._histogram_panel())
        lists = QSplitter(Qt.Orientation.Horizontal)
        self.fading = self._list("Memories the next sweep would archive")
        self.archived = self._list("Archived memories")
        self.fading_title = _named(QLabel("<b>Fading soon</b>"), "Fading soon")
        self.archived_title = _named(QLabel("<b>Archived</b>"), "Archived")
        lists.addWidget(_column(self.fading_title, self.fading))
        lists.addWidget(_column(self.archived_title, self.archived))
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(charts)
        body.addWidget(lists)
        body.setStretchFactor(0, 3)
        body.setStretchFactor(1, 2)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(body, 1)

    def _curve_panel(self) -> QWidget:
        self.curve_title = _named(QLabel("No memory selected."), "Selected memory")
        self.curve_title.setWordWrap(True)
        self.curve_facts = _named(QLabel(), "Selected memory's retention")
        self.curve_facts.setWordWrap(True)
        self.curve = CurveChart()
        self.open_button = _named(QPushButton("Open in Memories"), "Open the selected memory in the browser")
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self._open_selected)
        return _column(self.curve_title, self.curve_facts, self.curve, self.open_button)

    def _histogram_panel(self) -> QWidget:
        self.histogram = StrengthHistogram()
        self.histogram_caption = _named(QLabel(), "About the strength distribution")
        self.histogram_caption.setWordWrap(True)
        self.histogram_caption.setTextFormat(Qt.TextFormat.RichText)
        return _column(QLabel("<b>How long your memories last</b>"), self.histogram, self.histogram_caption)

    def _list(self, name: str) -> QListWidget:
        widget = _named(QListWidget(), name)
        widget.currentItemChanged.connect(lambda item, _old: self._picked(item))
        widget.itemActivated.connect(lambda item: self.open_memory.emit(int(item.data(ID_ROLE))))
        return widget

    # ---- loading ----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload the fading and archived lists and the histogram, then the selected curve."""
        self._generation += 1
        generation = self._generation
        self.refresh_button.setEnabled(False)
        self.tasks.run(load, lambda s: self._show(generation, s), self._failed)

    def _failed(self, error: BaseException) -> None:
        self.refresh_button.setEnabled(True)
        self._report(error)

    def _report(self, error: BaseException) -> None:
        log.info("forgetting view: %s", error)
        self.on_error(error)

    def _show(self, generation: int, snapshot: Snapshot) -> None:
        if generation != self._generation:
            return
        self.snapshot = snapshot
        self.refresh_button.setEnabled(True)
        self._fill_fading(snapshot)
        self._fill_archived(snapshot)
        self._show_summary(snapshot)
        self._show_histogram()
        first = snapshot.fading or snapshot.live or [r.memory for r in snapshot.archived]
        if self.selected is not None:
            self.select(self.selected)
        elif first:
            self.select(int(first[0]["id"]))
        self.loaded.emit()

    def _fill_fading(self, s: Snapshot) -> None:
        self.fading.clear()
        for i, m in enumerate(s.fading):
            why = (f"faded: retention {retention_now(m, time.time()):.2f}" if i < s.decayed
                   else f"over the storage budget (strength {days_text(float(m['strength']))})")
            self._row(self.fading, m, why, "Keep", partial(self.keep, int(m["id"])),
                      "Pin it: a pinned memory never fades")
        more = f", {s.planned - len(s.fading)} more not listed" if s.planned > len(s.fading) else ""
        self.fading_title.setText(f"<b>Fading soon</b> — the next sweep would archive {s.planned}{more}")
        if not s.fading:
            _note(self.fading, "Nothing fades at the next sweep.")

    def _fill_archived(self, s: Snapshot) -> None:
        self.archived.clear()
        for r in s.archived:
            self._row(self.archived, r.memory, f"archived {when_text(r.at)}{r.numbers}\n{r.why}", "Restore",
                      partial(self.restore, int(r.memory["id"])), "Bring it back: recalled again, restorable")
        self.archived_title.setText(f"<b>Archived</b> — the {len(s.archived)} most recent, restorable"
                                    if s.archived else "<b>Archived</b>")
        if not s.archived:
            _note(self.archived, "No memory has been archived.")

    def _row(self, target: QListWidget, m: dict[str, Any], why: str, action: str, act: Callable[[], None],
             tip: str) -> None:
        mid = int(m["id"])
        label = _named(QLabel(f"#{mid}  {shorten(str(m['text']))}\n{why}"), f"Memory #{mid}")
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setToolTip(f"{m['text']}\n\n{why}")
        label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        button = _named(QPushButton(action), f"{action} memory #{mid}")
        button.setToolTip(tip)

        def clicked() -> None:
            button.setEnabled(False)  # once: the reload that follows brings the lists back
            act()
        button.clicked.connect(clicked)
        row = QWidget()
        lay = QHBoxLayout(row)
        lay.setContentsMargins(6, 3, 6, 3)
        lay.addWidget(label, 1)
        lay.addWidget(button)
        item = QListWidgetItem()
        item.setData(ID_ROLE, mid)
        item.setSizeHint(row.sizeHint())
        target.addItem(item)
        target.setItemWidget(item, row)

    def _show_summary(self, s: Snapshot) -> None:
        pinned = sum(1 for m in s.live if m.get("pinned"))
        self.summary.setText(f"{len(s.live)} live memories ({pinned} pinned) · {s.planned} would be archived by the "
                             f"next sweep · {len(s.archived)} recently archived shown")

    def _show_histogram(self) -> None:
        s = self.snapshot
        strengths = [float(m["strength"]) for m in s.live if not m.get("pinned")] if s else []
        marked = next((float(m["strength"]) for m in (s.live if s else []) if m["id"] == self.selected), None)
        self.histogram.show_model(HistogramModel(strength_bins(strengths), marked, self.selected))
        pinned = sum(1 for m in s.live if m.get("pinned")) if s else 0
        until = -math.log(self.threshold)
        self.histogram_caption.setText(f"{len(strengths)} unpinned live memories · {pinned} pinned (never fade) · "
                                       f"archived about {until:.1f}&nbsp;×&nbsp;S days after the last recall")
        self.histogram.setToolTip(
            f"A memory of strength S keeps e<sup>−t/S</sup> of itself t days after its last recall (or its creation); "
            f"below {self.threshold:.2g} a sweep archives it, about {until:.1f} × S days on. "
            "Each recall makes it stronger, the more so the longer the gap.")

    # ---- one memory's curve -------------------------------------------------------------------

    def select(self, memory_id: int) -> None:
        """Show one memory's forgetting curve."""
        self.selected = memory_id
        self.tasks.run(lambda c: fetch_why(c, memory_id), self._show_why, lambda e: self._why_failed(memory_id, e))

    def _why_failed(self, memory_id: int, error: BaseException) -> None:
        if self.selected == memory_id:  # gone (purged?): a refresh does not ask again
            self.selected = None
            self.curve.show_model(None)
            self.open_button.setEnabled(False)
        self._report(error)

    def _picked(self, item: QListWidgetItem | None) -> None:
        if item is not None and item.data(ID_ROLE) is not None:
            self.select(int(item.data(ID_ROLE)))

    def _show_why(self, why: dict[str, Any]) -> None:
        m = why["memory"]
        if int(m["id"]) != self.selected:
            return  # another memory was selected since
        model = curve_model(why)
        self.threshold = model.threshold
        self.curve.show_model(model)
        state = "archived" if m.get("forgotten_by") == "sweep" else "forgotten" if m.get("forgotten_at") else "live"
        self.curve_title.setText(f"<b>#{m['id']}</b> {_escape(shorten(str(m['text']), 160))}")
        self.curve_facts.setText(_facts(why, state))
        self.open_button.setEnabled(True)
        self._show_histogram()
        for target in (self.fading, self.archived):
            _mark(target, int(m["id"]))

    def _open_selected(self) -> None:
        if self.selected is not None:
            self.open_memory.emit(self.selected)

    # ---- actions ------------------------------------------------------------------------------

    def keep(self, memory_id: int) -> None:
        """Pin a memory so that it never fades, then reload."""
        self._act(lambda c: c.request("POST", f"/v1/memories/{memory_id}/pin", {"pinned": True}))

    def restore(self, memory_id: int) -> None:
        """Bring an archived memory back, then reload."""
        self._act(lambda c: c.request("POST", f"/v1/memories/{memory_id}/restore",
                                      {"reason": "restored from the Forgetting view"}))

    def _act(self, fn: Callable[[Client], Any]) -> None:
        self.tasks.run(fn, lambda _r: self.refresh(), self._act_failed)

    def _act_failed(self, error: BaseException) -> None:
        self._report(error)
        self.refresh()  # puts the row's button back


def _facts(why: dict[str, Any], state: str) -> str:
    m, until = why["memory"], why.get("days_until_archive")
    recalls = int(why.get("recalls") or 0)
    fate = ("pinned: never fades" if m.get("pinned") else "archived by a sweep, restorable" if state == "archived"
            else f"archived in {days_text(float(until))} unless recalled" if until is not None else state)
    ago = float(why["days_since_recall"])
    since = "just now" if ago < 1 / 24 else f"{days_text(ago)} ago"
    last = f"last {since}" if recalls else f"created {since}"
    times = "never recalled" if not recalls else "recalled once" if recalls == 1 else f"recalled {recalls} times"
    return (f"strength {days_text(float(why['strength_days']))} · retention {float(why['retention_now']):.2f} now · "
            f"{fate} · {times}, {last}")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _named(widget: W, name: str) -> W:
    widget.setAccessibleName(name)
    return widget


def _column(*widgets: QWidget) -> QWidget:
    box = QWidget()
    lay = QVBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    for w in widgets:
        lay.addWidget(w, 1 if isinstance(w, QListWidget | CurveChart | StrengthHistogram) else 0)
    return box


def _note(target: QListWidget, text: str) -> None:
    item = QListWidgetItem(text)
    item.setFlags(Qt.ItemFlag.NoItemFlags)
    target.addItem(item)


def _mark(target: QListWidget, memory_id: int) -> None:
    """Highlight the selected memory's row (without selecting it again)."""
    rows = [i for i in range(target.count()) if target.item(i).data(ID_ROLE) == memory_id]
    target.blockSignals(True)
    target.setCurrentRow(rows[0] if rows else -1)
    target.blockSignals(False)
