"""Live loss, learning-rate and throughput plots of the selected runs, overlaid (pyqtgraph).

A poll tick touches only the curves whose runs grew: each keeps a min/max pyramid of its values
(``peaks``), so what pyqtgraph gets is a few points per pixel column of the visible range however
long the run; the x range steps ahead of growing runs (``plot_parts``), so the axes, their cached
pictures and the other curves stay as they are until the data reach the edge.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QSlider,
                               QToolTip, QVBoxLayout, QWidget)

from stickgen_core.io import atomic_write_text
from stickgen_core.train.series import LOSS_TERMS, DrawnRows, IncreasingCheck, RunSeries

from ..palette import TEXT
from ..widgets.empty_message import EmptyMessage, show_plot_message
from .peaks import PeakPyramid
from .plot_parts import RunLegend, make_plot, nearest_values

RUN_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
               "#7f7f7f", "#bcbd22")
TERM_STYLES = {"total": Qt.PenStyle.SolidLine, "pose": Qt.PenStyle.DashLine, "temporal": Qt.PenStyle.DotLine,
               "action": Qt.PenStyle.DashDotLine, "physics": Qt.PenStyle.DashDotDotLine,
               "diffusion": Qt.PenStyle.DashLine}
X_LABELS = {"step": ("step", "step"), "epoch": ("epoch", "epoch"), "time": ("wall time", "min")}
POINTS_PER_PIXEL = 2    # a (min, max) pair per pixel column for a line
PIXELS_PER_SYMBOL = 4   # val points denser than this overlap anyway: their (min, max) per 8 px is drawn


class LivePlots(QWidget):
    exported = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.series: dict[str, RunSeries] = {}
        self.shown: list[str] = []
        self._drawn = DrawnRows()                             # what each run had when last drawn
        self._curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        self._sources: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, PeakPyramid | None]] = {}
        self._increasing = IncreasingCheck()                  # per (run, val?): x still sorted
        self._shown_for: dict[int, tuple] = {}     # id(view box) -> (x range, width, auto) its curves show
        self._marks: list = []
        self._marks_key: tuple = ()
        self._colours: dict[str, str] = {}   # one colour per run, kept while the window lives
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setMinimumWidth(60)
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(60)
        self.smoothing.setToolTip("Exponential moving average of the train curves (TensorBoard's, debiased); "
                                  "the raw values stay as a faint line")
        self.smoothing_label = QLabel()
        self.x_mode = QComboBox()
        self.x_mode.addItems(["step", "epoch", "wall time"])
        self.x_mode.setToolTip("x axis: optimizer step, epoch (fractional), or minutes since the run began")
        self.log_y = QCheckBox("Log y")
        self.outliers = QCheckBox("Ignore outliers")
        self.outliers.setToolTip("Scale the loss axis to the central 98 % of the points")
        self.terms = {t: QCheckBox(t) for t in LOSS_TERMS}
        self.terms["total"].setChecked(True)
        self.png = QPushButton("Export PNG…")
        self.png.setToolTip("Export the plots as a PNG image")
        self.csv = QPushButton("Export CSV…")
        self.csv.setToolTip("Export every metrics row of the shown runs as CSV")
        top = QHBoxLayout()
        top.addWidget(QLabel("Smoothing"))
        top.addWidget(self.smoothing, 1)
        top.addWidget(self.smoothing_label)
        top.addWidget(QLabel("x axis"))
        top.addWidget(self.x_mode)
        for w in (self.log_y, self.outliers):
            top.addWidget(w)
        terms = QHBoxLayout()
        terms.addWidget(QLabel("Loss terms:"))
        for box in self.terms.values():
            terms.addWidget(box)
        terms.addStretch(1)
        self.loss = make_plot("Loss (train lines, val points, ★ best epoch)", "loss")
        self.legend = RunLegend()
        # the small plots name themselves on their y axis: a title took a third of their height on a
        # short screen, and their tick labels printed over each other
        self.lr = make_plot(None, "lr")
        self.lr.getAxis("left").enableAutoSIPrefix(False)  # "lr (x1e-06)" did not fit beside a short plot
        self.speed = make_plot(None, "samples/s")
        small = QHBoxLayout()
        small.addWidget(self.lr)
        small.addWidget(self.speed)
        self.readout = QLabel("Hover over the loss plot to read every curve's value")
        self.readout.setWordWrap(True)
        # an empty plot says why it is empty instead of drawing bare 0-1 axes
        self.messages = {p: EmptyMessage(p) for p in (self.loss, self.lr, self.speed)}
        self._message: str | None = ""
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#888888", width=1))
        self.cursor.setVisible(False)
        self.loss.addItem(self.cursor, ignoreBounds=True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addLayout(terms)
        loss_row = QHBoxLayout()
        loss_row.addWidget(self.loss, 1)
        loss_row.addWidget(self.legend)
        lay.addLayout(loss_row, 3)
        lay.addLayout(small, 2)
        bottom = QHBoxLayout()   # the export buttons sit here so the page fits a 1024 px screen
        bottom.addWidget(self.readout, 1)
        bottom.addWidget(self.png)
        bottom.addWidget(self.csv)
        lay.addLayout(bottom)
        self.smoothing.valueChanged.connect(self._settings_changed)
        self.x_mode.currentIndexChanged.connect(self._settings_changed)
        self.log_y.toggled.connect(lambda on: self.loss.setLogMode(y=on))
        for p in (self.loss, self.lr, self.speed):   # also the plots' own context menus
            p.getPlotItem().ctrl.logYCheck.toggled.connect(lambda *_: self._rebuild())
        self.outliers.toggled.connect(self._autorange)
        for box in self.terms.values():
            box.toggled.connect(self._settings_changed)
        self.png.clicked.connect(lambda: self.export_png())
        self.csv.clicked.connect(lambda: self.export_csv())
        self.loss.scene().sigMouseMoved.connect(self._hover)
        for p in (self.loss, self.lr, self.speed):   # zoom, pan, resize or auto-range on again: re-pick the points
            vb = p.getViewBox()
            vb.sigXRangeChanged.connect(lambda *_, v=vb: self._reshow(v))
            vb.sigResized.connect(lambda *_, v=vb: self._reshow(v))
            vb.sigStateChanged.connect(lambda *_, v=vb: self._reshow(v))
        self._settings_changed()

    # ------------------------------------------------------------------ state
    @property
    def weight(self) -> float:
        return self.smoothing.value() / 100.0

    @property
    def mode(self) -> str:
        return ("step", "epoch", "time")[self.x_mode.currentIndex()]

    def show_runs(self, run_ids: list[str]) -> None:
        """Overlay these runs (the runs list's selection)."""
        if list(run_ids) != self.shown:
            self.shown = list(run_ids)
            self._rebuild()

    def colour(self, run_id: str) -> str:
        """The run's colour, the same alone or overlaid: handed out in the registry's order at first sight."""
        return self._colours.setdefault(run_id, RUN_COLOURS[len(self._colours) % len(RUN_COLOURS)])

    def update_series(self, series: dict[str, RunSeries]) -> None:
        """Draw what is new since the last call (called on every poll)."""
        self.series = series
        for run_id in series:   # the poll's order: oldest run first
            self.colour(run_id)
        grown = self._drawn.grown(self.shown, series)
        for run_id in grown:
            self._draw_run(run_id)
        if grown:
            self._draw_marks()
        self._say_why_empty()

    def _settings_changed(self, *_: object) -> None:
        self.smoothing_label.setText(f"{self.weight:.2f}")
        label, unit = X_LABELS[self.mode]
        # only the loss plot names the x axis: the small plots share it, and need the height for their own
        self.loss.setLabel("bottom", label, units=None if unit == label else unit, color=TEXT)
        self._rebuild()

    def _rebuild(self) -> None:
        for item in self._curves.values():
            if item.getViewBox() is not None:
                item.getViewBox().removeItem(item)
        self._curves.clear()
        self._sources.clear()
        self._increasing.clear()
        self._shown_for.clear()
        self._drawn.clear()
        self._marks_key = ()
        for run_id in self.shown:
            if run_id in self.series:
                self._draw_run(run_id)
        self._draw_marks()
        self._fill_legend()
        self._say_why_empty()

    def _say_why_empty(self) -> None:
        if not self.shown:
            text = "No run selected: select one or more runs above to plot them"
        elif not any(s is not None and (s.steps.n or s.epochs.n) for s in map(self.series.get, self.shown)):
            text = "No logged step yet: the first points appear after the run's first logging interval"
        else:
            text = None
        if text != self._message:
            self._message = text
            show_plot_message(self.loss, self.messages[self.loss], text)
            show_plot_message(self.lr, self.messages[self.lr], text and "learning rate")
            show_plot_message(self.speed, self.messages[self.speed], text and "throughput (samples/s)")

    def _fill_legend(self) -> None:
        terms = [t for t, box in self.terms.items() if box.isChecked()]
        rows = [(run_id, self.colour(run_id), Qt.PenStyle.SolidLine, None) for run_id in self.shown]
        if len(terms) > 1:
            rows += [(term, TEXT, TERM_STYLES[term], None) for term in terms]
        rows += [("val loss", "#888888", None, "o"), ("best epoch", "#888888", None, "star")]
        self.legend.set_entries(rows if self.shown else [])

    def _autorange(self) -> None:
        self.loss.getViewBox().enableAutoRange(axis="y", enable=0.98 if self.outliers.isChecked() else True)

    # ------------------------------------------------------------------ drawing
    def _curve(self, plot: pg.PlotWidget, run_id: str, key: str, name: str | None, line: bool = True,
               **style) -> pg.PlotDataItem | pg.PlotCurveItem:
        """A run's curve; lines are bare PlotCurveItems (a tenth of PlotDataItem's cost per setData)."""
        item = self._curves.get((run_id, key))
        if item is None:
            item = pg.PlotCurveItem(name=name, **style) if line else pg.PlotDataItem(name=name, **style)
            plot.addItem(item)
            self._curves[(run_id, key)] = item
        return item

    def _set(self, item: pg.PlotDataItem, run_id: str, key: str, x: np.ndarray, y: np.ndarray,
             decimate: bool = True) -> None:
        """Give a curve its run's full columns; it shows what fits the visible range and pixel width."""
        pyramid = None
        if decimate:
            old = self._sources.get((run_id, key))
            pyramid = old[2] if old is not None and old[2] is not None else PeakPyramid()
            pyramid.update(y)
        self._sources[(run_id, key)] = (x, y, pyramid)
        self._show(item, run_id, key)

    def _show(self, item: pg.PlotDataItem, run_id: str, key: str) -> None:
        x, y, pyramid = self._sources[(run_id, key)]
        vb = item.getViewBox()
        if pyramid is None or vb is None:
            item.setData(x, y)
            return
        i0, i1 = 0, len(x)
        # following the data (auto-range on x) shows everything, so only a zoomed-in view is clipped
        if not vb.state["autoRange"][0] and self._increasing((run_id, key.startswith("val_")), x):
            x0, x1 = vb.viewRange()[0]
            i0 = max(int(np.searchsorted(x, x0)) - 1, 0)             # one row past each edge: the line
            i1 = min(int(np.searchsorted(x, x1, side="right")) + 1, len(x))   # runs off the plot
        width = max(int(vb.width()), 100)
        most = POINTS_PER_PIXEL * width if isinstance(item, pg.PlotCurveItem) else width // PIXELS_PER_SYMBOL
        xs, ys = pyramid.view(x, y, i0, i1, most)
        if self._log_y(vb):     # a bare curve does not follow the plot's log mode: hand it log10 values
            with np.errstate(divide="ignore", invalid="ignore"):
                ys = np.log10(np.where(ys > 0, ys, np.nan))
        item.setData(xs, ys)

    def _log_y(self, vb: pg.ViewBox) -> bool:
        return any(p.getViewBox() is vb and p.getPlotItem().ctrl.logYCheck.isChecked()
                   for p in (self.loss, self.lr, self.speed))

    def _reshow(self, vb: pg.ViewBox) -> None:
        """The visible range, the plot width or auto-ranging changed: pick every curve's points again."""
        shown = (tuple(vb.viewRange()[0]), vb.width(), bool(vb.state["autoRange"][0]))
        if self._shown_for.get(id(vb)) == shown:
            return
        self._shown_for[id(vb)] = shown
        for (run_id, key), item in list(self._curves.items()):
            if item.getViewBox() is vb and (run_id, key) in self._sources:
                self._show(item, run_id, key)

    def _draw_run(self, run_id: str) -> None:
        """(Re)set the curves of one run; only those whose rows grew since the last draw."""
        s = self.series[run_id]
        colour = self.colour(run_id)
        xs, xe, w = s.x("steps", self.mode), s.x("epochs", self.mode), self.weight
        new_steps, new_epochs = self._drawn.news(run_id, s)
        if self.mode == "epoch" and new_epochs:  # steps per epoch may have become known: steps move too
            new_steps = True
        for term, box in self.terms.items():
            if not box.isChecked():
                continue
            key = f"train_{term}"
            if key in s.steps and new_steps:
                pen = pg.mkPen(colour, width=1, style=TERM_STYLES[term])
                if w > 0:
                    faint = pg.mkPen(pg.mkColor(colour).lighter(170), width=1, style=TERM_STYLES[term])
                    self._set(self._curve(self.loss, run_id, key + ":raw", None, pen=faint),
                              run_id, key + ":raw", xs, s.steps[key])
                self._set(self._curve(self.loss, run_id, key, f"{run_id} · {term}", pen=pen),
                          run_id, key, xs, s.smoothed(key, w))
            if f"val_{term}" in s.epochs and new_epochs:
                item = self._curve(self.loss, run_id, f"val_{term}", f"{run_id} · val {term}", line=False, pen=None,
                                   symbol="o", symbolSize=7, symbolBrush=colour, symbolPen="w")
                self._set(item, run_id, f"val_{term}", xe, s.epochs[f"val_{term}"])
        if "lr" in s.steps and new_steps:
            self._set(self._curve(self.lr, run_id, "lr", None, pen=pg.mkPen(colour, width=1)),
                      run_id, "lr", xs, s.steps["lr"])
        if "samples_per_s" in s.steps and new_steps:
            self._set(self._curve(self.speed, run_id, "samples_per_s", None, pen=pg.mkPen(colour, width=1)),
                      run_id, "samples_per_s", xs, s.smoothed("samples_per_s", w))
        self._drawn.mark(run_id, s)

    def _draw_marks(self) -> None:
        """The best epoch of every shown run: a star on its val point (one item for all runs) and a
        labelled vertical line."""
        log = self._log_y(self.loss.getViewBox())
        key = (self.mode, log, tuple((r, self.series[r].best() if r in self.series else None) for r in self.shown))
        if key == self._marks_key:
            return
        self._marks_key = key
        for item in self._marks:
            self.loss.removeItem(item)
        self._marks = []
        stars = []
        # a label's height (text and padding, ~28 px) as a share of the plot's
        step = max(0.1, 30.0 / max(self.loss.getViewBox().height(), 1.0))
        for run_id in self.shown:
            s = self.series.get(run_id)
            best = s.best() if s else None
            if best is None:
                continue
            i, value = best
            x = float(s.x("epochs", self.mode)[i])
            colour = self.colour(run_id)
            stars.append({"pos": (x, np.log10(value) if log and value > 0 else value), "brush": pg.mkBrush(colour)})
            # the label at the top: the star sits low, where the loss is lowest; each overlaid run's label a
            # line lower than the one before, so two runs' labels never print into one string
            line = pg.InfiniteLine(x, angle=90, pen=pg.mkPen(colour, style=Qt.PenStyle.DashLine),
                                   label=f"best {run_id} e{int(s.epochs['epoch'][i]) + 1}",  # 1-based, as the table
                                   labelOpts={"position": 0.92 - (step * (len(stars) - 1)) % 0.8, "color": TEXT,
                                              "fill": (255, 255, 255, 200)})
            self._marks.append(line)
        if stars:
            self._marks.append(pg.ScatterPlotItem(stars, symbol="star", size=16, pen="k"))
        for item in self._marks:
            self.loss.addItem(item, ignoreBounds=True)

    # ------------------------------------------------------------------ hover readout
    def curves(self) -> dict[str, pg.PlotDataItem]:
        """The named (legend) curves on the loss plot, by name."""
        return {item.name(): item for (_, key), item in self._curves.items() if item.name()
                and item.getViewBox() is self.loss.getViewBox()}

    def _hover(self, pos: QPointF) -> None:
        vb = self.loss.getViewBox()
        if not vb.sceneBoundingRect().contains(pos):
            self.cursor.setVisible(False)
            QToolTip.hideText()
            return
        x = vb.mapSceneToView(pos).x()
        self.cursor.setPos(x)
        self.cursor.setVisible(True)
        self.readout.setText(self.readout_at(x))
        lines = [f"<b>{X_LABELS[self.mode][0]} {x:,.4g}</b>"] + [
            f"<span style='color:{self.colour(run_id)}'>■</span> {name} = {value:.4g}"
            for run_id, name, value in self.values_at(x)]
        QToolTip.showText(self.loss.mapToGlobal(self.loss.mapFromScene(pos)) + QPoint(16, 16),
                          "<br>".join(lines), self.loss)

    def readout_at(self, x: float) -> str:
        """Every named curve's value nearest to ``x``: 'run · term = value'."""
        return "   ".join([f"{X_LABELS[self.mode][0]} {x:,.4g}"]
                          + [f"{name} = {value:.4g}" for _, name, value in self.values_at(x)])

    def values_at(self, x: float) -> list[tuple[str, str, float]]:
        """(run, curve name, value of the row nearest to ``x``) of every named curve on the loss plot."""
        vb = self.loss.getViewBox()
        return nearest_values(((run_id, item.name(), *self._sources[(run_id, key)][:2])  # the rows, not the points drawn
                               for (run_id, key), item in self._curves.items()
                               if item.name() and (run_id, key) in self._sources and item.getViewBox() is vb), x)

    # ------------------------------------------------------------------ export
    def export_png(self, path: str | None = None) -> str | None:
        path = path or QFileDialog.getSaveFileName(self, "Export plots as PNG", "training_plots.png", "PNG (*.png)")[0]
        if path:
            self.grab().save(path, "PNG")
            self.exported.emit(path)
        return path or None

    def export_csv(self, path: str | None = None) -> str | None:
        """Every metrics row of the shown runs, one table with a ``run`` column."""
        path = path or QFileDialog.getSaveFileName(self, "Export metrics as CSV", "training_metrics.csv", "CSV (*.csv)")[0]
        if path:
            frames = [self.series[r].frame() for r in self.shown if r in self.series]
            atomic_write_text(Path(path), (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()).to_csv(index=False))
            self.exported.emit(path)
        return path or None
