"""Histograms of one metric, bars stacked by split, with labelled draggable threshold lines.

Bars are stacked SFT / pretrain only / dropped in the studio palette. A log scale is drawn
as log10(1 + count) with ticks at 1, 10, 100, … so that bins of one or two clips stay visible.
Clicking a bar asks the table to show the clips of that bin (``binClicked``).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QSizePolicy

from .. import palette

BINS = 40


class InsideLineLabel(pg.InfLineLabel):
    """A threshold line's label that stays whole inside the plot and off the plot's other lines.

    pyqtgraph only flips the label to the other side of the line past the middle; in a narrow plot a
    label longer than half the width was cut off at the edge, and a label could lie across the other
    threshold's line (reading as that line's label). ``others`` gives the x values of the lines to keep
    clear of; the label takes the first side, right then left (left then right past the middle), where
    none crosses it, else it slides to stay inside.
    """

    MARGIN = 3.0  # px between the label and a line or the plot's edge

    def __init__(self, line, others=lambda: [], **kwargs) -> None:
        super().__init__(line, **kwargs)
        self.others = others

    def updatePosition(self) -> None:  # noqa: N802
        super().updatePosition()
        vb = self.line.getViewBox()
        if vb is None or not self.isVisible():
            return
        width, text = vb.boundingRect().width(), self.textItem.boundingRect().width()
        if width <= 0 or text <= 0:
            return
        x = vb.mapFromView(pg.Point(self.line.value(), 0)).x()
        m = self.MARGIN
        # anchor a puts the text on [x - a * text, x + (1 - a) * text]: these keep both ends inside
        lo, hi = (x + text + m - width) / text, (x - m) / text
        sides = (0.0, 1.0) if x < width / 2 else (1.0, 0.0)
        crossing = [vb.mapFromView(pg.Point(v, 0)).x() for v in self.others()]

        def clear(a: float) -> bool:
            left = x - a * text
            return lo <= a <= hi and not any(left - m <= c <= left + text + m for c in crossing)

        anchor = next((a for a in sides if clear(a)), None)
        if anchor is None:
            anchor = float(np.clip(sides[0], lo, hi)) if lo <= hi else hi
        self.setAnchor((anchor, 0.5))


class HistogramPlot(pg.PlotWidget):
    """Stacked bars and one draggable, labelled line per bound control."""

    binClicked = Signal(float, float)  # lo, hi of the clicked bin

    def __init__(self, x_label: str, lo: float, hi: float) -> None:
        super().__init__()
        self.setMinimumHeight(120)
        self.setMaximumHeight(170)
        # follow the column's width instead of pushing it wider than the screen
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(100)
        self.setBackground("w")
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.getPlotItem().setMenuEnabled(False)
        for name in ("left", "bottom"):
            ax = self.getAxis(name)
            ax.setTextPen(pg.mkPen(palette.TEXT))
            ax.setPen(pg.mkPen(palette.AXIS))
            ax.enableAutoSIPrefix(False)
        label_style = {"color": palette.TEXT, "font-size": "8pt"}
        self.setLabel("bottom", x_label, **label_style)
        self.setLabel("left", "clips", **label_style)
        self.lo, self.hi = lo, hi
        self.log_y = False
        self.edges = np.linspace(lo, hi, BINS + 1)
        centres = 0.5 * (self.edges[1:] + self.edges[:-1])
        width = (hi - lo) / BINS * 0.95
        self.bars = [pg.BarGraphItem(x=centres, height=np.zeros(BINS), width=width, brush=c, pen=None)
                     for c in palette.SPLIT_COLOURS]
        for b in self.bars:
            self.addItem(b)
        self.counts = np.zeros((BINS, 3), dtype=np.int64)
        self._scale: tuple[float, bool] | None = None  # (top of the y axis, log) last drawn
        self.lines: dict[str, pg.InfiniteLine] = {}
        self.rules: dict[str, str] = {}
        self.selected = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(palette.SELECTED, width=2,
                                                                               style=Qt.PenStyle.DashLine))
        self.selected.setVisible(False)
        self.addItem(self.selected)
        self.empty = pg.TextItem("no clips loaded", color=palette.AXIS, anchor=(0.5, 0.5))
        self.addItem(self.empty)
        self.empty.setPos((lo + hi) / 2, 0.5)
        self.showAxis("left", False)  # a "clips" axis of 0.2 clips means nothing before there are clips
        self.setXRange(lo, hi, padding=0.02)
        self.setYRange(0, 1, padding=0)
        self.scene().sigMouseClicked.connect(self._clicked)

    # ------------------------------------------------------------------ threshold lines
    def bind(self, control, rule: str) -> pg.InfiniteLine:
        """A line bound both ways to ``control``; ``rule`` formats its label, e.g. 'pretrain ≥ {:.2f}'."""
        field = control.knob.field
        n = len(self.lines)
        line = pg.InfiniteLine(pos=control.value(), angle=90, movable=True,
                               pen=pg.mkPen("#222", width=2), hoverPen=pg.mkPen("#e91e63", width=3))
        line.label = InsideLineLabel(line, others=lambda: self._crossing(line), text=rule.format(control.value()),
                                     position=0.92 - 0.16 * n,
                                     color=palette.TEXT, fill=(255, 255, 255, 210), movable=False)
        line.setToolTip(f"{control.knob.label}: drag to change")
        self.addItem(line)
        line.setVisible(not self.empty.isVisible())
        self.lines[field] = line
        self.rules[field] = rule

        def from_line() -> None:
            control.setValue(float(line.value()))

        def from_control(v: float) -> None:
            if abs(line.value() - v) > 1e-9:
                line.blockSignals(True)
                line.setValue(v)
                line.blockSignals(False)
            # after the move: the label picks its side of the line for the new position (past the middle of the
            # plot it sits left of the line, else its end was cut off at the plot's right edge), and the
            # other labels move off this line where it now crosses them
            line.label.setFormat(rule.format(v))
            self._relabel(but=line)

        line.sigPositionChanged.connect(from_line)
        control.valueChanged.connect(from_control)
        return line

    def _crossing(self, line: pg.InfiniteLine) -> list[float]:
        """x of the lines a label of ``line`` must not lie across: the other thresholds, the selected clip."""
        xs = [other.value() for other in self.lines.values() if other is not line and other.isVisible()]
        return xs + ([self.selected.value()] if self.selected.isVisible() else [])

    def _relabel(self, but: pg.InfiniteLine | None = None) -> None:
        for line in self.lines.values():
            if line is not but:
                line.label.updatePosition()

    def show_value(self, field: str, v: float) -> None:
        line = self.lines[field]
        line.blockSignals(True)
        line.setValue(v)
        line.blockSignals(False)
        line.label.setFormat(self.rules[field].format(v))
        self._relabel(but=line)

    # ------------------------------------------------------------------ bars
    def bin_index(self, values: np.ndarray) -> np.ndarray:
        scaled = (np.nan_to_num(values, nan=self.lo) - self.lo) / (self.hi - self.lo) * BINS
        return np.clip(scaled.astype(np.int64), 0, BINS - 1)

    def set_counts(self, bins: np.ndarray, split: np.ndarray) -> None:
        """``split`` per row: 0 SFT, 1 pretrain only, 2 dropped."""
        self.counts = np.bincount(bins * 3 + split, minlength=BINS * 3).reshape(BINS, 3)
        empty = len(bins) == 0
        if self.empty.isVisible() != empty:
            self.empty.setVisible(empty)
            self.showAxis("left", not empty)
            for line in self.lines.values():  # nothing to split: the lines would only cross the message
                line.setVisible(not empty)
        self._draw()

    def set_log_y(self, on: bool) -> None:
        self.log_y = on
        self._draw()

    def _draw(self) -> None:
        top = np.cumsum(self.counts, axis=1).astype(float)
        bottom = top - self.counts
        if self.log_y:
            top, bottom = np.log10(1 + top), np.log10(1 + bottom)
        for k, bar in enumerate(self.bars):
            bar.setOpts(height=top[:, k] - bottom[:, k], y0=bottom[:, k])
        ymax = max(float(top[:, -1].max()) if len(top) else 0.0, 1.0 if not self.log_y else np.log10(2))
        if (ymax, self.log_y) == self._scale:
            return  # a threshold move only restacks the bars: the axis keeps its ticks and layout
        self._scale = (ymax, self.log_y)
        ax = self.getAxis("left")
        if self.log_y:
            decades = range(int(np.ceil(ymax)) + 1)
            ax.setTicks([[(np.log10(1 + 10 ** d), f"{10 ** d:,}") for d in decades], []])
        else:
            ax.setTicks(None)
        self.setYRange(0, ymax * 1.08, padding=0)
        self.empty.setPos((self.lo + self.hi) / 2, ymax * 0.5)

    def mark_selected(self, value: float | None) -> None:
        """Show where the clip selected in the table lies (hidden for None or NaN)."""
        ok = value is not None and np.isfinite(value)
        self.selected.setVisible(bool(ok))
        if ok:
            self.selected.setValue(float(np.clip(value, self.lo, self.hi)))
        self._relabel()

    def _clicked(self, ev) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or ev.double():
            return
        vb = self.getViewBox()
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        for line in self.lines.values():  # a click on a line is the start of a drag, not a bin
            if line.mouseHovering:
                return
        x = vb.mapSceneToView(ev.scenePos()).x()
        if self.lo <= x <= self.hi:
            k = int(self.bin_index(np.array([x]))[0])
            # the outer bins also hold what lies beyond the axis (as bin_index puts it there)
            lo = -np.inf if k == 0 else float(self.edges[k])
            hi = np.inf if k == BINS - 1 else float(self.edges[k + 1])
            self.binClicked.emit(lo, hi)
