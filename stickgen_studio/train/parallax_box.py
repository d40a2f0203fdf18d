"""The Train form's image-conditioning keys (spec §2 parallax): on/off, the renders' root with its summary
(clips covered, views, image size), image size, conditioning mode, sequence length and stride, encoder and
fusion. What differs from the config becomes the job's overrides; the core's coverage check shows inline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)

from stickgen_core.config import DataConfig, ModelConfig
from stickgen_core.config_fields import describe
from stickgen_core.errors import StickGenError
from stickgen_core.io import file_stamp
from stickgen_core.parallax.summary import count_clips, coverage_problem, root_summary

from ..widgets.elided_path_edit import ElidedPathEdit

DATA_KEYS = ("use_parallax_augmentation", "parallax_root", "parallax_image_size", "parallax_conditioning_mode",
             "parallax_sequence_length", "parallax_sequence_stride")
MODEL_KEYS = ("image_encoder_arch", "image_fusion")


class ParallaxBox(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.group = QGroupBox("Image conditioning (parallax renders)")
        self.group.setCheckable(True)
        self.group.setChecked(False)
        self.root = ElidedPathEdit()
        self.root.setPlaceholderText("a folder made by `stickgen parallax render DATA --out ROOT`")
        self.browse = QPushButton("…")
        self.browse.setFixedWidth(28)
        self.summary = QLabel()
        self.summary.setObjectName("parallaxSummary")
        self.summary.setWordWrap(True)
        self.size = QSpinBox()
        self.size.setRange(8, 1024)
        self.size.setSuffix(" px")
        self.mode = QComboBox()
        self.mode.addItems(["first_frame", "sequence"])
        self.length, self.stride = QSpinBox(), QSpinBox()
        self.length.setRange(1, 256)
        self.stride.setRange(1, 10_000)
        self.arch, self.fusion = QComboBox(), QComboBox()
        self.arch.addItems(["cnn", "cnn_spatial", "resnet18"])
        self.fusion.addItems(["add", "prefix"])
        for w, cls, name in ((self.group, DataConfig, "use_parallax_augmentation"),
                             (self.root, DataConfig, "parallax_root"), (self.size, DataConfig, "parallax_image_size"),
                             (self.mode, DataConfig, "parallax_conditioning_mode"),
                             (self.length, DataConfig, "parallax_sequence_length"),
                             (self.stride, DataConfig, "parallax_sequence_stride"),
                             (self.arch, ModelConfig, "image_encoder_arch"),
                             (self.fusion, ModelConfig, "image_fusion")):
            w.setToolTip(describe(cls, name))
        row = QWidget()
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(self.root, 1)
        h.addWidget(self.browse)
        form = QFormLayout(self.group)
        for label, w in (("Renders", row), ("", self.summary), ("Image size", self.size), ("Mode", self.mode),
                         ("Window length", self.length), ("Window stride", self.stride),
                         ("Encoder", self.arch), ("Fusion", self.fusion)):
            form.addRow(label, w)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.group)
        lay.addStretch(1)
        self._config: dict[str, Any] = {}
        self._counts: dict[tuple, int | None] = {}  # (data, stamp) -> clips: a .pt is read once, not per keystroke
        self.problem_text: str | None = None
        self.group.toggled.connect(self.changed)
        self.root.textChanged.connect(self.changed)
        for sig in (self.size.valueChanged, self.mode.currentIndexChanged, self.length.valueChanged,
                    self.stride.valueChanged, self.arch.currentIndexChanged, self.fusion.currentIndexChanged):
            sig.connect(self.changed)
        self.mode.currentIndexChanged.connect(self._mode_changed)
        self.browse.clicked.connect(self._browse)
        self._mode_changed()

    def _mode_changed(self, *_: object) -> None:
        sequence = self.mode.currentText() == "sequence"
        self.length.setEnabled(sequence)
        self.stride.setEnabled(sequence)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Parallax renders", self.root.text() or "")
        if path:
            self.root.setText(path)

    def set_config(self, cfg: dict[str, Any]) -> None:
        """Show the config's values (the baseline overrides are measured against)."""
        self._config = cfg
        d, m = cfg.get("data", {}), cfg.get("model", {})
        for w in (self.group, self.root, self.size, self.mode, self.length, self.stride, self.arch, self.fusion):
            w.blockSignals(True)
        self.group.setChecked(bool(d.get("use_parallax_augmentation")))
        self.root.setText(d.get("parallax_root") or "")
        self.size.setValue(int(d.get("parallax_image_size", 256)))
        self.mode.setCurrentText(d.get("parallax_conditioning_mode", "first_frame"))
        self.length.setValue(int(d.get("parallax_sequence_length", 4)))
        self.stride.setValue(int(d.get("parallax_sequence_stride", 1)))
        self.arch.setCurrentText(m.get("image_encoder_arch", "cnn"))
        self.fusion.setCurrentText(m.get("image_fusion", "add"))
        for w in (self.group, self.root, self.size, self.mode, self.length, self.stride, self.arch, self.fusion):
            w.blockSignals(False)
        self._mode_changed()

    def values(self) -> dict[str, dict[str, Any]]:
        return {"data": {"use_parallax_augmentation": self.group.isChecked(),
                         "parallax_root": self.root.text().strip() or None, "parallax_image_size": self.size.value(),
                         "parallax_conditioning_mode": self.mode.currentText(),
                         "parallax_sequence_length": self.length.value(),
                         "parallax_sequence_stride": self.stride.value()},
                "model": {"image_encoder_arch": self.arch.currentText(), "image_fusion": self.fusion.currentText()}}

    def overrides(self) -> dict[str, dict[str, Any]]:
        """Only the keys whose value differs from the config's."""
        out: dict[str, dict[str, Any]] = {}
        for section, values in self.values().items():
            base = self._config.get(section, {})
            diff = {k: v for k, v in values.items() if base.get(k) != v}
            if diff:
                out[section] = diff
        return out

    def merged(self, overrides: dict[str, Any]) -> dict[str, Any]:
        """``overrides`` (the job's other keys) with this box's, section by section."""
        out = {k: dict(v) if isinstance(v, dict) else v for k, v in overrides.items()}
        for section, values in self.overrides().items():
            out[section] = {**out.get(section, {}), **values}
        return out

    def set_overrides(self, overrides: dict[str, Any]) -> dict[str, Any]:
        """Fill the box from a job's overrides; returns the overrides it did not take."""
        rest = {k: dict(v) if isinstance(v, dict) else v for k, v in overrides.items()}
        merged = {s: {**self._config.get(s, {}), **{k: rest[s].pop(k) for k in keys if k in rest.get(s, {})}}
                  for s, keys in (("data", DATA_KEYS), ("model", MODEL_KEYS))}
        base = self._config
        self.set_config({**base, **merged})
        self._config = base
        return {k: v for k, v in rest.items() if v != {}}

    def _clips(self, data: str) -> int | None:
        try:
            key = (data, file_stamp(data))
        except OSError:
            return None
        if key not in self._counts:
            try:
                self._counts[key] = count_clips(data)
            except StickGenError:
                self._counts[key] = None  # an unreadable data file is the data field's problem, said there
        return self._counts[key]

    def check(self, data: str, remote: bool = False) -> str | None:
        """Refresh the summary; the first problem training would refuse for (one line), else None.
        ``remote``: the job runs on a pod, where a root that is not a local folder is its volume's path."""
        self.problem_text = None
        root = self.root.text().strip()
        if not self.group.isChecked() or (remote and root and not Path(root).is_dir()):
            self.summary.setText("Off: training on motion and text only." if not self.group.isChecked() else
                                 "On the pod's volume: checked when the job starts.")
            self.summary.setStyleSheet("color: #5f6368;")
            return None
        try:
            if not root:
                raise StickGenError("data.parallax_root: choose the folder of renders (made by `stickgen parallax "
                                    "render DATA --out ROOT`)")
            summary = root_summary(root)
            clips = self._clips(data) if data and Path(data).exists() else None
            self.problem_text = coverage_problem(summary, data, clips)
            missing = summary.missing(clips)
            self.summary.setText(summary.text(clips) + (f"\n{len(missing):,} clips without renders (first: sample "
                                                        f"{missing[0]}): see below" if missing else ""))
        except StickGenError as exc:
            self.problem_text = str(exc)
            self.summary.setText(self.problem_text)
        self.summary.setStyleSheet(f"color: {'#b00020' if self.problem_text else '#1e7b34'};")
        return self.problem_text
