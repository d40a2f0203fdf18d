"""The issue timeline: one labelled row per issue kind, spans coloured by severity, frame
ticks, a playhead and the looped range. Click or drag to seek; double-click a span to loop it."""

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
_NICE_STEPS = np.array([1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000])


class IssueTimeline(QWidget):
    """Rows of issue spans over ``n_frames`` frames, with a playhead."""

    seek = Signal(int)
    spanActivated = Signal(object)  # IssueSpan, on double-click

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self._spans: list[IssueSpan] = []
        self._kinds: list[str] = []
        self._T = 0
        self._t = 0
        self._range: tuple[int, int] | None = None
        self._update_height()

    # ------------------------------------------------------------------ state
    def set_issues(self, spans: Sequence[IssueSpan], n_frames: int) -> None:
        self._spans = list(spans)
        self._kinds = kinds_in_order(self._spans)
        self._T, self._t, self._range = int(n_frames), 0, None
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

    # ------------------------------------------------------------------ geometry
    def _update_height(self) -> None:
        self.setFixedHeight(6 + ROW_HEIGHT * max(len(self._kinds), 1) + TICKS_HEIGHT)

    def label_width(self) -> int:
        fm = self.fontMetrics()
        return 12 + max((fm.horizontalAdvance(lbl) for lbl in self.row_labels + ["no issues"]), default=0)

    def _x(self, t: float) -> float:
        x0 = self.label_width()
        return x0 + (self.width() - x0 - 6) * t / max(self._T, 1)

    def frame_at(self, x: float) -> int:
        """The frame under a horizontal position (clamped to the clip)."""
        x0 = self.label_width()
        t = int((x - x0) / max(self.width() - x0 - 6, 1) * self._T)
        return int(np.clip(t, 0, max(self._T - 1, 0)))

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
        if not self._kinds and self._T:  # with no clip shown, "no issues" would read as a verdict
            p.setPen(QColor("#555"))
            p.drawText(QRectF(6, 3, x0 + 200, ROW_HEIGHT), Qt.AlignmentFlag.AlignVCenter, "no issues")
        for row, kind in enumerate(self._kinds):
            y = 3 + row * ROW_HEIGHT
            if row % 2:
                p.fillRect(QRectF(x0, y, W - x0, ROW_HEIGHT), QColor("#e8eaee"))
            p.setPen(QColor("#222"))
            p.drawText(QRectF(6, y, x0 - 8, ROW_HEIGHT), Qt.AlignmentFlag.AlignVCenter, issue_label(kind))
            for s in self._spans:
                if s.kind == kind:
                    x1, x2 = self._x(s.start), self._x(s.end)
                    p.fillRect(QRectF(x1, y + 2, max(x2 - x1, 2.0), ROW_HEIGHT - 4), issue_colour(kind, s.severity))
        if self._range is not None:
            a, b = self._range
            band = QColor("#1565c0")
            band.setAlpha(40)
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
        px_per_frame = (self.width() - x0 - 6) / self._T
        min_gap = fm.horizontalAdvance(f"{self._T}") + 14
        step = int(_NICE_STEPS[np.argmax(_NICE_STEPS * px_per_frame >= min_gap)]) \
            if (_NICE_STEPS * px_per_frame >= min_gap).any() else self._T
        p.setPen(QColor("#444"))
        for t in range(0, self._T + 1, step):
            x = self._x(t)
            p.drawLine(QPointF(x, top), QPointF(x, top + 4))
            if x + 2 + fm.horizontalAdvance(str(t)) <= self.width():
                p.drawText(QPointF(x + 2, top + 4 + fm.ascent()), str(t))

    # ------------------------------------------------------------------ mouse
    def mousePressEvent(self, event) -> None:  # noqa: N802
        if self._T and event.button() == Qt.MouseButton.LeftButton:
            self.seek.emit(self.frame_at(event.position().x()))

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._T and event.buttons() & Qt.MouseButton.LeftButton:
            self.seek.emit(self.frame_at(event.position().x()))

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        span = self.span_at(event.position())
        if span is not None:
            self.spanActivated.emit(span)

    def event(self, e) -> bool:
        if e.type() == QEvent.Type.ToolTip:
            span = self.span_at(QPointF(e.pos()))
            if span is not None:
                QToolTip.showText(e.globalPos(), f"{span.description}\n(severity {span.severity:.2f}; double-click to loop)", self)
            else:
                QToolTip.hideText()
            return True
        return super().event(e)
