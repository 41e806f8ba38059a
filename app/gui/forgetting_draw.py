"""The Forgetting view's two drawings, painted with QPainter in the palette's colours (so dark mode
works): one memory's retention curve, R = exp(-t/S), with the archive threshold, its last recall and
"now"; and the bank's strength distribution, a histogram on log-scaled bins.

What each widget draws is held in a plain model (``CurveModel``, ``Bin``) built by pure functions
from the daemon's replies, so tests read exactly the points that were drawn."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPaintEvent, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from cairn.app.gui.forgetting_data import days_text

DEFAULT_THRESHOLD = 0.05  # retention.archive_below, when the reply does not reveal it
PAST_SAMPLES = 240
DAY = 86_400.0
# Bin edges for strengths, in days: roughly doubling, each a duration people read at a glance.
LADDER = ((1 / 24, "1h"), (0.25, "6h"), (1.0, "1d"), (3.0, "3d"), (7.0, "1w"), (14.0, "2w"), (30.0, "1mo"),
          (91.0, "3mo"), (182.0, "6mo"), (365.0, "1y"), (730.0, "2y"), (1825.0, "5y"), (3650.0, "10y"),
          (10950.0, "30y"), (36500.0, "100y"), (365000.0, "1000y"), (math.inf, ""))


# ---- models (pure) -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CurveModel:
    """One memory's curve as drawn: x is days from now (negative: the past), y is retention."""

    memory_id: int
    points: list[tuple[float, float]]  # the future, as the daemon computed it (no recall from now on)
    past: list[tuple[float, float]]  # from the last recall (or creation) to now, R = exp(-t/S)
    threshold: float  # the bank archives below this retention
    recall_x: float  # the last recall (or creation), days from now (<= 0)
    recalled: bool  # False: recall_x is when it was created
    archive_x: float | None  # where the curve falls below the threshold (None: pinned or off the chart)
    pinned: bool
    recalls_x: list[float] = field(default_factory=list)  # every logged recall in view, days from now


def threshold_of(why: dict[str, Any]) -> float:
    """The archive threshold, worked back from the reply: until + since = -S ln(threshold)."""
    until, strength = why.get("days_until_archive"), float(why.get("strength_days") or 0.0)
    if until is not None and until > 0 and strength > 0:
        return math.exp(-(float(until) + float(why["days_since_recall"])) / strength)
    return DEFAULT_THRESHOLD


def curve_model(why: dict[str, Any]) -> CurveModel:
    """What the curve widget draws for a ``GET /v1/memories/{id}/why`` reply. The past is drawn
    piece by piece from the recall log: each recall restarts the curve at 1 with the strength it
    left; without a log, only the stretch since the last recall is known."""
    memory, strength = why["memory"], max(float(why["strength_days"]), 1e-9)
    pinned, since = bool(memory["pinned"]), float(why["days_since_recall"])
    points = [(float(d), float(r)) for d, r in why["curve"]]
    horizon = points[-1][0] if points else 90.0
    pieces = _pieces(why, since, strength)  # (start, days from now <= 0; strength from then on)
    shown = min(-pieces[0][0], horizon)  # the past is shown at most as far back as the future goes ahead
    past = [(x, 1.0 if pinned else _retention_at(pieces, x)) for x in
            (-shown + shown * i / PAST_SAMPLES for i in range(PAST_SAMPLES + 1))]
    until = why.get("days_until_archive")
    archive_x = float(until) if until is not None and float(until) <= horizon else None
    recalls = [start for start, _ in pieces[1:] if start >= -shown]
    return CurveModel(int(memory["id"]), points, past, threshold_of(why), max(-since, -shown),
                      bool(memory.get("last_recalled_at")), archive_x, pinned, recalls)


def _pieces(why: dict[str, Any], since: float, strength: float) -> list[tuple[float, float]]:
    """The curve's past as (start, strength) pieces, in days from now: creation, then each logged
    recall (with the strength it left). The last piece starts at the last recall (or creation)."""
    memory, log = why["memory"], why.get("recall_log") or []
    if not log or memory.get("created_at") is None:
        return [(-since, strength)]
    now = float(memory.get("last_recalled_at") or memory["created_at"]) + since * DAY
    first = float(log[0]["strength_before"])
    out = [((float(memory["created_at"]) - now) / DAY, first)]
    out += [((float(r["at"]) - now) / DAY, float(r["strength_after"])) for r in log]
    return out


def _retention_at(pieces: list[tuple[float, float]], x: float) -> float:
    start, s = pieces[0]
    for piece in pieces:
        if piece[0] <= x:
            start, s = piece
    return math.exp(-max(x - start, 0.0) / max(s, 1e-9))


@dataclass(frozen=True)
class Bin:
    lo: float
    hi: float
    label_lo: str
    count: int


