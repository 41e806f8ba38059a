"""The Forgetting view against a real daemon, offscreen: the curve it draws, the strength histogram,
what fades at the next sweep (Keep pins it) and the archived memories (Restore brings one back)."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QLabel, QPushButton, QWidget  # noqa: E402

from cairn.app.client import Client  # noqa: E402
from cairn.app.gui import qt_none  # noqa: E402
from cairn.app.gui.forgetting import ID_ROLE, ForgettingView  # noqa: E402
from cairn.app.gui.forgetting_data import receipt  # noqa: E402
from cairn.app.gui.forgetting_draw import CurveChart, curve_model, strength_bins, threshold_of  # noqa: E402
from cairn.app.gui.tasks import Tasks  # noqa: E402
from cairn.core import CairnError, Paths  # noqa: E402

WAIT = 20_000  # ms
BUDGET = 3  # retention.max_memories: the next sweep archives what is beyond it

# (text, importance): distinct topics, so that none merges into or supersedes another.
FIRST = [("My passport number ends in 4471", 0.95), ("The bakery on Rua Augusta opens at seven", 0.2),
         ("Tomas prefers green tea to coffee", 0.1)]
SECOND = [("Ana's birthday is on the ninth of March", 0.85), ("The dentist appointment moved to Thursday", 0.4),
          ("Parking garage level three was full today", 0.15), ("A pigeon sat on the balcony railing", 0.05)]


@pytest.fixture
def budget_home(daemon_home: Path) -> Path:
    """A home whose bank keeps at most BUDGET live memories (written before the daemon starts)."""
    with (daemon_home / "config.toml").open("a") as f:
        f.write(f"\n[retention]\nmax_memories = {BUDGET}\n")
    return daemon_home


@pytest.fixture
def bank(budget_home: Path, daemon: Client) -> dict[str, int]:
    """Three memories, two archived by a sweep to a budget of 1; then four more (five live, two over)."""
    ids = {t: daemon.request("POST", "/v1/memories", {"text": t, "importance": i})["id"] for t, i in FIRST}
    assert daemon.request("POST", "/v1/sweep", {"budget": 1})["archived"] == 2
    ids |= {t: daemon.request("POST", "/v1/memories", {"text": t, "importance": i})["id"] for t, i in SECOND}
    return ids


@pytest.fixture
def view(qtbot: Any, bank: dict[str, int], daemon_paths: Paths) -> Iterator[ForgettingView]:
    tasks = Tasks(daemon_paths)
    errors: list[BaseException] = []
    v = ForgettingView(tasks, on_error=errors.append)
    v.errors = errors  # type: ignore[attr-defined]
    qtbot.addWidget(v)
    v.resize(1100, 760)
    v.show()
    with qtbot.waitSignal(v.loaded, timeout=WAIT):
        v.refresh()
    yield v
    tasks.wait(WAIT)  # nothing in flight when the daemon stops


def ids_in(widget: Any) -> list[int]:
    return [int(widget.item(i).data(ID_ROLE)) for i in range(widget.count()) if widget.item(i).data(ID_ROLE) is not None]


def button(view: ForgettingView, name: str) -> QPushButton:
    found = [b for b in view.findChildren(QPushButton) if b.accessibleName() == name]
    assert len(found) == 1, name
    return found[0]


def memory(daemon: Client, mid: int) -> dict[str, Any]:
    got: dict[str, Any] = daemon.request("GET", f"/v1/memories/{mid}")
    one: dict[str, Any] = got.get("memory", got)
    return one


def test_the_curve_drawn_is_the_memorys_forgetting_curve(qtbot: Any, view: ForgettingView, bank: dict[str, int],
                                                         daemon: Client) -> None:
    mid = bank["The dentist appointment moved to Thursday"]
    view.select(mid)
    qtbot.waitUntil(lambda: view.curve.model is not None and view.curve.model.memory_id == mid, timeout=WAIT)
    m = view.curve.model
    assert m is not None
    why = daemon.request("GET", f"/v1/memories/{mid}/why")
    strength = why["strength_days"]
    assert m.points[0][0] == 0 and m.points[0][1] == pytest.approx(why["retention_now"], abs=1e-3)
    assert all(a[1] > b[1] for a, b in zip(m.points, m.points[1:], strict=False))  # it only falls
    for d, r in m.points[:: max(1, len(m.points) // 20)]:  # R = exp(-t/S), t since the last recall
        assert r == pytest.approx(math.exp(-(d + why["days_since_recall"]) / strength), rel=1e-3)
    assert m.threshold == pytest.approx(0.05, abs=1e-6)  # worked back from the reply: the bank's archive_below
    assert m.archive_x == pytest.approx(why["days_until_archive"], rel=1e-3)  # the horizon reaches the archive point
    assert m.archive_x is not None and m.points[-1][0] >= m.archive_x and m.points[-1][1] < m.threshold
    assert -1e-3 < m.recall_x <= 0 and not m.recalled  # created moments ago, never recalled
    assert f"#{mid}" in view.curve_title.text() and "strength" in view.curve_facts.text()
    assert "retention" in view.curve.accessibleDescription()


def test_the_histogram_counts_the_live_memories_strength(qtbot: Any, view: ForgettingView, daemon: Client) -> None:
    live = daemon.request("GET", "/v1/memories", params={"state": "live", "limit": 100})["data"]
    bins = view.histogram.model.bins
    assert sum(b.count for b in bins) == len(live) == 5
    for m in live:  # each memory counted in the bin holding its strength
        assert any(b.lo <= m["strength"] < b.hi for b in bins if b.count)
    assert all(b.hi / b.lo < 5 for b in bins) and bins == strength_bins([m["strength"] for m in live])
    assert "5 live memories" in view.summary.text()


def test_fading_lists_what_a_dry_run_sweep_names_and_keep_pins_it(qtbot: Any, view: ForgettingView,
                                                                  bank: dict[str, int], daemon: Client) -> None:
    planned = daemon.request("POST", "/v1/sweep", {"dry_run": True})["ids"]
    assert len(planned) == 5 - BUDGET
    assert ids_in(view.fading) == planned
    assert {bank[t] for t, _ in SECOND[2:]} == set(planned)  # the two weakest
    texts = " ".join(w.text() for w in view.fading.findChildren(QLabel))
    assert "A pigeon sat on the balcony railing" in texts and "over the storage budget" in texts
    keep = planned[0]
    with qtbot.waitSignal(view.loaded, timeout=WAIT):
        qtbot.mouseClick(button(view, f"Keep memory #{keep}"), Qt.MouseButton.LeftButton)
    assert memory(daemon, keep)["pinned"] is True
    assert keep not in ids_in(view.fading)
    assert ids_in(view.fading) == daemon.request("POST", "/v1/sweep", {"dry_run": True})["ids"]
    assert view.errors == []  # type: ignore[attr-defined]


def test_archived_shows_the_receipt_and_restore_brings_it_back(qtbot: Any, view: ForgettingView,
                                                               bank: dict[str, int], daemon: Client) -> None:
    gone = {bank[t] for t, _ in FIRST[1:]}
    assert set(ids_in(view.archived)) == gone
    texts = " ".join(w.text() for w in view.archived.findChildren(QLabel))
    assert "archived 20" in texts and "over the storage budget of 1 memories" in texts and "retention" in texts
    back = bank["Tomas prefers green tea to coffee"]
    with qtbot.waitSignal(view.loaded, timeout=WAIT):
        qtbot.mouseClick(button(view, f"Restore memory #{back}"), Qt.MouseButton.LeftButton)
    assert memory(daemon, back)["forgotten_at"] is None
    assert set(ids_in(view.archived)) == gone - {back}
    assert view.errors == []  # type: ignore[attr-defined]


def test_picking_a_row_shows_its_curve_and_open_asks_for_the_memory(qtbot: Any, view: ForgettingView) -> None:
    archived_id = ids_in(view.archived)[0]
    view.archived.setCurrentRow(0)
    qtbot.waitUntil(lambda: view.curve.model is not None and view.curve.model.memory_id == archived_id, timeout=WAIT)
    assert "archived" in view.curve_facts.text()
    with qtbot.waitSignal(view.open_memory, timeout=WAIT) as opened:
        qtbot.mouseClick(view.open_button, Qt.MouseButton.LeftButton)
    assert opened.args == [archived_id]
    assert view.histogram.model.marked is None  # an archived memory is not among the live ones drawn


def test_every_control_is_named_and_the_view_draws(qtbot: Any, view: ForgettingView) -> None:
    for w in view.findChildren(QWidget):
        if isinstance(w, QPushButton):
            assert w.accessibleName(), w.text()
    qtbot.waitUntil(lambda: view.curve.model is not None, timeout=WAIT)
    image = view.grab().toImage()
    assert not image.isNull() and image.width() >= 1000


def test_a_failure_goes_to_the_windows_callback(qtbot: Any, view: ForgettingView) -> None:
    errors: list[BaseException] = view.errors  # type: ignore[attr-defined]
    view.select(999_999)
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT)
    assert isinstance(errors[0], CairnError) and "999999" in errors[0].message
    assert view.selected is None and view.curve.model is None


def test_pure_parts() -> None:
    why = {"memory": {"id": 1, "pinned": False, "last_recalled_at": 5.0}, "strength_days": 10.0,
           "days_since_recall": 4.0, "days_until_archive": 10.0 * -math.log(0.1) - 4.0, "retention_now": math.exp(-0.4),
           "curve": [[d, math.exp(-(4.0 + d) / 10.0)] for d in range(0, 91)]}
    assert threshold_of(why) == pytest.approx(0.1)
    m = curve_model(why)
    assert m.recall_x == -4.0 and m.recalled and m.past[-1][0] == 0.0 and m.past[-1][1] == pytest.approx(math.exp(-0.4))
    assert m.archive_x == pytest.approx(19.03, abs=0.01)
    pinned = curve_model({**why, "memory": {"id": 2, "pinned": True}, "days_until_archive": None})
    assert pinned.archive_x is None and pinned.threshold == 0.05 and all(r == 1.0 for _, r in pinned.past)
    assert strength_bins([]) == [] and [b.count for b in strength_bins([0.001, 8.0, 9.0, 400000.0])][-1] == 1
    history = [{"action": "add", "at": 1.0}, {"action": "archive", "at": 2.0, "reason": "faded",
                                               "new": {"retention": 0.04, "strength_days": 7.0}}]
    r = receipt({"id": 3, "forgotten_at": 2.0}, history)
    assert r.at == 2.0 and r.why == "faded" and r.numbers == " (retention 0.04, strength 7 d)"
    assert receipt({"id": 3, "forgotten_at": 9.0}, []).at == 9.0


def test_none_outlives_pysides_void_calls(qtbot: Any) -> None:
    """PySide6 6.12 on CPython 3.11 drops a reference to None per void call; painting would abort the
    process after a few thousand (see cairn.app.gui.qt_none). Importing the drawings guards against it."""
    chart = CurveChart()
    qtbot.addWidget(chart)
    chart.resize(400, 240)
    if qt_none.leaks():
        assert sys.getrefcount(None) > qt_none.HEADROOM // 2
    before = sys.getrefcount(None)
    for _ in range(20):
        chart.grab()
    assert sys.getrefcount(None) > 0 and (before - sys.getrefcount(None) < 100_000)


def test_the_curve_past_is_drawn_from_the_recall_log() -> None:
    day = 86_400.0
    created, first, second = 0.0, 10 * day, 30 * day
    why = {"memory": {"id": 1, "pinned": False, "created_at": created, "last_recalled_at": second},
           "strength_days": 40.0, "days_since_recall": 5.0, "days_until_archive": 100.0, "retention_now": 0.9,
           "curve": [[d, math.exp(-(5.0 + d) / 40.0)] for d in range(0, 91)],
           "recall_log": [{"at": first, "strength_before": 10.0, "strength_after": 20.0},
                          {"at": second, "strength_before": 20.0, "strength_after": 40.0}]}
    m = curve_model(why)
    assert m.recalls_x == pytest.approx([-25.0, -5.0])  # both recalls, in days from now
    just_before = max(p for p in m.past if p[0] < -25.0)
    assert just_before[1] == pytest.approx(math.exp(-(just_before[0] + 35.0) / 10.0), rel=1e-6)  # before: S = 10 d
    after = min((p for p in m.past if -25.0 <= p[0] < -5.0), key=lambda p: p[0])
    assert after[1] == pytest.approx(math.exp(-(after[0] + 25.0) / 20.0), rel=1e-6)  # after the first: S = 20 d
    assert m.past[-1][1] == pytest.approx(math.exp(-5.0 / 40.0))
