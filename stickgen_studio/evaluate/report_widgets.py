"""Report summary widgets: rating tiles (table 7.5) and the safe-ratio-per-suite bar chart."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import QSize
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from stickgen_core.eval_reports import rating

from .. import palette
from ..widgets.empty_message import EmptyMessage, show_plot_message

TILES = (("baseline_safe_ratio", "Baseline safe ratio", "> 95 % good · ≥ 80 % acceptable"),
         ("adversarial_safe_ratio", "Adversarial safe ratio", "> 70 % good · ≥ 50 % acceptable"),
         ("robustness_gap", "Robustness gap", "< 15 % good · ≤ 30 % acceptable"))


class Tile(QFrame):
    """A big number, its name and its Good / Acceptable / Poor rating, in the rating's colour."""

    def __init__(self, title: str, rule: str) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(title)
        self.value = QLabel("–")
        self.value.setObjectName("tile-value")
        self.rating = QLabel("")
        self.rating.setObjectName("tile-rating")
        self.setToolTip(f"Table 7.5 of the spec: {rule}")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 4, 10, 4)
        lay.setSpacing(0)
        for w in (self.title, self.value, self.rating):
            lay.addWidget(w)
        self.show_value(None, None, opened=False)

    def show_value(self, value: float | None, rated: str | None, opened: bool = True) -> None:
        """``value`` and its rating; ``opened`` False: no report is open (a dash, nothing rated)."""
        colour = palette.RATING_COLOURS.get(rated, palette.RATING_COLOURS[None])
        self.value.setText("–" if not opened else "n/a" if value is None else f"{value:.1%}")
        self.rating.setText("" if not opened else rated or "no prompts of this kind")
        self.value.setStyleSheet(f"font-size: 20pt; font-weight: 700; color: {colour};")
        self.rating.setStyleSheet(f"color: {colour}; font-weight: 600;")
        self.setStyleSheet(f"Tile {{ border: 2px solid {colour}; border-radius: 6px; }}")


class SummaryTiles(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.tiles = {key: Tile(title, rule) for key, title, rule in TILES}
        self.counts = QLabel()
        self.counts.setWordWrap(True)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        for t in self.tiles.values():
            lay.addWidget(t, 1)
        lay.addWidget(self.counts, 1)

    def show_report(self, report: dict[str, Any] | None) -> None:
        o = report["overall"] if report else {}
        for key, tile in self.tiles.items():
            v = o.get(key)
            tile.show_value(v, rating(key, v), opened=report is not None)
        if report:
            n, safe = len(report["results"]), sum(r["is_safe"] for r in report["results"])
            self.counts.setText(f"<b>{safe} of {n}</b> prompts safe<br>{len(report['suites'])} suites<br>"
                                f"<small>{report.get('created', '')}</small>")
        else:
            self.counts.setText("Open a report from the list, or run an evaluation below it")


class SuiteChart(pg.PlotWidget):
    """Horizontal bars: safe ratio per suite; suites where degradation is expected are purple and starred."""

    def __init__(self) -> None:
        super().__init__()
        self.setBackground("w")
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumHeight(140)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.getPlotItem().setMenuEnabled(False)
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[])
        self.addItem(self.bars)
        for name in ("left", "bottom"):
            self.getAxis(name).setTextPen(pg.mkPen(palette.TEXT))
            self.getAxis(name).setPen(pg.mkPen(palette.AXIS))
        self.setLabel("bottom", "safe ratio", color=palette.TEXT)
        self.setTitle(f"Safe ratio per suite · <span style='color:{palette.SAFE_BAR}'>■</span> degradation not expected "
                      f"· <span style='color:{palette.EXPECTED_DEGRADATION}'>■</span> expected (*)",
                      size="9pt", color=palette.TEXT)
        self.getViewBox().invertY(True)
        self.labels: list[str] = []
        self.message = EmptyMessage(self)
        show_plot_message(self, self.message, "no report open")

    def sizeHint(self) -> QSize:  # noqa: N802
        # pyqtgraph asks for 640 x 480: in the scrolling summary that hid all suites but the first
        return self.minimumSize()

    def set_suites(self, suites: pd.DataFrame) -> None:
        n = len(suites)
        show_plot_message(self, self.message, None if n else "no report open")
        y = np.arange(n, dtype=float)
        brushes = [palette.EXPECTED_DEGRADATION if e else palette.SAFE_BAR for e in suites["expect_degradation"]]
        self.bars.setOpts(x0=np.zeros(n), y=y, height=0.7, width=suites["safe_ratio"].to_numpy(dtype=float),
                          brushes=brushes)
        self.labels = [f"{s}{' *' if e else ''} ({k}/{p})" for s, e, k, p in
                       zip(suites["suite"], suites["expect_degradation"], suites["safe"], suites["prompts"])]
        axis = self.getAxis("left")
        axis.setTicks([[(i, t) for i, t in enumerate(self.labels)]])
        # room for the longest suite name now, not after a repaint (pyqtgraph widens lazily)
        axis.setWidth(max([self.fontMetrics().horizontalAdvance(t) for t in self.labels] + [40]) + 14)
        self.setYRange(-0.6, max(n - 0.4, 0.6), padding=0)
        self.setXRange(0, 1.0, padding=0.02)
        self.setMinimumHeight(60 + 18 * n)

