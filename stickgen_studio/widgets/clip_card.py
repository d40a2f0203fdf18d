"""The clip card: what a clip is and why it stands where it does, beside the viewer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QFrame, QLabel, QVBoxLayout, QWidget

from stickgen_core.issues import IssueSpan, injected_defect_spans


@dataclass
class ClipCard:
    """Facts about one clip; ``metrics`` maps a label to a number or text, shown in order."""

    description: str
    status: str = ""
    drop_reason: str = ""
    source: str = ""
    action: str = ""
    metrics: Mapping[str, float | str] = field(default_factory=dict)
    defects: Sequence[IssueSpan] = ()
    status_colour: str = "#333333"

    @classmethod
    def from_sample(cls, sample: Mapping[str, Any], **facts: Any) -> "ClipCard":
        """A card from a dataset sample (description, source, injected defects) plus ``facts``."""
        n = len(sample["motion"]) if "motion" in sample else 0
        facts.setdefault("source", str(sample.get("source", "")))
        return cls(description=str(sample.get("description", "")),
                   defects=injected_defect_spans(sample.get("meta"), n), **facts)


class ClipCardView(QFrame):
    """Shows a ``ClipCard``: description, status and drop reason, metrics, injected defects."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumWidth(190)
        self.description = QLabel(wordWrap=True)
        self.description.setStyleSheet("font-weight: 600;")
        self.description.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.origin = QLabel(wordWrap=True)
        self.status = QLabel(wordWrap=True)
        self.metrics = QFormLayout()
        self.metrics.setContentsMargins(0, 4, 0, 4)
        self.metrics.setVerticalSpacing(1)
        self.defects = QLabel(wordWrap=True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        for w in (self.description, self.origin, self.status):
            lay.addWidget(w)
        lay.addLayout(self.metrics)
        lay.addWidget(self.defects)
        lay.addStretch(1)
        self.set_card(None)

    def set_card(self, card: ClipCard | None) -> None:
        while self.metrics.rowCount():
            self.metrics.removeRow(0)
        if card is None:
            self.description.setText("No clip selected")
            for w in (self.origin, self.status, self.defects):
                w.setText("")
                w.setVisible(False)
            return
        self.description.setText(card.description or "(no description)")
        self.origin.setText(" · ".join(x for x in (card.source, card.action) if x))
        status = card.status + (f" — {card.drop_reason}" if card.drop_reason else "")
        self.status.setText(status)
        self.status.setStyleSheet(f"color: {card.status_colour}; font-weight: 600;")
        for label, value in card.metrics.items():
            text = f"{value:.3f}" if isinstance(value, float) else str(value)
            v = QLabel(text)
            v.setAlignment(Qt.AlignmentFlag.AlignRight)
            self.metrics.addRow(QLabel(label), v)
        if card.defects:
            self.defects.setText("<b>Injected defects</b><br>" + "<br>".join(d.description for d in card.defects))
        else:
            self.defects.setText("")
        for w, text in ((self.origin, self.origin.text()), (self.status, status), (self.defects, self.defects.text())):
            w.setVisible(bool(text))
