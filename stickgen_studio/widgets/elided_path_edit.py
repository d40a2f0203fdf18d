"""A path box that shows a long path elided in the middle (its file name stays readable) until it
is edited; the tooltip holds the whole path."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import QLineEdit, QStyle, QStyleOptionFrame, QWidget


class ElidedPathEdit(QLineEdit):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.textChanged.connect(self.setToolTip)

    def _text_rect(self):
        opt = QStyleOptionFrame()
        self.initStyleOption(opt)
        return self.style().subElementRect(QStyle.SubElement.SE_LineEditContents, opt, self).adjusted(2, 0, -2, 0)

    def displayed_text(self) -> str:
        """What the box shows while it is not being edited."""
        if self.hasFocus():
            return self.text()
        return self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideMiddle, self._text_rect().width())

    def paintEvent(self, event) -> None:
        shown = self.displayed_text()
        if self.hasFocus() or shown == self.text():
            super().paintEvent(event)
            return
        opt = QStyleOptionFrame()
        self.initStyleOption(opt)
        p = QPainter(self)
        self.style().drawPrimitive(QStyle.PrimitiveElement.PE_PanelLineEdit, opt, p, self)
        p.setPen(self.palette().color(QPalette.ColorGroup.Active if self.isEnabled() else QPalette.ColorGroup.Disabled,
                                      QPalette.ColorRole.Text))
        p.drawText(self._text_rect(), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, shown)
        p.end()
