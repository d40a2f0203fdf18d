"""One threshold control: label, slider, spin box, changed-from-default marker, Reset, inline problem.

The tooltip is the field's help from stickgen_core (the same words as ``stickgen curate --help``).
A value from a config file outside the slider's range widens the range instead of being clamped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDoubleSpinBox, QGridLayout, QLabel, QSizePolicy, QSlider, QSpinBox, QToolButton,
                               QVBoxLayout, QWidget)

from stickgen_core.curation.config import FIELD_HELP


@dataclass(frozen=True)
class Knob:
    field: str
    label: str
    lo: float
    hi: float
    decimals: int = 2
    histogram: str | None = None  # which histogram shows it as a line
    rule: str = ""                # the line's label, e.g. "pretrain ≥ {:.2f}"


class NumberControl(QWidget):
    """Slider + spin box for one number; ``valueChanged`` fires once per user change."""

    valueChanged = Signal(float)

    def __init__(self, knob: Knob, default: float) -> None:
        super().__init__()
        self.knob = knob
        self.default = float(default)
        self.lo, self.hi = float(knob.lo), float(knob.hi)
        self._scale = 10 ** knob.decimals if knob.decimals else 1
        self.slider = QSlider(Qt.Orientation.Horizontal)
        if knob.decimals:
            self.spin = QDoubleSpinBox()
            self.spin.setDecimals(knob.decimals)
            self.spin.setSingleStep(1 / self._scale)
        else:
            self.spin = QSpinBox()
        self.spin.setMinimumWidth(self.spin.fontMetrics().horizontalAdvance("0000.00") + 30)
        self.slider.setMinimumWidth(60)
        self._set_range(self.lo, self.hi)
        self.setObjectName(knob.field)
        self.title = QLabel(knob.label)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.title.setMinimumWidth(self.title.fontMetrics().horizontalAdvance(knob.label + " ●") + 4)
        self.reset = QToolButton()
        self.reset.setText("↺")
        self.reset.setToolTip(f"Reset {knob.label} to its default ({self._fmt(default)})")
        self.reset.setAutoRaise(True)
        self.problem = QLabel()
        self.problem.setObjectName("problem")
        self.problem.setStyleSheet("color: #b3261e;")
        self.problem.setWordWrap(True)
        self.problem.setVisible(False)
        help_text = f"<b>{knob.label}</b> (data_curation.{knob.field})<br>{FIELD_HELP.get(knob.field, '')}"
        for w in (self, self.title, self.slider, self.spin):
            w.setToolTip(help_text)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(1)
        lay = QGridLayout()
        lay.addWidget(self.title, 0, 0, 1, 3)
        lay.addWidget(self.slider, 1, 0)
        lay.addWidget(self.spin, 1, 1)
        lay.addWidget(self.reset, 1, 2)
        outer.addLayout(lay)
        outer.addWidget(self.problem)
        self.slider.valueChanged.connect(lambda v: self._set(v / self._scale, source="slider"))
        self.spin.valueChanged.connect(lambda v: self._set(float(v), source="spin"))
        self.reset.clicked.connect(lambda: self.setValue(self.default))
        self._value = float(knob.lo)
        self._marked = True  # so the first value styles the title either way
        self._set(self.default, source="api", emit=False)

    def _fmt(self, v: float) -> str:
        return f"{v:.{self.knob.decimals}f}" if self.knob.decimals else f"{int(v)}"

    def _set_range(self, lo: float, hi: float) -> None:
        self.lo, self.hi = lo, hi
        self.slider.setRange(int(round(lo * self._scale)), int(round(hi * self._scale)))
        self.spin.setRange(lo, hi)

    def value(self) -> float:
        return self._value

    def is_default(self) -> bool:
        return abs(self._value - self.default) < 0.5 / self._scale

    def widen_to(self, v: float) -> bool:
        """Make room for ``v`` on the slider; True when the range had to grow."""
        lo, hi = min(self.lo, v), max(self.hi, v)
        if (lo, hi) == (self.lo, self.hi):
            return False
        self._set_range(lo, hi)
        return True

    def setValue(self, v: float, emit: bool = True) -> None:  # noqa: N802 (Qt naming)
        self._set(float(v), source="api", emit=emit)

    def show_problem(self, text: str | None) -> None:
        self.problem.setText(text or "")
        self.problem.setVisible(bool(text))

    def _set(self, v: float, source: str, emit: bool = True) -> None:
        v = float(np.clip(round(v, self.knob.decimals), self.lo, self.hi))
        if v == self._value and source != "api":
            return
        self._value = v
        for w, val in ((self.slider, int(round(v * self._scale))), (self.spin, v if self.knob.decimals else int(v))):
            if w.value() != val:
                w.blockSignals(True)
                w.setValue(val)
                w.blockSignals(False)
        changed = not self.is_default()
        if changed != self._marked:  # a new style sheet re-polishes and re-lays out: only on a flip
            self._marked = changed
            self.title.setText(self.knob.label + (" ●" if changed else ""))
            self.title.setStyleSheet("font-weight: bold;" if changed else "")
            self.reset.setEnabled(changed)
        if emit:
            self.valueChanged.emit(v)


class CollapsibleSection(QWidget):
    """A titled group whose body folds away (saves room on a laptop screen)."""

    def __init__(self, title: str, body: QWidget, expanded: bool = True) -> None:
        super().__init__()
        self.button = QToolButton()
        self.button.setText(title)
        self.button.setCheckable(True)
        self.button.setChecked(expanded)
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.button.setStyleSheet("QToolButton { border: none; font-weight: bold; }")
        self.button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.body = body
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 4, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.button)
        lay.addWidget(body)
        self.button.toggled.connect(self._toggle)
        self._toggle(expanded)

    def _toggle(self, on: bool) -> None:
        self.button.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.body.setVisible(on)
