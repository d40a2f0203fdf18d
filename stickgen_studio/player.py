"""The stick-figure player: animated figure, flagged-frame timeline with legend, controls.

Reused by the Curate panel's clip preview and (later) the critic viewer. Drawing uses
QPainter on a plain widget (no OpenGL), framing comes from ``stickgen_core.render``.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QSlider, QStyle, QToolButton,
                               QVBoxLayout, QWidget)

from stickgen_core.render import view_framing

FLAG_COLOURS = {
    "frozen": QColor("#7e57c2"), "jitter": QColor("#ef6c00"), "velocity_explosion": QColor("#d32f2f"),
    "foot_sliding": QColor("#0288d1"), "ground_penetration": QColor("#6d4c41"),
}
FLAG_LABELS = {"frozen": "frozen", "jitter": "jitter", "velocity_explosion": "velocity spike",
               "foot_sliding": "foot sliding", "ground_penetration": "ground penetration"}
_TRUNK, _LEFT, _RIGHT = QColor("#2b2b2b"), QColor("#286edc"), QColor("#eb781e")
_SEG_COLOURS = [_TRUNK] * 3 + [_LEFT] * 2 + [_RIGHT] * 2 + [_LEFT] * 2 + [_RIGHT] * 2 + [_TRUNK]


class StickFigureCanvas(QWidget):
    """Paints one frame of a ``[T, A, 48]`` motion."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(220, 220)
        self._m = np.zeros((0, 1, 48), dtype=np.float32)
        self._cx = np.zeros(0)
        self._y_lo, self._height = 0.0, 2.2
        self._t = 0
        self.flagged_now: list[str] = []

    def set_motion(self, motion: np.ndarray) -> None:
        m = np.asarray(motion, dtype=np.float32)
        self._m = m[:, None, :] if m.ndim == 2 else m
        aspect = max(self.width(), 1) / max(self.height(), 1)
        self._cx, self._y_lo, self._height, _ = view_framing(self._m, True, aspect) if len(self._m) else (np.zeros(0), 0, 2.2, 2.2)
        self._t = 0
        self.update()

    def set_frame(self, t: int) -> None:
        self._t = int(t)
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt naming)
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        W, H = self.width(), self.height()
        p.fillRect(self.rect(), QColor("#fafaf7"))
        if not len(self._m):
            p.setPen(QColor("#888"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Select a clip to play it")
            return
        t = min(self._t, len(self._m) - 1)
        scale = H / self._height
        cx = float(self._cx[t])

        def px(x: float, y: float) -> QPointF:
            return QPointF((x - cx) * scale + W / 2, H - (y - self._y_lo) * scale)

        ground = px(cx, 0.0).y()
        p.setPen(QPen(QColor("#78644f"), 2))
        p.drawLine(QPointF(0, ground), QPointF(W, ground))
        p.setPen(QPen(QColor("#a08c78"), 1))
        half = W / scale / 2
        for tick in np.arange(np.floor(cx - half), np.ceil(cx + half) + 1):
            q = px(float(tick), 0.0)
            p.drawLine(q, QPointF(q.x() - 6, q.y() + 8))
        width = max(2.0, scale * 0.035)
        for a in range(self._m.shape[1]):
            seg = self._m[t, a].reshape(12, 4)
            if not np.isfinite(seg).all():
                continue
            for i, (x1, y1, x2, y2) in enumerate(seg):
                p.setPen(QPen(_SEG_COLOURS[i], width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
                p.drawLine(px(x1, y1), px(x2, y2))
            head = px(seg[0, 2], seg[0, 3])
            r = max(0.55 * float(np.hypot(seg[0, 2] - seg[0, 0], seg[0, 3] - seg[0, 1])) * scale, 3.0)
            p.setPen(QPen(_TRUNK, width * 0.8))
            p.setBrush(QColor("#fafaf7"))
            p.drawEllipse(head, r, r)
        p.setPen(QColor("#d32f2f") if self.flagged_now else QColor("#444"))
        label = f"frame {t + 1}/{len(self._m)}"
        if self.flagged_now:
            label += "  ·  " + ", ".join(FLAG_LABELS[k] for k in self.flagged_now)
        p.drawText(QRectF(8, 6, W - 16, 20), Qt.AlignmentFlag.AlignLeft, label)


class Timeline(QWidget):
    """One band per artifact kind with its flagged frames coloured, and a cursor; click to seek."""

    seek = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(12 + 7 * len(FLAG_COLOURS))
        self._flags: dict[str, np.ndarray] = {}
        self._T = 0
        self._t = 0

    def set_flags(self, flags: dict[str, np.ndarray] | None, T: int) -> None:
        self._flags, self._T, self._t = dict(flags or {}), T, 0
        self.update()

    def set_frame(self, t: int) -> None:
        self._t = t
        self.update()

    def _x(self, t: float) -> float:
        return 4 + (self.width() - 8) * t / max(self._T, 1)

    def paintEvent(self, _event) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#eceff3"))
        band = (self.height() - 8) / len(FLAG_COLOURS)
        for k, (kind, colour) in enumerate(FLAG_COLOURS.items()):
            flag = self._flags.get(kind)
            if flag is None or not flag.any():
                continue
            y = 4 + k * band
            edges = np.flatnonzero(np.diff(np.r_[0, flag.astype(np.int8), 0]))
            for s, e in zip(edges[::2], edges[1::2]):  # contiguous runs, not one rect per frame
                p.fillRect(QRectF(self._x(s), y, max(self._x(e) - self._x(s), 2.0), band - 1), colour)
        p.setPen(QPen(QColor("#111"), 2))
        x = self._x(self._t + 0.5)
        p.drawLine(QPointF(x, 0), QPointF(x, self.height()))

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if self._T:
            t = int((event.position().x() - 4) / max(self.width() - 8, 1) * self._T)
            self.seek.emit(int(np.clip(t, 0, self._T - 1)))


class StickFigurePlayer(QWidget):
    """Canvas + timeline + legend + play/pause, frame slider, speed and loop."""

    frameChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = StickFigureCanvas()
        self.timeline = Timeline()
        self.play_button = QToolButton()
        self._icons = (self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay),
                       self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPause))
        self.play_button.setIcon(self._icons[0])
        self.play_button.setToolTip("Play / pause (Space)")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.speed = QComboBox()
        for s in ("0.25×", "0.5×", "1×", "2×"):
            self.speed.addItem(s, float(s[:-1]))
        self.speed.setCurrentIndex(2)
        self.loop = QCheckBox("Loop")
        self.loop.setChecked(True)
        self.title = QLabel("")
        self.title.setWordWrap(True)
        controls = QHBoxLayout()
        for w in (self.play_button, self.slider, self.speed, self.loop):
            controls.addWidget(w)
        legend = QHBoxLayout()
        for kind, colour in FLAG_COLOURS.items():
            chip = QLabel(f"■ {FLAG_LABELS[kind]}")
            chip.setStyleSheet(f"color: {colour.name()};")
            legend.addWidget(chip)
        legend.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.title)
        lay.addWidget(self.canvas, 1)
        lay.addWidget(self.timeline)
        lay.addLayout(legend)
        lay.addLayout(controls)
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self.play_button.clicked.connect(self.toggle)
        self.slider.valueChanged.connect(self.set_frame)
        self.timeline.seek.connect(self.set_frame)
        self.speed.currentIndexChanged.connect(self._retime)
        self._fps = 25.0
        self._T = 0
        self._t = 0
        self._flags: dict[str, np.ndarray] = {}
        self._ticks: list[float] = []

    def set_clip(self, motion: np.ndarray, fps: float = 25.0, flags: dict[str, np.ndarray] | None = None,
                 title: str = "") -> None:
        """Show a clip from its first frame (playback state is kept)."""
        self._fps = float(fps or 25.0)
        self._T = len(motion)
        self._flags = dict(flags or {})
        self.canvas.set_motion(motion)
        self.timeline.set_flags(self._flags, self._T)
        self.title.setText(title)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(self._T - 1, 0))
        self.slider.blockSignals(False)
        self.set_frame(0)
        self._retime()

    @property
    def frame(self) -> int:
        return self._t

    def is_playing(self) -> bool:
        return self._timer.isActive()

    def play(self) -> None:
        if self._T:
            self._ticks.clear()
            self._timer.start()
            self.play_button.setIcon(self._icons[1])

    def pause(self) -> None:
        self._timer.stop()
        self.play_button.setIcon(self._icons[0])

    def toggle(self) -> None:
        self.pause() if self.is_playing() else self.play()

    def set_frame(self, t: int) -> None:
        self._t = int(np.clip(t, 0, max(self._T - 1, 0)))
        self.canvas.flagged_now = [k for k, f in self._flags.items() if self._t < len(f) and f[self._t]]
        self.canvas.set_frame(self._t)
        self.timeline.set_frame(self._t)
        if self.slider.value() != self._t:
            self.slider.blockSignals(True)
            self.slider.setValue(self._t)
            self.slider.blockSignals(False)
        self.frameChanged.emit(self._t)

    def achieved_fps(self) -> float:
        """Frames shown per second over the recent ticks of playback."""
        if len(self._ticks) < 2:
            return 0.0
        return (len(self._ticks) - 1) / (self._ticks[-1] - self._ticks[0])

    def _retime(self) -> None:
        speed = float(self.speed.currentData() or 1.0)
        self._timer.setInterval(max(int(round(1000.0 / (self._fps * speed))), 1))

    def _tick(self) -> None:
        self._ticks.append(time.perf_counter())
        del self._ticks[:-200]
        nxt = self._t + 1
        if nxt >= self._T:
            if not self.loop.isChecked():
                self.pause()
                return
            nxt = 0
        self.set_frame(nxt)
