"""The motion viewer: a clip's figure, its issue timeline, playback controls and clip card.

One widget for every page that shows motion (Curate's clip preview, Evaluate's critic
results). Issues come as ``IssueSpan`` from any source (``stickgen_core.issues``).
Keys when focused: ←/→ one frame, Home/End first/last frame, Space play/pause, Esc ends a looped range.
Frames dragged out on the timeline's ruler are the *selection*: they loop, and ``selectionChanged`` lets a
page filter what it lists to them (Evaluate's critic issue list).
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QSlider, QStyle, QToolButton, QVBoxLayout,
                               QWidget)

from stickgen_core.issues import IssueSpan

from .clip_card import ClipCard, ClipCardView
from .figure_canvas import FigureCanvas
from .issue_timeline import IssueTimeline


class MotionViewer(QWidget):
    """Canvas + issue timeline + play/pause, frame slider, speed, loop + clip card."""

    frameChanged = Signal(int)
    selectionChanged = Signal(object)   # (start, end) the user dragged out on the timeline, or None

    def __init__(self, parent: QWidget | None = None, show_card: bool = True,
                 empty_text: str = "Select a clip to play it") -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.canvas = FigureCanvas()
        self.canvas.empty_text = self._empty_text = empty_text
        self.timeline = IssueTimeline()
        self.card_view = ClipCardView()
        self.card_view.setVisible(show_card)
        for w in (self.canvas, self.timeline):  # clicking them gives the viewer the keys
            w.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
            w.setFocusProxy(self)
        self.play_button = QToolButton()
        self._icons = (self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay),
                       self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPause))
        self.play_button.setIcon(self._icons[0])
        self.play_button.setToolTip("Play / pause (Space)")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Frame (←/→ step one, Home/End)")
        self.speed = QComboBox()
        for s in ("0.25×", "0.5×", "1×", "2×"):
            self.speed.addItem(s, float(s[:-1]))
        self.speed.setCurrentIndex(2)
        self.speed.setToolTip("Playback speed")
        self.loop = QCheckBox("Loop")
        self.loop.setChecked(True)
        controls = QHBoxLayout()
        self.slider.setMinimumWidth(40)  # a frame slider a user can still aim at in a narrow viewer
        for w in (self.play_button, self.slider, self.speed, self.loop):
            controls.addWidget(w, 1 if w is self.slider else 0)
        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.canvas, 1)
        left.addWidget(self.timeline)
        left.addLayout(controls)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(left, 1)
        lay.addWidget(self.card_view)
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self.play_button.clicked.connect(self.toggle)
        self.slider.valueChanged.connect(self.set_frame)
        self.timeline.seek.connect(self._seek)
        self.timeline.spanActivated.connect(lambda s: self.play_range(s.start, s.end))
        self.timeline.rangeSelected.connect(self.select_range)
        self.speed.currentIndexChanged.connect(self._retime)
        self._fps = 25.0
        self._T = 0
        self._t = 0
        self._issues: list[IssueSpan] = []
        self._range: tuple[int, int] | None = None
        self._selected = False    # the looped range is the user's selection (not an issue's frames)
        self._ticks: list[float] = []

    # ------------------------------------------------------------------ clip
    def set_clip(self, motion: np.ndarray, fps: float = 25.0, issues: Sequence[IssueSpan] = (),
                 card: ClipCard | None = None, ground: float | None = None) -> None:
        """Show a ``[T, 48]`` or ``[T, A, 48]`` clip from its first frame (playback state is kept).

        ``ground`` is the clip's ground height; None estimates it from the resting feet.
        """
        m = np.asarray(motion, dtype=np.float32)
        self.canvas.empty_text = self._empty_text  # a wait's message (show_message) ends with a clip
        self._fps = float(fps or 25.0)
        self._T = len(m)
        self._issues = [s for s in issues if s.end > s.start]
        self._range = None
        self._deselect()
        if ground is None and self._T:
            from stickgen_core.metrics import ClipInput, clip_frame_signals  # torch: not at start-up

            ground = float(clip_frame_signals(ClipInput(m, self._fps))["ground_y"][0])
        self.canvas.set_motion(m, ground, self._fps)
        self.timeline.set_issues(self._issues, self._T)
        self.card_view.set_card(card)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(self._T - 1, 0))
        self.slider.blockSignals(False)
        self.set_frame(0)
        self._retime()

    def show_message(self, text: str | None) -> None:
        """No clip, ``text`` in its place (what is being waited for); None: the viewer's own empty text."""
        self.pause()
        self.set_clip(np.zeros((0, 48), dtype=np.float32), self._fps, ground=0.0)
        self.canvas.empty_text = self._empty_text if text is None else text
        self.canvas.update()

    @property
    def issues(self) -> list[IssueSpan]:
        return list(self._issues)

    @property
    def frame(self) -> int:
        return self._t

    def active_issues(self) -> list[IssueSpan]:
        """The issues whose frames include the current one."""
        return [s for s in self._issues if s.start <= self._t < s.end]

    # ------------------------------------------------------------------ playback
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

    def play_range(self, start: int, end: int, loop: bool = True) -> None:
        """Jump to ``start`` and play frames ``[start, end)``, looping them when ``loop``."""
        a = int(np.clip(start, 0, max(self._T - 1, 0)))
        b = int(np.clip(end, a + 1, max(self._T, 1)))
        self._deselect()
        self._range = (a, b)
        self.loop.setChecked(loop)
        self.timeline.set_range(self._range)
        self.set_frame(a)
        self.play()

    def select_range(self, start: int, end: int) -> None:
        """The user's selection of frames ``[start, end)``: played in a loop and announced (``selectionChanged``)."""
        self.play_range(start, end)
        self._selected = True
        self.selectionChanged.emit(self._range)

    @property
    def selection(self) -> tuple[int, int] | None:
        """The frames the user selected on the timeline (None when the loop is an issue's, or none)."""
        return self._range if self._selected else None

    def _deselect(self) -> None:
        if self._selected:
            self._selected = False
            self.selectionChanged.emit(None)

    def clear_range(self) -> None:
        """Play the whole clip again."""
        self._range = None
        self.timeline.set_range(None)
        self._deselect()

    @property
    def play_bounds(self) -> tuple[int, int]:
        """The frames ``[start, end)`` playback runs over."""
        return self._range or (0, self._T)

    def set_frame(self, t: int) -> None:
        self._t = int(np.clip(t, 0, max(self._T - 1, 0)))
        self.canvas.set_frame(self._t, self.active_issues())
        self.timeline.set_frame(self._t)
        if self.slider.value() != self._t:
            self.slider.blockSignals(True)
            self.slider.setValue(self._t)
            self.slider.blockSignals(False)
        self.frameChanged.emit(self._t)

    def _seek(self, t: int) -> None:
        """A seek by the user outside the looped range ends the loop over that range."""
        if self._range and not self._range[0] <= t < self._range[1]:
            self.clear_range()
        self.set_frame(t)

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
        start, end = self.play_bounds
        nxt = self._t + 1
        if nxt >= end:
            if not self.loop.isChecked():
                self.pause()
                return
            nxt = start
        self.set_frame(nxt)

    # ------------------------------------------------------------------ keys
    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        key = event.key()
        steps = {Qt.Key.Key_Left: self._t - 1, Qt.Key.Key_Right: self._t + 1,
                 Qt.Key.Key_Home: 0, Qt.Key.Key_End: self._T - 1}
        if key in steps and self._T:
            self.pause()
            self._seek(steps[key])
        elif key == Qt.Key.Key_Space:
            self.toggle()
        elif key == Qt.Key.Key_Escape and self._range is not None:
            self.clear_range()
        else:
            super().keyPressEvent(event)
