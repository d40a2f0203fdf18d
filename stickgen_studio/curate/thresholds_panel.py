"""Threshold controls for every CurationConfig field, grouped, with histograms.

Five numbers own a labelled line on a histogram (quality, realism, artifact score, camera
stability, length); line, slider and spin box stay bound both ways. Paired minimum and
maximum push each other instead of producing an invalid config. Export-only settings sit
in their own group that says they do not change the counts.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QDoubleSpinBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget)

from stickgen_core.curation import CurationConfig
from stickgen_core.curation.config import FIELD_HELP
from stickgen_core.errors import ConfigError

from .. import palette
from .controls import CollapsibleSection, Knob, NumberControl
from .histograms import HistogramPlot

KNOBS = [
    Knob("min_quality_pretrain", "Min quality (pretrain)", 0, 1, 2, "quality", "pretrain ≥ {:.2f}"),
    Knob("min_quality_sft", "Min quality (SFT)", 0, 1, 2, "quality", "SFT ≥ {:.2f}"),
    Knob("min_realism_pretrain", "Min realism (pretrain)", 0, 1, 2, "realism", "pretrain ≥ {:.2f}"),
    Knob("min_realism_sft", "Min realism (SFT)", 0, 1, 2, "realism", "SFT ≥ {:.2f}"),
    Knob("max_artifact_score", "Max artifact score", 0, 1, 2, "artifact", "pretrain ≤ {:.2f}"),
    Knob("min_camera_stability_sft", "Min camera stability (SFT)", 0, 1, 2, "camera", "SFT ≥ {:.2f}"),
    Knob("min_frames", "Min frames", 1, 1000, 0, "length", "min {:.0f}"),
    Knob("max_frames", "Max frames", 1, 1000, 0, "length", "max {:.0f}"),
    Knob("balance_max_fraction", "Max share per action (SFT)", 0.01, 1, 2),
    Knob("max_source_fraction", "Max share per source (SFT)", 0.01, 1, 2),
    Knob("synthetic_quality_penalty", "Synthetic quality penalty", 0, 1, 2),
    Knob("default_source_weight", "Weight of unlisted sources", 0, 1, 2),
    Knob("target_height", "Target height (m)", 0.5, 2.5, 2),
    Knob("smooth_sigma", "Smoothing sigma (frames)", 0.1, 5, 1),
]
LABELS = {k.field: k.label for k in KNOBS}
BALANCE_SWITCHES = [("prefer_mocap", "Prefer mocap"), ("balance_by_source", "Balance sources")]
EXPORT_SWITCHES = [("normalize_height", "Normalise height"), ("smooth", "Smooth motion")]
EXPORT_KNOBS = ("target_height", "smooth_sigma")
# histogram key: (group title, x axis title, table column or None for the config-dependent quality, lo, hi)
HISTOGRAMS = {"quality": ("Quality", "quality (1 = best)", None, 0, 1),
              "realism": ("Realism", "realism (1 = plausible)", "realism_score", 0, 1),
              "artifact": ("Artifact score", "artifacts (0 = clean)", "artifact_score", 0, 1),
              "camera": ("Camera stability", "camera (1 = still)", "camera_stability", 0, 1),
              "length": ("Length", "frames (25 per second)", "n_frames", 1, 1000)}
PAIRS = [("min_frames", "max_frames")]


def _label_keys(message: str) -> str:
    """A core message names config keys; the panel names the controls the user sees."""
    return re.sub(r"data_curation\.(\w+)", lambda m: LABELS.get(m.group(1), m.group(1)), message)


class ThresholdPanel(QWidget):
    """Every CurationConfig field as a control; ``changed`` fires on any user edit."""

    changed = Signal()
    binClicked = Signal(str, float, float)  # table column, lo, hi

    def __init__(self) -> None:
        super().__init__()
        self.controls: dict[str, NumberControl] = {}
        self.switches: dict[str, QCheckBox] = {}
        self.weights: dict[str, QDoubleSpinBox] = {}
        self.histograms: dict[str, HistogramPlot] = {}
        self.sections: dict[str, CollapsibleSection] = {}
        self._bins: dict[str, np.ndarray] = {}
        self._base = CurationConfig()
        defaults = CurationConfig()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        self.legend = QLabel(palette.SPLIT_LEGEND)
        self.legend.setWordWrap(True)
        self.legend.setToolTip("Bars are stacked by where each clip ends up under the current thresholds")
        self.log_y = QCheckBox("Log scale (counts)")
        self.log_y.setToolTip("Show bar heights on a log scale so that bins of a few clips stay visible")
        self.log_y.toggled.connect(self._set_log_y)
        lay.addWidget(self.legend)
        lay.addWidget(self.log_y)
        for knob in KNOBS:
            c = NumberControl(knob, getattr(defaults, knob.field))
            c.valueChanged.connect(lambda _v, f=knob.field: self._edited(f))
            self.controls[knob.field] = c
        for key, (title, x_label, col, lo, hi) in HISTOGRAMS.items():
            hist = HistogramPlot(x_label, lo, hi)
            if col:
                hist.binClicked.connect(lambda a, b, col=col: self.binClicked.emit(col, a, b))
            else:
                hist.binClicked.connect(lambda a, b: self.binClicked.emit("_quality", a, b))
            self.histograms[key] = hist
            body = QWidget()
            b = QVBoxLayout(body)
            b.setContentsMargins(0, 0, 0, 0)
            b.addWidget(hist)
            for knob in KNOBS:
                if knob.histogram == key:
                    hist.bind(self.controls[knob.field], knob.rule)
                    b.addWidget(self.controls[knob.field])
            self._add_section(lay, key, title, body)
        # balancing: changes the SFT split
        bal = QWidget()
        form = QVBoxLayout(bal)
        form.setContentsMargins(0, 0, 0, 0)
        for f in ("balance_max_fraction", "max_source_fraction", "synthetic_quality_penalty", "default_source_weight"):
            form.addWidget(self.controls[f])
        for field, label in BALANCE_SWITCHES:
            form.addWidget(self._switch(field, label, defaults))
        self.seed = QLineEdit(str(self._base.seed))
        self.seed.setToolTip(FIELD_HELP["seed"])
        self.seed.editingFinished.connect(self.changed)
        self.source_lists: dict[str, QLineEdit] = {}
        lists = QFormLayout()
        lists.addRow("Seed", self.seed)
        for field, label in (("synthetic_sources", "Synthetic"), ("mocap_sources", "Mocap")):
            edit = QLineEdit(", ".join(getattr(self._base, field)))
            edit.setToolTip(FIELD_HELP[field] + " Comma-separated.")
            edit.editingFinished.connect(self.changed)
            self.source_lists[field] = edit
            lists.addRow(label, edit)
        form.addLayout(lists)
        self.weights_title = QLabel("Source weights")
        self.weights_title.setToolTip(FIELD_HELP["source_weights"])
        form.addWidget(self.weights_title)
        self.weights_form = QFormLayout()
        form.addLayout(self.weights_form)
        self._add_section(lay, "balance", "Balancing (SFT)", bal, expanded=False)
        # export only
        exp = QWidget()
        el = QVBoxLayout(exp)
        el.setContentsMargins(0, 0, 0, 0)
        note = QLabel("These shape the exported files only; they do not change the counts.")
        note.setWordWrap(True)
        note.setStyleSheet("color: #555; font-style: italic;")
        el.addWidget(note)
        for field, label in EXPORT_SWITCHES:
            el.addWidget(self._switch(field, label, defaults))
        for f in EXPORT_KNOBS:
            el.addWidget(self.controls[f])
        self._add_section(lay, "export", "Export settings", exp, expanded=False)
        lay.addStretch(1)

    def _set_log_y(self, on: bool) -> None:
        for h in self.histograms.values():
            h.set_log_y(on)

    def _add_section(self, lay: QVBoxLayout, key: str, title: str, body: QWidget, expanded: bool = True) -> None:
        self.sections[key] = CollapsibleSection(title, body, expanded)
        lay.addWidget(self.sections[key])

    def _switch(self, field: str, label: str, defaults: CurationConfig) -> QCheckBox:
        cb = QCheckBox(label)
        cb.setChecked(getattr(defaults, field))
        cb.setToolTip(FIELD_HELP[field])
        cb.toggled.connect(self.changed)
        self.switches[field] = cb
        return cb

    def _edited(self, field: str) -> None:
        """Keep paired minimum and maximum in order (the other one follows), then report."""
        for lo_f, hi_f in PAIRS:
            lo, hi = self.controls[lo_f], self.controls[hi_f]
            if lo.value() > hi.value():
                other, v = (hi, lo.value()) if field == lo_f else (lo, hi.value())
                other.setValue(v, emit=False)
                for h in self.histograms.values():
                    if other.knob.field in h.lines:
                        h.show_value(other.knob.field, v)
        self.changed.emit()

    # ------------------------------------------------------------------ config
    def config(self) -> CurationConfig:
        """The config the controls show; a ConfigError names the control (its label), and the
        control shows the problem inline."""
        for c in self.controls.values():
            c.show_problem(None)
        values = {f: (int(c.value()) if c.knob.decimals == 0 else c.value()) for f, c in self.controls.items()}
        values.update({f: cb.isChecked() for f, cb in self.switches.items()})
        weights = dict(self._base.source_weights)
        weights.update({s: w.value() for s, w in self.weights.items()})
        lists = {f: tuple(x.strip() for x in e.text().split(",") if x.strip()) for f, e in self.source_lists.items()}
        try:
            seed = int(self.seed.text())
        except ValueError:
            raise ConfigError(f"Seed: expected a whole number, got {self.seed.text()[:40]!r}") from None
        try:
            return dataclasses.replace(self._base, **values, **lists, seed=seed, source_weights=weights)
        except ConfigError as exc:
            m = re.search(r"data_curation\.(\w+)", str(exc))
            if m and m.group(1) in self.controls:
                self.controls[m.group(1)].show_problem(_label_keys(str(exc)))
            raise ConfigError(_label_keys(str(exc))) from None

    def set_config(self, cfg: CurationConfig) -> list[str]:
        """Show ``cfg`` in every control (one ``changed`` at the end). Returns the labels whose
        slider range had to widen to hold the file's value (nothing is clamped)."""
        self._base = cfg
        widened = []
        for f, c in self.controls.items():
            v = float(getattr(cfg, f))
            if c.widen_to(v):
                widened.append(c.knob.label)
            c.setValue(v, emit=False)
            for hist in self.histograms.values():
                if f in hist.lines:
                    hist.show_value(f, v)
        for f, cb in self.switches.items():
            cb.blockSignals(True)
            cb.setChecked(getattr(cfg, f))
            cb.blockSignals(False)
        self.seed.setText(str(cfg.seed))
        for f, e in self.source_lists.items():
            e.setText(", ".join(getattr(cfg, f)))
        for s, w in self.weights.items():
            w.blockSignals(True)
            w.setValue(cfg.source_weights.get(s, cfg.default_source_weight))
            w.blockSignals(False)
        self.changed.emit()
        return widened

    def set_sources(self, sources: list[str]) -> None:
        """One weight box per source present in the data."""
        cfg = self._base
        for s in sources:
            if s in self.weights:
                continue
            w = QDoubleSpinBox()
            w.setRange(0, 1)
            w.setSingleStep(0.05)
            w.setValue(cfg.source_weights.get(s, cfg.default_source_weight))
            w.setToolTip(f"{FIELD_HELP['source_weights']} (source: {s})")
            w.valueChanged.connect(self.changed)
            self.weights[s] = w
            self.weights_form.addRow(s, w)

    # ------------------------------------------------------------------ histograms
    def set_table(self, table: pd.DataFrame) -> None:
        """Bin every row once per histogram; only quality (config dependent) is re-binned later."""
        if "n_frames" in table and len(table):
            longest = float(table["n_frames"].max())
            for f in ("min_frames", "max_frames"):
                self.controls[f].widen_to(longest)
        self._bins = {key: hist.bin_index(table[col].to_numpy(dtype=np.float64))
                      for key, hist in self.histograms.items() if (col := HISTOGRAMS[key][2])}

    def update_histograms(self, quality: np.ndarray, pretrain: np.ndarray, sft: np.ndarray) -> None:
        split = np.where(sft, 0, np.where(pretrain, 1, 2))
        self._bins["quality"] = self.histograms["quality"].bin_index(quality)
        for key, hist in self.histograms.items():
            if key in self._bins:
                hist.set_counts(self._bins[key], split)

    def mark_clip(self, row: pd.Series | None, quality: float | None) -> None:
        """Mark the selected clip's value on every histogram."""
        for key, hist in self.histograms.items():
            col = HISTOGRAMS[key][2]
            value = quality if col is None else (None if row is None else row.get(col))
            hist.mark_selected(None if row is None or value is None else float(value))
