"""The selected run's system metrics (W&B's system panel): CPU, memory, GPU utilisation and GPU memory
over the run's wall time, from the samples the trainer writes (``stickgen_core.system_metrics``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from stickgen_core.system_metrics import system_columns

from ..palette import TEXT
from ..widgets.empty_message import EmptyMessage, show_plot_message
from .live_plots import RUN_COLOURS
from .plot_parts import make_plot

#: plot key -> (y label, what an empty plot says once the run has samples)
PLOTS = {"cpu": ("CPU %", "the trainer and its workers; 100 % = one core"),
         "memory": ("RSS (GB)", "resident memory of the trainer and its workers"),
         "gpu_util": ("GPU util %", "no GPU on this run's machine (or no NVML to read it)"),
         "gpu_mem": ("GPU memory (GB)", "no GPU on this run's machine")}


def _gpus(cols: dict[str, np.ndarray], suffix: str) -> list[str]:
    return sorted((k for k in cols if k.startswith("gpu") and k.endswith(suffix)), key=lambda k: int(k[3:].split("_")[0]))


class SystemPlots(QWidget):
    """Four small plots and a one-line summary of the latest sample; ``show_run(run_id, rows)`` on every poll."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_id: str | None = None
        self._rows: list | None = None
        self.summary = QLabel("Select a run to see its CPU, memory and GPU use")
        self.summary.setWordWrap(True)
        self.plots = {key: make_plot(None, label) for key, (label, _) in PLOTS.items()}
        self.messages = {key: EmptyMessage(p) for key, p in self.plots.items()}
        for p in self.plots.values():
            p.setLabel("bottom", "wall time", units="min", color=TEXT)
            p.getAxis("left").enableAutoSIPrefix(False)
            p.setMouseEnabled(x=True, y=False)
            p.addLegend(offset=(-4, 4), labelTextColor=TEXT, labelTextSize="8pt")
        for key in ("memory", "gpu_util", "gpu_mem"):   # one time axis: zooming one zooms all
            self.plots[key].setXLink(self.plots["cpu"])
        grid = QGridLayout()
        for i, p in enumerate(self.plots.values()):
            grid.addWidget(p, i // 2, i % 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 4, 0, 0)
        lay.addWidget(self.summary)
        lay.addLayout(grid, 1)
        self.curves: dict[str, list[pg.PlotCurveItem]] = {key: [] for key in PLOTS}
        self.show_run(None, None)

    def show_run(self, run_id: str | None, rows: list[dict[str, Any]] | None) -> None:
        """Draw ``rows`` (system.jsonl) of ``run_id``; the same list again (the file unchanged) redraws nothing."""
        if run_id == self.run_id and rows is self._rows and rows is not None:
            return
        self.run_id, self._rows = run_id, rows
        cols = system_columns(rows or [])
        if run_id is None or not cols:
            why = ("Select a run to see its CPU, memory and GPU use" if run_id is None else
                   f"Reading the system metrics of {run_id}…" if rows is None else
                   f"No system metrics for {run_id} yet: the trainer samples them every few seconds once it "
                   "starts (runs trained before this version have none)")
            self.summary.setText(why)
            for key, (label, _) in PLOTS.items():
                self._draw(key, [], label)
            return
        t = cols["minutes"]
        series = {"cpu": [("process", cols.get("cpu_percent")), ("machine", cols.get("sys_cpu_percent"))],
                  "memory": [("process", cols["rss_mb"] / 1024 if "rss_mb" in cols else None)],
                  "gpu_util": [(k.split("_")[0], cols[k]) for k in _gpus(cols, "_util_percent")],
                  "gpu_mem": [(k.split("_")[0], cols[k] / 1024) for k in _gpus(cols, "_mem_mb")]}
        totals = [cols[k][-1] / 1024 for k in _gpus(cols, "_mem_total_mb")]
        floors = {"cpu": 100.0, "gpu_util": 100.0, "gpu_mem": max(totals, default=0.0)}
        for key, lines in series.items():
            drawn = [(name, t, y) for name, y in lines if y is not None]
            self._draw(key, drawn, PLOTS[key][1])
            if drawn:   # from 0, so a steady 87 % reads as 87 % and not as noise around it
                top = max(float(np.nanmax(y)) if np.isfinite(y).any() else 0.0 for _, _, y in drawn)
                self.plots[key].setYRange(0.0, max(top * 1.1, floors.get(key, 0.0), 1e-6), padding=0.02)
        self.summary.setText(f"<b>{run_id}</b> · {len(t)} samples over {t[-1]:.1f} min · latest: "
                             + " · ".join(self.latest(cols)))

    @staticmethod
    def latest(cols: dict[str, np.ndarray]) -> list[str]:
        """The last sample in words: 'CPU 312 %', 'RSS 1.2 GB', 'machine memory 41 %', 'gpu0 87 % · 30.1 / 80.0 GB'."""
        def last(key: str) -> float | None:
            v = cols.get(key)
            return float(v[-1]) if v is not None and np.isfinite(v[-1]) else None
        parts = []
        for key, text in (("cpu_percent", "CPU {:.0f} %"), ("rss_mb", "RSS {:.2f} GB"),
                          ("sys_mem_percent", "machine memory {:.0f} %")):
            value = last(key)
            if value is not None:
                parts.append(text.format(value / 1024 if key == "rss_mb" else value))
        for k in _gpus(cols, "_mem_mb"):
            gpu = k.split("_")[0]
            util, used, total = last(f"{gpu}_util_percent"), last(k), last(f"{gpu}_mem_total_mb")
            parts.append(f"{gpu}" + (f" {util:.0f} %" if util is not None else "")
                         + (f" · {used / 1024:.1f} / {total / 1024:.1f} GB" if used is not None and total else ""))
        return parts

    def _draw(self, key: str, lines: list[tuple[str, np.ndarray, np.ndarray]], empty: str | None) -> None:
        """Set one plot's lines (name, x, y); with none, ``empty`` covers it (its axes hidden)."""
        plot, curves = self.plots[key], self.curves[key]
        if [name for name, _, _ in lines] != self.names(key):   # lines came or went: a fresh legend
            for curve in curves:
                plot.removeItem(curve)
            curves.clear()
            if plot.getPlotItem().legend is not None:
                plot.getPlotItem().legend.clear()
            for i, (name, _, _) in enumerate(lines):
                curve = pg.PlotCurveItem(pen=pg.mkPen(RUN_COLOURS[i % len(RUN_COLOURS)], width=1.5), name=name)
                plot.addItem(curve)
                curves.append(curve)
        for curve, (_, x, y) in zip(curves, lines):
            curve.setData(x, y, connect="finite")
        show_plot_message(plot, self.messages[key], None if lines else empty)
        if lines:
            plot.enableAutoRange(axis="x")

    def names(self, key: str) -> list[str]:
        """The lines drawn on one plot (for tests and the tooltip)."""
        return [c.name() for c in self.curves[key]]
