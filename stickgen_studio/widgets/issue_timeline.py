"""The issue timeline: one labelled row per issue kind, spans coloured by severity, frame
ticks, a playhead and the looped range. Click or drag to seek; double-click a span to loop it.

Like Rerun's time panel: the wheel zooms around the cursor (Shift+wheel, or a sideways wheel, pans),
a double-click off the spans fits the whole clip again; dragging along the frame ruler (or Shift+drag
anywhere) selects a range of frames (``rangeSelected``), which the viewer loops."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QToolTip, QWidget

from stickgen_core.issues import IssueSpan, issue_label, kinds_in_order

from .issue_style import issue_colour

ROW_HEIGHT = 15
TICKS_HEIGHT = 17
MIN_VIEW = 8            # frames: the deepest zoom
ZOOM_STEP = 0.8         # one wheel notch shows 80 % of the frames (out: 125 %)
HINT = ("Wheel: zoom · Shift+wheel: pan · double-click: fit the clip\n"
        "Drag along the frame ruler (or Shift+drag) to select frames and loop them")
_NICE_STEPS = np.array([1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000])


class IssueTimeline(QWidget):
    """Rows of issue spans over ``n_frames`` frames, with a playhead."""

    seek = Signal(int)
    spanActivated = Signal(object)  # IssueSpan, on double-click
    rangeSelected = Signal(int, int)  # frames [start, end) dragged out on the ruler or with Shift

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self._spans: list[IssueSpan] = []
        self._kinds: list[str] = []
        self._T = 0
        self._t = 0
        self._range: tuple[int, int] | None = None
        self._view: tuple[float, float] | None = None   # the frames shown [v0, v1) when zoomed in
        self._drag: tuple[int, int] | None = None       # a range being dragged out (first, current frame)
        self._update_height()

    # ------------------------------------------------------------------ state
    def set_issues(self, spans: Sequence[IssueSpan], n_frames: int) -> None:
        self._spans = list(spans)
        self._kinds = kinds_in_order(self._spans)
        self._T, self._t, self._range, self._view, self._drag = int(n_frames), 0, None, None, None
        self._update_height()
        self.update()

    @property
    def row_labels(self) -> list[str]:
        """The labels of the rows, top to bottom."""
        return [issue_label(k) for k in self._kinds]

    def set_frame(self, t: int) -> None:
        self._t = int(t)
        self.update()

    def set_range(self, rng: tuple[int, int] | None) -> None:
        self._range = rng
        self.update()

    @property
    def view(self) -> tuple[float, float]:
        """The frames shown, ``[v0, v1)``: the whole clip unless zoomed in."""
        return self._view or (0.0, float(self._T))

    def set_view(self, v0: float, v1: float) -> None:
        """Show frames ``[v0, v1)``, kept inside the clip and at least ``MIN_VIEW`` wide; the whole clip un-zooms."""
        T = float(self._T)
        span = min(max(v1 - v0, min(MIN_VIEW, T)), T)
        v0 = min(max(v0, 0.0), T - span)
        self._view = None if span >= T else (v0, v0 + span)
        self.update()

    def zoom(self, factor: float, anchor: float) -> None:
        """Scale the shown span by ``factor`` keeping frame ``anchor`` where it is on screen."""
        v0, v1 = self.view
        self.set_view(anchor - (anchor - v0) * factor, anchor + (v1 - anchor) * factor)

    def _frame_f(self, x: float) -> float:
        v0, v1 = self.view
        x0 = self.label_width()
        return v0 + (x - x0) / max(self.width() - x0 - 6, 1) * (v1 - v0)

    # ------------------------------------------------------------------ geometry
    def _update_height(self) -> None:
        self.setFixedHeight(6 + ROW_HEIGHT * max(len(self._kinds), 1) + TICKS_HEIGHT)

    def label_width(self) -> int:
        fm = self.fontMetrics()
        return 12 + max((fm.horizontalAdvance(lbl) for lbl in self.row_labels + ["no issues"]), default=0)

    def _x(self, t: float) -> float:
        x0 = self.label_width()
        v0, v1 = self.view
        return x0 + (self.width() - x0 - 6) * (t - v0) / max(v1 - v0, 1e-9)

    def frame_at(self, x: float) -> int:
        """The frame under a horizontal position (clamped to the clip)."""
        return int(np.clip(int(np.floor(self._frame_f(x))), 0, max(self._T - 1, 0)))

    def span_at(self, pos: QPointF) -> IssueSpan | None:
        row = int((pos.y() - 3) // ROW_HEIGHT)
        if not 0 <= row < len(self._kinds) or pos.x() < self.label_width():
            return None
        t = self.frame_at(pos.x())
        hits = [s for s in self._spans if s.kind == self._kinds[row] and s.start <= t < s.end]
        return max(hits, key=lambda s: s.severity) if hits else None

    # ------------------------------------------------------------------ painting
    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt naming)
        p = QPainter(self)
        W, H = self.width(), self.height()
        x0 = self.label_width()
        p.fillRect(self.rect(), QColor("#f3f4f6"))
        fm = self.fontMetrics()
        p.setClipRect(QRectF(0, 0, W - 6, H))
        if not self._kinds and self._T:  # with no clip shown, "no issues" would read as a verdict
            p.setPen(QColor("#555"))
            p.drawText(QRectF(6, 3, x0 + 200, ROW_HEIGHT), Qt.AlignmentFlag.AlignVCenter, "no issues")
        for row, kind in enumerate(self._kinds):
            y = 3 + row * ROW_HEIGHT
            if row % 2:
                p.fillRect(QRectF(x0, y, W - x0, ROW_HEIGHT), QColor("#e8eaee"))
            p.setPen(QColor("#222"))
            p.drawText(QRectF(6, y, x0 - 8, ROW_HEIGHT), Qt.AlignmentFlag.AlignVCenter, issue_label(kind))
            p.setClipRect(QRectF(x0, 0, W - 6 - x0, H))   # a zoomed-in span stops at the label column
            for s in self._spans:
                if s.kind == kind:
                    x1, x2 = self._x(s.start), self._x(s.end)
                    p.fillRect(QRectF(x1, y + 2, max(x2 - x1, 2.0), ROW_HEIGHT - 4), issue_colour(kind, s.severity))
            p.setClipRect(QRectF(0, 0, W - 6, H))
        p.setClipRect(QRectF(x0, 0, W - 6 - x0, H))
        for rng, alpha in ((self._range, 40), (self._drag and tuple(sorted(self._drag)), 70)):
            if rng is not None:
                a, b = rng[0], rng[1] + (1 if rng is not self._range else 0)
                band = QColor("#1565c0")
                band.setAlpha(alpha)
                p.fillRect(QRectF(self._x(a), 0, self._x(b) - self._x(a), H - TICKS_HEIGHT), band)
        self._paint_ticks(p, x0, H - TICKS_HEIGHT, fm)
        if self._T:
            x = self._x(self._t + 0.5)
            p.setPen(QPen(QColor("#111"), 2))
            p.drawLine(QPointF(x, 0), QPointF(x, H))

    def _paint_ticks(self, p: QPainter, x0: int, top: float, fm) -> None:
        p.setPen(QColor("#9aa0a6"))
        p.drawLine(QPointF(x0, top), QPointF(self.width() - 6, top))
        if not self._T:
            return
        v0, v1 = self.view
        px_per_frame = (self.width() - x0 - 6) / max(v1 - v0, 1e-9)
        min_gap = fm.horizontalAdvance(f"{self._T}") + 14
        step = int(_NICE_STEPS[np.argmax(_NICE_STEPS * px_per_frame >= min_gap)]) \
            if (_NICE_STEPS * px_per_frame >= min_gap).any() else self._T
        if self._view is not None:   # zoomed in: say which frames these are, in the label column
            p.setClipping(False)
            p.setPen(QColor("#1565c0"))
            p.drawText(QRectF(4, top, x0 - 6, TICKS_HEIGHT), Qt.AlignmentFlag.AlignVCenter,
                       f"×{self._T / (v1 - v0):.1f}")
            p.setClipRect(QRectF(x0, 0, self.width() - 6 - x0, self.height()))
        p.setPen(QColor("#444"))
        for t in range(int(np.ceil(v0 / step)) * step, int(v1) + 1, step):
            x = self._x(t)
            p.drawLine(QPointF(x, top), QPointF(x, top + 4))
            if x + 2 + fm.horizontalAdvance(str(t)) <= self.width():
                p.drawText(QPointF(x + 2, top + 4 + fm.ascent()), str(t))

    # ------------------------------------------------------------------ mouse
    def _selecting(self, event) -> bool:
        """A press that drags out a range: on the frame ruler, or with Shift held."""
        return bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier) or \
            event.position().y() >= self.height() - TICKS_HEIGHT

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if self._T and event.button() == Qt.MouseButton.LeftButton:
            t = self.frame_at(event.position().x())
            if self._selecting(event):
                self._drag = (t, t)
                self.update()
            else:
                self.seek.emit(t)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._T and event.buttons() & Qt.MouseButton.LeftButton:
            t = self.frame_at(event.position().x())
            if self._drag is not None:
                self._drag = (self._drag[0], t)
                self.update()
            else:
                self.seek.emit(t)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._drag is not None and event.button() == Qt.MouseButton.LeftButton:
            a, b = sorted(self._drag)
            self._drag = None
            self.update()
            if b > a:    # a click on the ruler (no drag) selects nothing
                self.rangeSelected.emit(a, b + 1)
            else:
                self.seek.emit(a)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        span = self.span_at(event.position())
        if span is not None:
            self.spanActivated.emit(span)
        elif self._view is not None:
            self.set_view(0, self._T)

    def wheelEvent(self, event) -> None:  # noqa: N802
        if not self._T:
            return super().wheelEvent(event)
        d = event.angleDelta()
        v0, v1 = self.view
        if d.x() or event.modifiers() & Qt.KeyboardModifier.ShiftModifier:   # pan a tenth of the view a notch
            notches = (d.x() or d.y()) / 120.0
            self.set_view(v0 - notches * 0.1 * (v1 - v0), v1 - notches * 0.1 * (v1 - v0))
        elif d.y():
            self.zoom(ZOOM_STEP ** (d.y() / 120.0), self._frame_f(event.position().x()))
        event.accept()

    def event(self, e) -> bool:
        if e.type() == QEvent.Type.ToolTip:
            span = self.span_at(QPointF(e.pos()))
            if span is not None:
                QToolTip.showText(e.globalPos(), f"{span.description}\n(severity {span.severity:.2f}; double-click to loop)", self)
            elif self._T:
                QToolTip.showText(e.globalPos(), HINT, self)
            else:
                QToolTip.hideText()
            return True
        return super().event(e)
