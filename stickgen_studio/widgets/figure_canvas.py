"""Paints one frame of a clip: the figure (sides in colour, tinted where an issue is), the
ground with the earth below it shaded, and a left/right key. Plain QPainter, no OpenGL."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QWidget

from stickgen_core.framing import Framing, figure_framing
from stickgen_core.issues import IssueSpan

from .issue_style import issue_colour

BACKGROUND = QColor("#fafaf7")
EARTH = QColor("#ebe4d8")
GROUND_LINE = QColor("#78644f")
TRUNK, LEFT, RIGHT = QColor("#2b2b2b"), QColor("#286edc"), QColor("#e0701a")
# v3 segment order: head, upper/lower torso, left arm (2), right arm (2), left leg (2), right leg (2), pelvis
SEGMENT_COLOURS = [TRUNK] * 3 + [LEFT] * 2 + [RIGHT] * 2 + [LEFT] * 2 + [RIGHT] * 2 + [TRUNK]
# joints the v3 segments leave unjoined: neck -> shoulders and pelvis centre -> hips,
# as (from segment, from end, to segment, to end, colour); end 0 = (x1, y1), end 1 = (x2, y2)
LINKS = ((0, 0, 3, 0, LEFT), (0, 0, 5, 0, RIGHT), (2, 1, 7, 0, LEFT), (2, 1, 9, 0, RIGHT))
#: The link of each limb a ``detached_limb`` issue names: its gap is drawn dashed in the issue's colour.
GAP_LINKS = {"left arm": 0, "right arm": 1, "left leg": 2, "right leg": 3}


class FigureCanvas(QWidget):
    """One frame of a ``[T, A, 48]`` motion, framed by ``stickgen_core.framing``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(200, 180)
        self._m = np.zeros((0, 1, 48), dtype=np.float32)
        self._ground: float | None = 0.0
        self._fps = 25.0
        self.empty_text = "Select a clip to play it"  # what to do to see a figure here (each page says its own)
        self._framing: Framing | None = None
        self._t = 0
        self._active: list[IssueSpan] = []

    def set_motion(self, motion: np.ndarray, ground: float | None, fps: float) -> None:
        m = np.asarray(motion, dtype=np.float32)
        self._m = m[:, None, :] if m.ndim == 2 else m
        self._ground, self._fps, self._t = ground, fps, 0
        self._reframe()

    def set_frame(self, t: int, active: Sequence[IssueSpan] = ()) -> None:
        """Show frame ``t``; ``active`` issues tint the figure (the most severe one wins a limb)."""
        self._t = int(t)
        self._active = sorted(active, key=lambda s: s.severity)
        self.update()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt naming)
        super().resizeEvent(event)
        self._reframe()

    def _reframe(self) -> None:
        aspect = max(self.width(), 1) / max(self.height(), 1)
        self._framing = figure_framing(self._m, aspect, self._ground, self._fps) if len(self._m) else None
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), BACKGROUND)
        if self._framing is None:
            p.setPen(QColor("#666"))
            p.drawText(self.rect().adjusted(8, 0, -8, 0), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                       self.empty_text)
            return
        t = min(self._t, len(self._m) - 1)
        W, H = self.width(), self.height()
        f = self._framing
        scale = H / f.height
        cx, cy = float(f.cx[t]), float(f.cy[t])

        def px(x: float, y: float) -> QPointF:
            return QPointF((x - cx) * scale + W / 2, H / 2 - (y - cy) * scale)

        if self._ground is not None and np.isfinite(self._ground):
            self._paint_ground(p, px, cx, W / scale / 2)
        width = max(2.0, H * 0.011)
        for a in range(self._m.shape[1]):
            seg = self._m[t, a].reshape(12, 4)
            if np.isfinite(seg).all():
                self._paint_figure(p, seg, px, width, scale)
        key_left = self._paint_key(p)
        self._paint_caption(p, t, key_left - 12)

    def _paint_ground(self, p: QPainter, px, cx: float, half_width: float) -> None:
        gy = px(cx, float(self._ground)).y()
        W, H = self.width(), self.height()
        if gy < H:
            p.fillRect(QRectF(0, max(gy, 0), W, H - max(gy, 0)), EARTH)
        p.setPen(QPen(GROUND_LINE, 2))
        p.drawLine(QPointF(0, gy), QPointF(W, gy))
        # a tick every unit along the ground, so a followed walk still shows its travel
        p.setPen(QPen(GROUND_LINE.lighter(130), 1))
        for tick in np.arange(np.floor(cx - half_width), np.ceil(cx + half_width) + 1):
            q = px(float(tick), float(self._ground))
            p.drawLine(q, QPointF(q.x() - 6, q.y() + 8))

    def _paint_figure(self, p: QPainter, seg: np.ndarray, px, width: float, scale: float) -> None:
        tint: dict[int, QColor] = {}
        for span in self._active:  # sorted by severity: the worst one paints last
            for i in span.segments or range(12):
                tint[i] = issue_colour(span.kind, 0.2 + 0.5 * span.severity)
        round_cap = Qt.PenCapStyle.RoundCap
        for i, colour in tint.items():  # a halo behind the limbs an issue is about
            p.setPen(QPen(colour, width * 3.2, Qt.PenStyle.SolidLine, round_cap))
            p.drawLine(px(seg[i, 0], seg[i, 1]), px(seg[i, 2], seg[i, 3]))
        gaps = {GAP_LINKS[s.part]: s for s in self._active if s.kind == "detached_limb" and s.part in GAP_LINKS}
        for k, (s0, e0, s1, e1, colour) in enumerate(LINKS):
            a, b = px(*seg[s0, 2 * e0: 2 * e0 + 2]), px(*seg[s1, 2 * e1: 2 * e1 + 2])
            if k in gaps:  # a detached limb: the gap it floats across, dashed and in the issue's colour
                c = issue_colour("detached_limb")
                c.setAlpha(255)
                p.setPen(QPen(c, width * 0.9, Qt.PenStyle.DashLine, round_cap))
                p.drawLine(a, b)
                p.setBrush(c)
                p.drawEllipse(b, width * 0.9, width * 0.9)
                p.setBrush(Qt.BrushStyle.NoBrush)
                continue
            p.setPen(QPen(colour, width * 0.6, Qt.PenStyle.SolidLine, round_cap))
            p.drawLine(a, b)
        for i, (x1, y1, x2, y2) in enumerate(seg):
            p.setPen(QPen(SEGMENT_COLOURS[i], width, Qt.PenStyle.SolidLine, round_cap))
            p.drawLine(px(x1, y1), px(x2, y2))
        head = px(seg[0, 2], seg[0, 3])
        r = max(0.55 * float(np.hypot(seg[0, 2] - seg[0, 0], seg[0, 3] - seg[0, 1])) * scale, 3.0)
        p.setPen(QPen(TRUNK, width * 0.8))
        p.setBrush(tint.get(0, BACKGROUND))
        p.drawEllipse(head, r, r)
        p.setBrush(Qt.BrushStyle.NoBrush)

    def _paint_key(self, p: QPainter) -> float:
        """The left/right limb colours at the top right; returns where the key starts."""
        font = QFont(p.font())
        font.setPointSizeF(max(font.pointSizeF() * 0.9, 7.0))
        p.setFont(font)
        fm = p.fontMetrics()
        x = self.width() - 8
        for text, colour in (("right", RIGHT), ("left", LEFT)):
            w = fm.horizontalAdvance(text)
            x -= w
            p.setPen(QColor("#333"))
            p.drawText(QPointF(x, 8 + fm.ascent()), text)
            x -= 16
            p.setPen(QPen(colour, 3, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            p.drawLine(QPointF(x, 8 + fm.ascent() / 2 + 1), QPointF(x + 11, 8 + fm.ascent() / 2 + 1))
            x -= 10
        return x + 10

    def _paint_caption(self, p: QPainter, t: int, right: float) -> None:
        """Frame, time and the issues shown now, at the top left; the first line ends before ``right``
        (the key), shortened in a narrow viewer rather than printed over it."""
        fm = p.fontMetrics()
        y = 8 + fm.ascent()
        p.setPen(QColor("#333"))
        n, secs = len(self._m), f"{t / self._fps:.2f} s"
        options = (f"frame {t + 1} / {n}  ·  {secs}", f"{t + 1} / {n} · {secs}", f"{t + 1} / {n}")
        caption = next((c for c in options if 8 + fm.horizontalAdvance(c) <= right), options[-1])
        p.drawText(QPointF(8, y), caption)
        for span in reversed(self._active):  # worst first
            y += fm.height()
            colour = issue_colour(span.kind)
            colour.setAlpha(255)
            p.setPen(colour)
            p.drawText(QPointF(8, y), f"■ {span.label}")
