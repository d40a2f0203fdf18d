"""The pieces the live plots are built from: a plot whose x range steps ahead of growing runs, and a
compact legend that sits beside the loss plot (so it never covers a curve)."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QFrame, QGraphicsItem, QListWidget, QListWidgetItem, QWidget

from ..palette import AXIS, TEXT

# a strictly increasing ladder of round numbers (x 10^k): the x range grows to the next of them
NICE = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def headroom(span: float) -> float:
    """The smallest round number >= ``span`` (at most 25 % more)."""
    if not span > 0 or not math.isfinite(span):
        return span
    scale = 10.0 ** math.floor(math.log10(span))
    return next(m * scale for m in NICE if m * scale >= span * (1 - 1e-12))


class HeadroomViewBox(pg.ViewBox):
    """Auto-range whose x extent is rounded up to a round width: a poll that adds a few points leaves
    the range (and so the axis text and every curve's clipping) as it is, instead of moving it every tick."""

    def childrenBounds(self, frac=None, orthoRange=(None, None), items=None):
        bounds = super().childrenBounds(frac=frac, orthoRange=orthoRange, items=items)
        if bounds[0] is not None and not self.state["logMode"][0]:
            lo, hi = bounds[0]
            width = headroom(1.05 * (hi - lo))       # always some room ahead
            # the low edge snaps to a grid of that width too: symbols' pixel margins nudge it when the range moves
            unit = width / 100 or 1.0
            lo = math.floor(lo / unit) * unit
            bounds[0] = [lo, lo + (width if lo + width >= hi else headroom(hi - lo))]
        return bounds


def nearest_values(curves, x: float) -> list[tuple[str, str, float]]:
    """(run, name, y of the row whose x is nearest to ``x``) for each (run, name, xs, ys) with rows
    (xs ascending); a tie goes to the earlier row."""
    out = []
    for run_id, name, xs, ys in curves:
        if not len(xs):
            continue
        i = int(np.clip(np.searchsorted(xs, x), 1, len(xs) - 1)) if len(xs) > 1 else 0
        if len(xs) > 1 and abs(xs[i - 1] - x) <= abs(xs[i] - x):
            i -= 1
        out.append((run_id, name, float(ys[i])))
    return out


def make_plot(title: str | None, y_label: str) -> pg.PlotWidget:
    """A white plot with a faint grid; its axes are cached as pixmaps, since a curve update repaints
    the grid they draw under the curves (re-rendering the tick text was most of a tick's cost)."""
    w = pg.PlotWidget(background="w", viewBox=HeadroomViewBox())
    if title:
        w.setTitle(title, color=TEXT, size="10pt")
    w.setLabel("left", y_label, color=TEXT)
    # x is steps, epochs or minutes: an SI prefix made a run shorter than a minute read "wall time (mmin)"
    w.getAxis("bottom").enableAutoSIPrefix(False)
    w.showGrid(x=True, y=True, alpha=0.15)
    for axis in ("left", "bottom"):
        w.getAxis(axis).setTextPen(TEXT)
        w.getAxis(axis).setPen(AXIS)
        w.getAxis(axis).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    w.setMinimumHeight(90)
    return w


def line_icon(colour: str, style: Qt.PenStyle | None, dot: str | None = None) -> QIcon:
    """A short line sample in ``style`` (or a symbol, ``dot``: 'o' or 'star') for a legend row."""
    pix = QPixmap(28, 12)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    if style is not None:
        p.setPen(QPen(QColor(colour), 2, style))
        p.drawLine(1, 6, 27, 6)
    if dot:
        p.setPen(QPen(QColor("black" if dot == "star" else "white"), 1))
        p.setBrush(QColor(colour))
        if dot == "o":
            p.drawEllipse(9, 1, 10, 10)
        else:
            p.setPen(QPen(QColor(colour), 1))
            p.drawText(pix.rect(), Qt.AlignmentFlag.AlignCenter, "★")
    p.end()
    return QIcon(pix)


class RunLegend(QListWidget):
    """One row per shown run (its colour) and one per line style in use (loss term, val point, best)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("run-legend")
        self.setFixedWidth(150)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setIconSize(QSize(28, 12))
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setStyleSheet(f"QListWidget {{ background: transparent; color: {TEXT}; font-size: 8pt; }}")

    def set_entries(self, entries: list[tuple[str, str, Qt.PenStyle | None, str | None]]) -> None:
        """(text, colour, pen style or None, symbol or None) per row."""
        self.clear()
        for text, colour, style, dot in entries:
            item = QListWidgetItem(line_icon(colour, style, dot), text)
            item.setToolTip(text)
            self.addItem(item)

    def labels(self) -> list[str]:
        return [self.item(i).text() for i in range(self.count())]
