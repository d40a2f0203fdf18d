"""Threshold controls for every CurationConfig field; histograms with draggable lines.

Each number has a slider and a spin box; five of them also own a line on a histogram
(quality, realism, artifact score, camera stability, length). Slider, spin box and
line stay bound both ways. Bars are stacked: SFT, pretrain only, dropped.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QDoubleSpinBox, QFormLayout, QGridLayout, QGroupBox, QLabel, QLineEdit,
                               QSizePolicy,
                               QSlider, QSpinBox, QVBoxLayout, QWidget)

from stickgen_core.curation import CurationConfig

BINS = 40
SPLIT_COLOURS = ("#2e9d57", "#5b8fd6", "#d9544d")  # SFT, pretrain only, dropped


@dataclass(frozen=True)
class Knob:
    field: str
    label: str
    lo: float
    hi: float
    decimals: int = 2
    histogram: str | None = None  # which histogram shows it as a line


KNOBS = [
    Knob("min_quality_pretrain", "Min quality (pretrain)", 0, 1, 2, "quality"),
    Knob("min_quality_sft", "Min quality (SFT)", 0, 1, 2, "quality"),
    Knob("min_realism_pretrain", "Min realism (pretrain)", 0, 1, 2, "realism"),
    Knob("min_realism_sft", "Min realism (SFT)", 0, 1, 2, "realism"),
    Knob("max_artifact_score", "Max artifact score", 0, 1, 2, "artifact"),
    Knob("min_camera_stability_sft", "Min camera stability (SFT)", 0, 1, 2, "camera"),
    Knob("min_frames", "Min frames", 1, 1000, 0, "length"),
    Knob("max_frames", "Max frames", 1, 1000, 0, "length"),
    Knob("balance_max_fraction", "Max share per action (SFT)", 0.01, 1, 2),
    Knob("max_source_fraction", "Max share per source (SFT)", 0.01, 1, 2),
    Knob("synthetic_quality_penalty", "Synthetic quality penalty", 0, 1, 2),
    Knob("default_source_weight", "Weight of unlisted sources", 0, 1, 2),
    Knob("target_height", "Target height (m)", 0.5, 2.5, 2),
    Knob("smooth_sigma", "Smoothing sigma (frames)", 0.1, 5, 1),
]
SWITCHES = [("prefer_mocap", "Prefer mocap"), ("balance_by_source", "Balance sources"),
            ("normalize_height", "Normalise height"), ("smooth", "Smooth on export")]
HISTOGRAMS = {"quality": ("Quality", None), "realism": ("Realism", "realism_score"),
              "artifact": ("Artifact score", "artifact_score"), "camera": ("Camera stability", "camera_stability"),
              "length": ("Length (frames)", "n_frames")}


class NumberControl(QWidget):
    """Slider + spin box for one number; ``valueChanged`` fires once per user change."""

    valueChanged = Signal(float)

    def __init__(self, knob: Knob) -> None:
        super().__init__()
        self.knob = knob
        self._scale = 10 ** knob.decimals if knob.decimals else 1
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(int(round(knob.lo * self._scale)), int(round(knob.hi * self._scale)))
        if knob.decimals:
            self.spin = QDoubleSpinBox()
            self.spin.setDecimals(knob.decimals)
            self.spin.setSingleStep(1 / self._scale)
        else:
            self.spin = QSpinBox()
        self.spin.setRange(knob.lo, knob.hi)
        self.spin.setFixedWidth(72)
        self.slider.setMinimumWidth(60)
        self.setObjectName(knob.field)
        lay = QGridLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        title = QLabel(knob.label)
        title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        lay.addWidget(title, 0, 0, 1, 2)
        lay.addWidget(self.slider, 1, 0)
        lay.addWidget(self.spin, 1, 1)
        self.slider.valueChanged.connect(lambda v: self._set(v / self._scale, source="slider"))
        self.spin.valueChanged.connect(lambda v: self._set(float(v), source="spin"))
        self._value = float(knob.lo)

    def value(self) -> float:
        return self._value

    def setValue(self, v: float, emit: bool = True) -> None:  # noqa: N802 (Qt naming)
        self._set(float(v), source="api", emit=emit)

    def _set(self, v: float, source: str, emit: bool = True) -> None:
        v = float(np.clip(round(v, self.knob.decimals), self.knob.lo, self.knob.hi))
        if v == self._value and source != "api":
            return
        self._value = v
        for w, val in ((self.slider, int(round(v * self._scale))), (self.spin, v if self.knob.decimals else int(v))):
            if w.value() != val:
                w.blockSignals(True)
                w.setValue(val)
                w.blockSignals(False)
        if emit:
            self.valueChanged.emit(v)


class HistogramPlot(pg.PlotWidget):
    """Stacked bars (SFT / pretrain only / dropped) and one draggable line per bound control."""

    def __init__(self, title: str, lo: float, hi: float) -> None:
        super().__init__()
        self.setMinimumHeight(110)
        self.setMaximumHeight(150)
        # follow the column's width instead of pushing it wider than the screen
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(100)
        self.setBackground("w")
        self.setTitle(title, size="9pt", color="#333")
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.getPlotItem().setMenuEnabled(False)
        self.lo, self.hi = lo, hi
        self.edges = np.linspace(lo, hi, BINS + 1)
        centres = 0.5 * (self.edges[1:] + self.edges[:-1])
        width = (hi - lo) / BINS * 0.95
        self.bars = [pg.BarGraphItem(x=centres, height=np.zeros(BINS), width=width, brush=c, pen=None)
                     for c in SPLIT_COLOURS]
        for b in self.bars:
            self.addItem(b)
        self.lines: dict[str, pg.InfiniteLine] = {}
        self.setXRange(lo, hi, padding=0.02)

    def bind(self, control: NumberControl) -> pg.InfiniteLine:
        line = pg.InfiniteLine(pos=control.value(), angle=90, movable=True,
                               pen=pg.mkPen("#222", width=2), hoverPen=pg.mkPen("#e91e63", width=3))
        line.setToolTip(control.knob.label)
        self.addItem(line)
        self.lines[control.knob.field] = line

        def from_line() -> None:
            control.setValue(float(line.value()))

        def from_control(v: float) -> None:
            if abs(line.value() - v) > 1e-9:
                line.blockSignals(True)
                line.setValue(v)
                line.blockSignals(False)

        line.sigPositionChanged.connect(from_line)
        control.valueChanged.connect(from_control)
        return line

    def bin_index(self, values: np.ndarray) -> np.ndarray:
        scaled = (np.nan_to_num(values, nan=self.lo) - self.lo) / (self.hi - self.lo) * BINS
        return np.clip(scaled.astype(np.int64), 0, BINS - 1)

    def set_counts(self, bins: np.ndarray, split: np.ndarray) -> None:
        """``split`` per row: 0 SFT, 1 pretrain only, 2 dropped."""
        counts = np.bincount(bins * 3 + split, minlength=BINS * 3).reshape(BINS, 3)
        base = np.zeros(BINS)
        for k, bar in enumerate(self.bars):
            bar.setOpts(height=counts[:, k], y0=base.copy())
            base += counts[:, k]
        self.setYRange(0, max(base.max(), 1) * 1.05, padding=0)


class ThresholdPanel(QWidget):
    """Every CurationConfig field as a control; ``changed`` fires on any user edit."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.controls: dict[str, NumberControl] = {}
        self.switches: dict[str, QCheckBox] = {}
        self.weights: dict[str, QDoubleSpinBox] = {}
        self.histograms: dict[str, HistogramPlot] = {}
        self._bins: dict[str, np.ndarray] = {}
        self._base = CurationConfig()
        lay = QVBoxLayout(self)
        for key, (title, _) in HISTOGRAMS.items():
            lo, hi = (1, 1000) if key == "length" else (0, 1)
            self.histograms[key] = HistogramPlot(title, lo, hi)
        for knob in KNOBS:
            c = NumberControl(knob)
            c.setValue(getattr(self._base, knob.field), emit=False)
            c.valueChanged.connect(self.changed)
            self.controls[knob.field] = c
        for key, hist in self.histograms.items():
            box = QGroupBox(hist.plotItem.titleLabel.text or key)
            box.setTitle(HISTOGRAMS[key][0])
            hist.setTitle(None)
            b = QVBoxLayout(box)
            b.addWidget(hist)
            for knob in KNOBS:
                if knob.histogram == key:
                    hist.bind(self.controls[knob.field])
                    b.addWidget(self.controls[knob.field])
            lay.addWidget(box)
        other = QGroupBox("Balancing and export")
        form = QVBoxLayout(other)
        for knob in KNOBS:
            if knob.histogram is None:
                form.addWidget(self.controls[knob.field])
        for field, label in SWITCHES:
            cb = QCheckBox(label)
            cb.setChecked(getattr(self._base, field))
            cb.toggled.connect(self.changed)
            self.switches[field] = cb
            form.addWidget(cb)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(self._base.seed)
        self.seed.valueChanged.connect(self.changed)
        seed_row = QFormLayout()
        seed_row.addRow("Seed", self.seed)
        form.addLayout(seed_row)
        self.source_lists: dict[str, QLineEdit] = {}
        lists = QFormLayout()
        for field, label in (("synthetic_sources", "Synthetic sources"), ("mocap_sources", "Mocap sources")):
            edit = QLineEdit(", ".join(getattr(self._base, field)))
            edit.setToolTip("Comma-separated source names")
            edit.editingFinished.connect(self.changed)
            self.source_lists[field] = edit
            lists.addRow(label, edit)
        form.addLayout(lists)
        self.weights_box = QGroupBox("Source weights")
        self.weights_box.setToolTip("How much each source's realism score counts in its quality")
        self.weights_form = QFormLayout(self.weights_box)
        form.addWidget(self.weights_box)
        lay.addWidget(other)
        lay.addStretch(1)

    # ------------------------------------------------------------------ config
    def config(self) -> CurationConfig:
        values = {f: (int(c.value()) if c.knob.decimals == 0 else c.value()) for f, c in self.controls.items()}
        values.update({f: cb.isChecked() for f, cb in self.switches.items()})
        weights = dict(self._base.source_weights)
        weights.update({s: w.value() for s, w in self.weights.items()})
        lists = {f: tuple(x.strip() for x in e.text().split(",") if x.strip()) for f, e in self.source_lists.items()}
        return dataclasses.replace(self._base, **values, **lists, seed=self.seed.value(), source_weights=weights)

    def set_config(self, cfg: CurationConfig) -> None:
        """Show ``cfg`` in every control (one ``changed`` at the end)."""
        self._base = cfg
        for f, c in self.controls.items():
            c.setValue(getattr(cfg, f), emit=False)
            for hist in self.histograms.values():
                if f in hist.lines:
                    hist.lines[f].blockSignals(True)
                    hist.lines[f].setValue(getattr(cfg, f))
                    hist.lines[f].blockSignals(False)
        for f, cb in self.switches.items():
            cb.blockSignals(True)
            cb.setChecked(getattr(cfg, f))
            cb.blockSignals(False)
        self.seed.blockSignals(True)
        self.seed.setValue(cfg.seed)
        self.seed.blockSignals(False)
        for f, e in self.source_lists.items():
            e.setText(", ".join(getattr(cfg, f)))
        for s, w in self.weights.items():
            w.blockSignals(True)
            w.setValue(cfg.source_weights.get(s, cfg.default_source_weight))
            w.blockSignals(False)
        self.changed.emit()

    def set_sources(self, sources: list[str]) -> None:
        """One weight box per source present in the data."""
        cfg = self.config()
        for s in sources:
            if s in self.weights:
                continue
            w = QDoubleSpinBox()
            w.setRange(0, 1)
            w.setSingleStep(0.05)
            w.setValue(cfg.source_weights.get(s, cfg.default_source_weight))
            w.valueChanged.connect(self.changed)
            self.weights[s] = w
            self.weights_form.addRow(s, w)

    # ------------------------------------------------------------------ histograms
    def set_table(self, table: pd.DataFrame) -> None:
        """Bin every row once per histogram; only quality (config dependent) is re-binned later."""
        self._bins = {key: hist.bin_index(table[col].to_numpy(dtype=np.float64))
                      for key, hist in self.histograms.items() if (col := HISTOGRAMS[key][1])}

    def update_histograms(self, quality: np.ndarray, pretrain: np.ndarray, sft: np.ndarray) -> None:
        split = np.where(sft, 0, np.where(pretrain, 1, 2))
        self._bins["quality"] = self.histograms["quality"].bin_index(quality)
        for key, hist in self.histograms.items():
            if key in self._bins:
                hist.set_counts(self._bins[key], split)
