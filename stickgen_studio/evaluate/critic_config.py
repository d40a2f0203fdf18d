"""An editor for every ``SafetyCriticConfig`` field; a change re-runs the critic at once."""

from __future__ import annotations

from dataclasses import fields

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)

from stickgen_core.config_fields import Range, choices_of, describe, range_of
from stickgen_core.critic_config import SafetyCriticConfig
from stickgen_core.errors import ConfigError

from .. import palette

# the short label of each field; what it does, its range and its choices are the field's own metadata
LABELS: dict[str, str] = {
    "frozen_velocity": "Frozen below", "frozen_ratio": "Frozen share", "repetition_window": "Repeat window",
    "repetition_similarity": "Repeat similarity", "repetition_min_windows": "Repeat windows",
    "jitter_acceleration": "Jitter accel.", "jitter_ratio": "Jitter share", "max_velocity": "Max velocity",
    "max_acceleration": "Max accel.", "ground_threshold": "Ground limit", "ground": "Ground",
    "min_quality": "Min quality", "rejection_severity_threshold": "Reject at severity",
    "stillness_words": "Stillness words", "max_shoulder_gap": "Shoulder gap", "max_hip_gap": "Hip gap",
    "max_bone_stretch": "Bone stretch", "max_bone_variation": "Bone variation", "max_wrong_bend": "Wrong-way bend",
    "max_head_drop": "Head drop", "max_height_gain": "Height gain", "min_height_ratio": "Least height",
    "lying_words": "Lying words",
}


def _label(name: str) -> str:
    if name.endswith("_severity") and name != "rejection_severity_threshold":
        return f"Severity: {name[: -len('_severity')].replace('_', ' ')}"
    return LABELS.get(name, name.replace("_", " "))


def tooltip(name: str) -> str:
    """A control's tooltip: the field's help, range or choices and key (as ``stickgen critic --help`` says it)."""
    text = describe(SafetyCriticConfig, name)
    return f"{text} Comma-separated." if isinstance(getattr(SafetyCriticConfig, name), tuple) else text


class CriticConfigEditor(QWidget):
    """One control per config field, grouped as rules then severities; ``changed`` on every edit."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.controls: dict[str, QWidget] = {}
        self.error = QLabel(wordWrap=True)
        self.error.setStyleSheet(f"color: {palette.DROPPED};")
        self.error.setVisible(False)
        self.reset = QPushButton("Reset to defaults")
        self.reset.setToolTip("The spec's defaults (section 7.1)")
        rules, severities = QFormLayout(), QFormLayout()
        for f in fields(SafetyCriticConfig):
            w = self._control(f.name, f.default)
            w.setToolTip(tooltip(f.name))
            (severities if f.name.endswith("severity") and f.name != "rejection_severity_threshold" else rules).addRow(
                QLabel(_label(f.name), toolTip=w.toolTip()), w)
            self.controls[f.name] = w
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(rules)
        lay.addWidget(QLabel("<b>Severities</b>"))
        lay.addLayout(severities)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.reset)
        lay.addWidget(self.error)
        lay.addLayout(row)
        self.reset.clicked.connect(lambda: self.set_config(SafetyCriticConfig()))

    def _control(self, name: str, default) -> QWidget:
        if choices_of(SafetyCriticConfig, name):
            w = QComboBox()
            w.addItems(list(choices_of(SafetyCriticConfig, name)))
            w.currentIndexChanged.connect(self.changed)
        elif isinstance(default, tuple):
            w = QLineEdit(", ".join(default))
            w.setCursorPosition(0)  # the start of the list, not its tail
            w.editingFinished.connect(self.changed)
        elif isinstance(default, int):
            w = QSpinBox()
            w.setRange(int(max((range_of(SafetyCriticConfig, name) or Range()).lo, 0)), 10_000)
            w.valueChanged.connect(self.changed)
        else:
            w = QDoubleSpinBox()
            rng = range_of(SafetyCriticConfig, name) or Range()  # the spin box spans what the config accepts (up to 10,000)
            lo, hi = max(rng.lo, -1000.0), min(rng.hi, 10_000.0)
            unit_range = (lo, hi) == (0.0, 1.0)
            w.setDecimals(3)
            w.setRange(lo, hi)
            w.setSingleStep(0.05 if unit_range else (0.001 if abs(default) < 0.1 else 1.0))
            w.setKeyboardTracking(False)  # typing 0.65 re-runs once, not at 0.6 and again at 0.65
            w.valueChanged.connect(self.changed)
        self._set(w, default)
        return w

    @staticmethod
    def _set(w: QWidget, value) -> None:
        w.blockSignals(True)
        if isinstance(w, QComboBox):
            w.setCurrentText(str(value))
        elif isinstance(w, QLineEdit):
            w.setText(", ".join(value))
            w.setCursorPosition(0)  # the start of the list, not its tail
        else:
            w.setValue(value)
        w.blockSignals(False)

    def values(self) -> dict:
        out = {}
        for name, w in self.controls.items():
            if isinstance(w, QComboBox):
                out[name] = w.currentText()
            elif isinstance(w, QLineEdit):
                out[name] = tuple(x.strip().lower() for x in w.text().split(",") if x.strip())
            else:
                out[name] = w.value()
        return out

    def config(self) -> SafetyCriticConfig | None:
        """The edited config, or None (with the problem shown under the controls) when invalid."""
        try:
            cfg = SafetyCriticConfig(**self.values())
        except ConfigError as exc:
            self.error.setText(str(exc))
            self.error.setVisible(True)
            return None
        self.error.setVisible(False)
        return cfg

    def set_config(self, cfg: SafetyCriticConfig) -> None:
        for name, w in self.controls.items():
            self._set(w, getattr(cfg, name))
        self.changed.emit()