def strength_bins(strengths: Sequence[float]) -> list[Bin]:
    """Counts of strengths (days) on the ladder's log-scaled bins, from the weakest to the strongest."""
    if not strengths:
        return []
    low, high = min(strengths), max(strengths)
    first = max(i for i, (edge, _) in enumerate(LADDER) if edge <= low or i == 0)
    last = min(i for i, (edge, _) in enumerate(LADDER) if edge > high)
    bins = []
    for i in range(first, last):
        lo, hi = LADDER[i][0], LADDER[i + 1][0]
        hi = hi if math.isfinite(hi) else max(high * 1.5, lo * 2)  # past the ladder's last rung
        count = sum(1 for s in strengths if (lo <= s or i == first) and s < hi)
        bins.append(Bin(lo, hi, LADDER[i][1], count))
    return bins




def nice_step(span: float, target: int) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about ``target`` ticks over ``span``."""
    raw = max(span, 1e-9) / max(target, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def ticks(lo: float, hi: float, target: int) -> list[float]:
    step = nice_step(hi - lo, target)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


# ---- painting ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """Maps data coordinates into the plot rectangle."""

    plot: QRectF
    x0: float
    x1: float
    y0: float
    y1: float

    def x(self, v: float) -> float:
        return self.plot.left() + (v - self.x0) / ((self.x1 - self.x0) or 1.0) * self.plot.width()

    def y(self, v: float) -> float:
        return self.plot.bottom() - (v - self.y0) / ((self.y1 - self.y0) or 1.0) * self.plot.height()

    def at(self, x: float, y: float) -> QPointF:
        return QPointF(self.x(x), self.y(y))


def faint(palette: QPalette, alpha: int) -> QColor:
    colour = QColor(palette.color(QPalette.ColorRole.WindowText))
    colour.setAlpha(alpha)
    return colour


def pen(colour: QColor, width: float = 1.0, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    p = QPen(colour)
    p.setWidthF(width)
    p.setStyle(style)
    return p


def text_at(p: QPainter, x: float, y: float, text: str, align: Qt.AlignmentFlag, behind: QColor | None = None) -> None:
    """Draw ``text`` anchored at (x, y) by ``align`` (e.g. right and vertically centred), on ``behind``."""
    fm = p.fontMetrics()
    w, h = fm.horizontalAdvance(text) + 2, fm.height()
    left = x - w if align & Qt.AlignmentFlag.AlignRight else x - w / 2 if align & Qt.AlignmentFlag.AlignHCenter else x
    top = y - h if align & Qt.AlignmentFlag.AlignBottom else y - h / 2 if align & Qt.AlignmentFlag.AlignVCenter else y
    if behind is not None:
        p.fillRect(QRectF(left, top, w, h), behind)
    p.drawText(QRectF(left, top, w, h), int(Qt.AlignmentFlag.AlignCenter), text)


def y_axis(p: QPainter, f: Frame, values: Sequence[float], fmt: str, palette: QPalette, title: str) -> None:
    """Grid lines, tick labels and a rotated title along the left edge."""
    for v in values:
        p.setPen(pen(faint(palette, 40)))
        p.drawLine(QPointF(f.plot.left(), f.y(v)), QPointF(f.plot.right(), f.y(v)))
        p.setPen(pen(palette.color(QPalette.ColorRole.WindowText)))
        text_at(p, f.plot.left() - 4, f.y(v), format(v, fmt), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    p.save()
    p.translate(p.fontMetrics().height() / 2 + 2, f.plot.center().y())
    p.rotate(-90)
    text_at(p, 0, 0, title, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter)
    p.restore()


def frame_for(widget: QWidget, x0: float, x1: float, y0: float, y1: float, tick_text: str) -> Frame:
    fm = QFontMetrics(widget.font())
    left = fm.height() + fm.horizontalAdvance(tick_text) + 14
    plot = QRectF(left, fm.height() + 10, widget.width() - left - 18, widget.height() - 3 * fm.height() - 22)
    return Frame(plot, x0, x1, y0, y1)


class Chart(QWidget):
    """A painted chart: a framed panel in the palette's base colour, and a sentence when empty."""

    empty_text = ""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(300, 170)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        try:
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            pal = self.palette()
            p.fillRect(self.rect(), pal.color(QPalette.ColorRole.Base))
            p.setPen(pen(faint(pal, 60)))
            p.drawRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5))
            p.setPen(pen(pal.color(QPalette.ColorRole.PlaceholderText)))
            if not self.draw(p, pal):
                p.drawText(self.rect(), int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), self.empty_text)
        finally:
            p.end()

    def draw(self, p: QPainter, pal: QPalette) -> bool:
        """Paint the chart; False when there is nothing to draw."""
        raise NotImplementedError


