"""Where a viewer looks: a view that holds the figure large, from the whole clip's extent.

A clip whose whole extent (figure plus ground) fits in a view where the figure still fills
most of the height gets one still view of that extent; otherwise the view follows the
figure on the axis that does not fit (a climb follows y, a long walk follows x).
Works in the data's own units, so foreign data (ground at y = -0.7, figures 3 units tall)
frames as well as ours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Fraction of the view height kept free above and below the figure.
MARGIN = 0.08
#: A still view may be this many times the figure's own view before the view follows.
STILL_LIMIT = 1.6


@dataclass(frozen=True)
class Framing:
    """Per-frame view centre ``cx``, ``cy`` ``[T]`` and the view's height (width = height × aspect)."""

    cx: np.ndarray
    cy: np.ndarray
    height: float

    def width(self, aspect: float) -> float:
        return self.height * aspect


def _follow(centre: np.ndarray, lo: np.ndarray, hi: np.ndarray, span: float, window: int) -> np.ndarray:
    """A smoothed per-frame centre, clamped so each frame's figure stays inside ``span``."""
    k = max(min(window, len(centre)) | 1, 1)
    smooth = np.convolve(np.pad(centre, k // 2, mode="edge"), np.ones(k) / k, mode="valid")[: len(centre)]
    pad = span * MARGIN
    lo_c, hi_c = hi - span / 2 + pad, lo + span / 2 - pad
    return np.clip(smooth, np.minimum(lo_c, hi_c), np.maximum(lo_c, hi_c))


def figure_framing(motion: np.ndarray, aspect: float, ground: float | None = None, fps: float = 25.0) -> Framing:
    """The view of a ``[T, 48]`` or ``[T, A, 48]`` clip for a viewport of width/height ``aspect``."""
    m = np.asarray(motion, dtype=np.float64)
    m = m.reshape(len(m), -1)
    xs, ys = m[:, 0::2], m[:, 1::2]
    ok = np.isfinite(xs).any(1) & np.isfinite(ys).any(1)
    if not ok.any():
        return Framing(np.zeros(len(m)), np.full(len(m), 1.0), 2.2)
    with np.errstate(all="ignore"):
        x0, x1 = np.nanmin(xs, 1), np.nanmax(xs, 1)
        y0, y1 = np.nanmin(ys, 1), np.nanmax(ys, 1)
    # frames with no finite point borrow the nearest drawn frame's box
    idx = np.maximum.accumulate(np.where(ok, np.arange(len(m)), 0))
    idx = np.where(ok[idx], idx, int(np.flatnonzero(ok)[0]))
    # viewers draw the head as a circle about head_center: keep the circle in view too
    head = np.hypot(m[:, 2] - m[:, 0], m[:, 3] - m[:, 1])
    pad = 0.6 * float(np.nanmedian(head)) if np.isfinite(head).any() else 0.0
    x0, x1, y0, y1 = x0[idx] - pad, x1[idx] + pad, y0[idx], y1[idx] + pad
    aspect = max(float(aspect), 1e-3)
    fig_h = float(np.max(y1 - y0))
    fig_w = float(np.max(x1 - x0))
    scale = max(fig_h, fig_w / aspect, 1e-3)
    own = scale / (1 - 2 * MARGIN)                        # the figure's own view height
    lo_y = min(float(y0.min()), ground) if ground is not None and np.isfinite(ground) else float(y0.min())
    all_h = (float(y1.max()) - lo_y) / (1 - 2 * MARGIN)
    window = int(round(fps * 0.6))
    if all_h <= own * STILL_LIMIT:
        height = max(all_h, own)
        cy = np.full(len(m), (lo_y + float(y1.max())) / 2)
    else:
        height = own * 1.15
        cy = _follow((y0 + y1) / 2, y0, y1, height, window)
    width = height * aspect
    all_w = (float(x1.max()) - float(x0.min())) / (1 - 2 * MARGIN)
    if all_w <= width:
        cx = np.full(len(m), (float(x0.min()) + float(x1.max())) / 2)
    else:
        cx = _follow((x0 + x1) / 2, x0, x1, width, window)
    return Framing(cx, cy, height)
