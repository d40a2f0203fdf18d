"""An editor for every ``SafetyCriticConfig`` field; a change re-runs the critic at once."""

from __future__ import annotations

from dataclasses import fields

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)

from stickgen_core.critic import SafetyCriticConfig
from stickgen_core.errors import ConfigError

from .. import palette

# label, unit and what the rule does (the inline comments of SafetyCriticConfig, for people)
HELP: dict[str, tuple[str, str]] = {
    "frozen_velocity": ("Frozen below", "m/s: a frame whose mean joint speed is below this is frozen"),
    "frozen_ratio": ("Frozen share", "flag 'frozen' when more than this share of frames is frozen"),
    "repetition_window": ("Repeat window", "frames per window compared for repetition (25 = 1 s)"),
    "repetition_similarity": ("Repeat similarity", "cosine similarity of velocity windows that counts as a repeat"),
    "repetition_min_windows": ("Repeat windows", "flag 'repetitive' when this many windows repeat"),
    "jitter_acceleration": ("Jitter accel.", "m/s²: frame-alternating acceleration above this is jitter"),
    "jitter_ratio": ("Jitter share", "flag 'jittery' when more than this share of frames jitter"),
    "max_velocity": ("Max velocity", "m/s: pelvis speed above this is flagged"),
    "max_acceleration": ("Max accel.", "m/s²: pelvis acceleration above this is flagged"),
    "ground_threshold": ("Ground limit", "m: body parts lower than this below the ground are flagged"),
    "ground": ("Ground", "auto: y = 0 for our sources, estimated otherwise; zero; estimate from resting feet"),
    "min_quality": ("Min quality", "flag 'low quality' below this (1 - artifact) × realism"),
    "rejection_severity_threshold": ("Reject at severity", "unsafe when any issue's severity reaches this"),
    "stillness_words": ("Stillness words", "comma-separated: a prompt with one of these may stand still"),
    "max_shoulder_gap": ("Shoulder gap", "m (on a 1.75 m figure): a shoulder farther than this from the neck-chest line is detached"),
    "max_hip_gap": ("Hip gap", "m (on a 1.75 m figure): a hip farther than this from the pelvis centre is detached"),
    "max_bone_stretch": ("Bone stretch", "a bone longer than its rest length × (1 + this) is stretched"),
    "max_bone_variation": ("Bone variation", "flag when the bones' lengths vary more than this over the clip (0.2 = 20 %)"),
    "max_wrong_bend": ("Wrong-way bend", "degrees an elbow or knee may bend against the body's facing (side-on frames)"),
    "max_head_drop": ("Head drop", "m (on a 1.75 m figure) the head may sit below the shoulders"),
    "max_height_gain": ("Height gain", "the standing chain above its rest length × (1 + this) is a height change"),
    "min_height_ratio": ("Least height", "the standing chain below its rest length × this is a height change"),
    "lying_words": ("Lying words", "comma-separated: a prompt with one of these may put the head low and shrink"),
}


def _label(name: str) -> tuple[str, str]:
    if name.endswith("_severity"):
        kind = name[: -len("_severity")].replace("_", " ")
        return f"Severity: {kind}", f"severity (0–1) of a '{kind}' issue"
    return HELP.get(name, (name.replace("_", " "), ""))


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
            label, tip = _label(f.name)
            w = self._control(f.name, f.default)
            w.setToolTip(f"{tip}\n(safety_critic.{f.name})")
            (severities if f.name.endswith("severity") and f.name != "rejection_severity_threshold" else rules).addRow(
                QLabel(label, toolTip=w.toolTip()), w)
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
        if name == "ground":
            w = QComboBox()
            w.addItems(["auto", "zero", "estimate"])
            w.currentIndexChanged.connect(self.changed)
        elif isinstance(default, tuple):
            w = QLineEdit(", ".join(default))
            w.setCursorPosition(0)  # the start of the list, not its tail
            w.editingFinished.connect(self.changed)
        elif isinstance(default, int):
            w = QSpinBox()
            w.setRange(0, 10_000)
            w.valueChanged.connect(self.changed)
        else:
            w = QDoubleSpinBox()
            unit_range = name.endswith(("severity", "ratio", "threshold")) or name in ("repetition_similarity", "min_quality")
            unit_range = unit_range and name != "ground_threshold"
            w.setDecimals(3)
            w.setRange(0.0, 1.0) if unit_range else w.setRange(-1000.0, 10_000.0)
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