class CurveChart(Chart):
    """One memory's retention: the past since its last recall, the days ahead, the threshold."""

    empty_text = "Select a memory to see its forgetting curve."

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model: CurveModel | None = None
        self.setAccessibleName("Forgetting curve")

    def show_model(self, model: CurveModel | None) -> None:
        self.model = model
        self.setAccessibleDescription(curve_description(model))
        self.update()

    def draw(self, p: QPainter, pal: QPalette) -> bool:
        m = self.model
        if m is None or not m.points:
            return False
        f = frame_for(self, min(m.recall_x, 0.0), m.points[-1][0], 0.0, 1.0, "0.00")
        y_axis(p, f, (0.0, 0.25, 0.5, 0.75, 1.0), ".2f", pal, "retention")
        x_axis(p, f, pal, "days from now, if it is not recalled")
        draw_threshold(p, f, pal, m.threshold)
        draw_line(p, f, m.past, pen(pal.color(QPalette.ColorRole.Highlight), 1.6, Qt.PenStyle.DashLine))
        draw_line(p, f, m.points, pen(pal.color(QPalette.ColorRole.Highlight), 2.4))
        draw_marks(p, f, pal, m)
        return True


def x_axis(p: QPainter, f: Frame, pal: QPalette, title: str) -> None:
    fm = p.fontMetrics()
    p.setPen(pen(faint(pal, 120)))
    p.drawLine(QPointF(f.plot.left(), f.plot.bottom()), QPointF(f.plot.right(), f.plot.bottom()))
    step_target = max(2, int(f.plot.width() / (fm.horizontalAdvance("-0000") * 2)))
    p.setPen(pen(pal.color(QPalette.ColorRole.WindowText)))
    for v in ticks(f.x0, f.x1, step_target):
        p.drawLine(QPointF(f.x(v), f.plot.bottom()), QPointF(f.x(v), f.plot.bottom() + 3))
        text_at(p, f.x(v), f.plot.bottom() + 4, f"{v:g}", Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
    text_at(p, f.plot.center().x(), f.plot.bottom() + fm.height() + 8, title,
            Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)


def draw_threshold(p: QPainter, f: Frame, pal: QPalette, threshold: float) -> None:
    p.setPen(pen(pal.color(QPalette.ColorRole.WindowText), 1.0, Qt.PenStyle.DashLine))
    p.drawLine(f.at(f.x0, threshold), f.at(f.x1, threshold))
    p.setPen(pen(pal.color(QPalette.ColorRole.WindowText)))
    # On the left: the curve is still high there, so the words do not cross it.
    text_at(p, f.plot.left() + 6, f.y(threshold) - 2, f"archived below {threshold:.2g}",
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom)


def draw_line(p: QPainter, f: Frame, points: Sequence[tuple[float, float]], line: QPen) -> None:
    p.setPen(line)
    p.drawPolyline(QPolygonF([f.at(x, y) for x, y in points]))


def draw_marks(p: QPainter, f: Frame, pal: QPalette, m: CurveModel) -> None:
    """"now" (a vertical line), the last recall or creation, and where it would be archived."""
    text = pal.color(QPalette.ColorRole.WindowText)
    p.setPen(pen(text, 1.2))
    p.drawLine(QPointF(f.x(0), f.plot.top()), QPointF(f.x(0), f.plot.bottom()))
    at_edge = f.x(0) - p.fontMetrics().horizontalAdvance("now") < f.plot.left()  # left-aligned, clear of the ticks
    text_at(p, f.x(0), f.plot.top() - 2, "now",
            (Qt.AlignmentFlag.AlignLeft if at_edge else Qt.AlignmentFlag.AlignHCenter) | Qt.AlignmentFlag.AlignBottom)
    for x in m.recalls_x:  # every logged recall in view restarted the curve at 1
        dot(p, f.at(x, 1.0), pal)
    dot(p, f.at(m.recall_x, 1.0), pal)
    if m.recall_x < 0:  # "now" already labels a recall made moments ago
        label = "last recall" if m.recalled else "created"
        text_at(p, f.x(m.recall_x) + 7, f.y(1.0) + 4, label, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    if m.pinned:
        text_at(p, f.plot.center().x(), f.y(1.0) + p.fontMetrics().height() + 8, "pinned: never fades",
                Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
    if m.archive_x is not None:
        dot(p, f.at(m.archive_x, m.threshold), pal)
        align = Qt.AlignmentFlag.AlignRight if f.x(m.archive_x) > f.plot.center().x() else Qt.AlignmentFlag.AlignLeft
        x = f.x(m.archive_x) + (-8 if align == Qt.AlignmentFlag.AlignRight else 8)
        text_at(p, x, f.y(m.threshold) - f.plot.height() * 0.12, f"archived in {days_text(m.archive_x)}",
                align | Qt.AlignmentFlag.AlignBottom)


def dot(p: QPainter, at: QPointF, pal: QPalette) -> None:
    p.setPen(pen(pal.color(QPalette.ColorRole.WindowText), 1.2))
    p.setBrush(pal.color(QPalette.ColorRole.Highlight))
    p.drawEllipse(at, 4.5, 4.5)
    p.setBrush(Qt.BrushStyle.NoBrush)


def curve_description(m: CurveModel | None) -> str:
    """What the curve shows, in words (for screen readers)."""
    if m is None or not m.points:
        return "No memory selected."
    now = m.points[0][1]
    fate = "pinned, it never fades" if m.pinned else (
        f"archived in {days_text(m.archive_x)} if not recalled" if m.archive_x is not None else
        f"still above {m.threshold:.2g} after {m.points[-1][0]:.0f} days")
    return f"Memory #{m.memory_id}: retention {now:.2f} now; {fate}."


@dataclass
class HistogramModel:
    bins: list[Bin] = field(default_factory=list)
    marked: float | None = None  # the selected memory's strength
    marked_id: int | None = None


class StrengthHistogram(Chart):
    """How long the bank's live memories last: counts of strength on log-scaled bins."""

    empty_text = "No live memories yet."

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = HistogramModel()
        self.setAccessibleName("Strength distribution")

    def show_model(self, model: HistogramModel) -> None:
        self.model = model
        self.setAccessibleDescription("; ".join(f"{b.count} from {days_text(b.lo)}" for b in model.bins if b.count))
        self.update()

    def draw(self, p: QPainter, pal: QPalette) -> bool:
        bins = self.model.bins
        if not bins:
            return False
        top = max(b.count for b in bins)
        counts = ticks(0, top, 4) if top > 4 else [float(i) for i in range(top + 1)]
        room = top + p.fontMetrics().height() * top / max(self.height() / 2, 1.0)  # the tallest bar's count fits
        f = frame_for(self, math.log(bins[0].lo), math.log(bins[-1].hi), 0.0, max(counts[-1], room, 1.0), f"{top}")
        y_axis(p, f, counts, ".0f", pal, "memories")
        self.draw_marked(p, f, pal)  # under the bars' counts
        draw_bars(p, f, pal, bins)
        bin_labels(p, f, pal, bins)
        return True

    def draw_marked(self, p: QPainter, f: Frame, pal: QPalette) -> None:
        s, mid = self.model.marked, self.model.marked_id
        if s is None or s <= 0 or not f.x0 <= math.log(s) <= f.x1:
            return
        x = f.x(math.log(s))
        p.setPen(pen(pal.color(QPalette.ColorRole.WindowText), 1.4, Qt.PenStyle.DotLine))
        p.drawLine(QPointF(x, f.plot.top()), QPointF(x, f.plot.bottom()))
        align = Qt.AlignmentFlag.AlignLeft if x < f.plot.center().x() else Qt.AlignmentFlag.AlignRight
        text_at(p, x + (4 if align == Qt.AlignmentFlag.AlignLeft else -4), f.plot.top() - 2,
                f"#{mid} ({days_text(s)})", align | Qt.AlignmentFlag.AlignBottom)


def draw_bars(p: QPainter, f: Frame, pal: QPalette, bins: Sequence[Bin]) -> None:
    fill = QColor(pal.color(QPalette.ColorRole.Highlight))
    for b in bins:
        left, right = f.x(math.log(b.lo)) + 1.5, f.x(math.log(b.hi)) - 1.5
        rect = QRectF(QPointF(left, f.y(b.count)), QPointF(right, f.y(0)))
        p.fillRect(rect, fill)
        if b.count:
            p.setPen(pen(pal.color(QPalette.ColorRole.WindowText)))
            text_at(p, rect.center().x(), rect.top() - 1, str(b.count),
                    Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom, pal.color(QPalette.ColorRole.Base))


def bin_labels(p: QPainter, f: Frame, pal: QPalette, bins: Sequence[Bin]) -> None:
    """The bins' lower edges under the axis (skipping any that would overlap the previous one)."""
    fm = p.fontMetrics()
    p.setPen(pen(pal.color(QPalette.ColorRole.WindowText)))
    names = dict(LADDER)
    edges = [(b.lo, b.label_lo) for b in bins] + [(bins[-1].hi, names.get(bins[-1].hi, ""))]
    right_of_last = -math.inf
    for edge, label in edges:
        x = f.x(math.log(edge))
        if label and x - fm.horizontalAdvance(label) / 2 > right_of_last + 4:
            text_at(p, x, f.plot.bottom() + 5, label, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            right_of_last = x + fm.horizontalAdvance(label) / 2
    text_at(p, f.plot.center().x(), f.plot.bottom() + fm.height() + 8,
            "strength, log scale (days to fall to 37%)",
            Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
