"""A centred grey message over a view that has nothing to show yet (a plot before data, a table with no rows).

An empty pyqtgraph plot draws bare 0-1 axes and an empty table a blank box: both read as "there is data
and it is zero". The message says what is missing and how to get it; a plot hides its axes meanwhile.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractScrollArea, QLabel, QWidget

from .. import palette


class EmptyMessage(QLabel):
    """A word-wrapped message covering ``host`` (a scroll area's viewport, when it is one); mouse events
    pass through to the view beneath. ``say(None)`` hides it."""

    def __init__(self, host: QWidget, text: str | None = None) -> None:
        view = host.viewport() if isinstance(host, QAbstractScrollArea) and not isinstance(host, pg.PlotWidget) else host
        super().__init__(view)
        self.host = view
        self.setObjectName("emptyMessage")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setStyleSheet(f"color: {palette.AXIS}; background: transparent;")
        self.host.installEventFilter(self)
        self._fit()
        self.say(text)

    def say(self, text: str | None) -> None:
        if (text or "") == self.text() and self.isHidden() != bool(text):
            return  # called on every slider move by the share charts: nothing to redo
        self.setText(text or "")
        self.setVisible(bool(text))
        if text:
            self._fit()
            self.raise_()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if obj is self.host and event.type() == QEvent.Type.Resize:
            self._fit()
        return False

    def _fit(self) -> None:
        self.setGeometry(self.host.rect().adjusted(12, 12, -12, -12))


def show_plot_message(plot: pg.PlotWidget, message: EmptyMessage, text: str | None) -> None:
    """``text`` over ``plot`` with its axes (and grid) hidden, or the axes back when ``text`` is None."""
    item = plot.getPlotItem()
    for name in ("left", "bottom"):
        if item.getAxis(name).isVisible() != (text is None):
            item.showAxis(name, text is None)
    message.say(text)
