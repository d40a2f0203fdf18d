"""What a user does and sees: real mouse and key events, visible text, painted pixels."""

from __future__ import annotations

import re

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox


def visible_counts(win) -> tuple[int, int, int, int]:
    """(clips, pretrain, SFT, dropped) as the counts strip shows them."""
    text = re.sub(r"<[^>]+>", "", win.curate.counts.text()).replace("&nbsp;", " ")
    nums = [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", text)]
    assert len(nums) == 4, text
    return tuple(nums)


def _send(widget, kind, pos: QPoint, buttons) -> None:
    # QTest.mouseMove carries no pressed button in Qt 6, so drags are sent as the platform would
    local = QPointF(pos)
    glob = QPointF(widget.mapToGlobal(pos))
    button = Qt.MouseButton.LeftButton if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton
    ev = QMouseEvent(kind, local, glob, button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, ev)


def drag(widget, start: QPoint, end: QPoint, steps: int = 8) -> None:
    """Press at ``start``, move in steps, release at ``end`` (left button)."""
    left = Qt.MouseButton.LeftButton
    _send(widget, QEvent.Type.MouseButtonPress, start, left)
    for k in range(1, steps + 1):
        p = start + (end - start) * (k / steps)
        _send(widget, QEvent.Type.MouseMove, QPoint(int(p.x()), int(p.y())), left)
    _send(widget, QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)


def plot_point(plot, x: float, y_frac: float = 0.5) -> QPoint:
    """Viewport pixel of data x (at a fraction of the plot's height) on a pyqtgraph PlotWidget."""
    vb = plot.getViewBox()
    (x0, x1), (y0, y1) = vb.viewRange()
    scene = vb.mapViewToScene(QPointF(x, y0 + (y1 - y0) * y_frac))
    return plot.mapFromScene(scene)


def click(widget, pos: QPoint | None = None) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos or widget.rect().center())


def visible_dialogs() -> list[QMessageBox]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]


def painted_fraction(widget, background=None, tolerance: int = 40) -> float:
    """Share of the widget's pixels that differ from its background colour (the corner pixel)."""
    img = widget.grab().toImage().convertToFormat(widget.grab().toImage().Format.Format_RGB32)
    w, h = img.width(), img.height()
    arr = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.sizeInBytes()).reshape(h, img.bytesPerLine())
    px = arr[:, : w * 4].reshape(h, w, 4)[..., :3].astype(int)
    bg = np.array(background if background is not None else px[2, 2])
    return float((np.abs(px - bg).sum(axis=2) > tolerance).mean())


def truncated_texts(root) -> list[str]:
    """Visible labels, buttons, check boxes and combo boxes whose text does not fit their width."""
    from PySide6.QtWidgets import QAbstractButton, QCheckBox, QComboBox, QLabel, QToolButton

    bad = []
    for w in root.findChildren(QLabel) + root.findChildren(QAbstractButton) + root.findChildren(QComboBox):
        if not w.isVisible() or w.width() <= 1:
            continue
        if isinstance(w, QLabel):
            if w.wordWrap() or w.textFormat() == Qt.TextFormat.RichText or "<" in w.text() or not w.text():
                continue
            need = w.fontMetrics().horizontalAdvance(w.text()) + 2 * w.margin()
            room = w.contentsRect().width()
        elif isinstance(w, QComboBox):
            need = w.fontMetrics().horizontalAdvance(w.currentText()) + 24
            room = w.width()
        else:
            text = w.text()
            if not text:
                continue
            extra = 24 if isinstance(w, QCheckBox) else (16 if isinstance(w, QToolButton) else 12)
            need = w.fontMetrics().horizontalAdvance(text.replace("&", "")) + extra
            room = w.width()
        if need > room + 1:
            bad.append(f"{type(w).__name__} {w.text() if hasattr(w, 'text') else w.currentText()!r}: "
                       f"needs {need} px, has {room}")
    return bad
