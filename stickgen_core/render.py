"""Draw stick-figure motion with Pillow: PNG frames, contact sheets, animated GIFs.

No Qt here: the studio has its own player; this is for the CLI, reports and checks.
Framing follows the figure horizontally (smoothed), so travelling clips stay in view,
and the ground line carries ticks every metre so travel remains visible.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .errors import MotionInputError
from .io import atomic_path
from .schema import NUM_SEGMENTS, motion_array

# left limbs blue, right limbs orange, trunk dark: a reader can tell the sides apart
_SEG_COLOURS = [(40, 40, 40)] * 3 + [(40, 110, 220)] * 2 + [(235, 120, 30)] * 2 + \
               [(40, 110, 220)] * 2 + [(235, 120, 30)] * 2 + [(40, 40, 40)]
_FLAG_COLOUR = (210, 30, 30)


def _as_numpy(motion) -> np.ndarray:
    arr = motion.detach().cpu().numpy() if isinstance(motion, torch.Tensor) else np.asarray(motion)
    arr = arr.astype(np.float32)
    return arr[:, None, :] if arr.ndim == 2 else arr  # [T, A, 48]


def view_framing(m: np.ndarray, follow: bool, aspect: float) -> tuple[np.ndarray, float, float, float]:
    """Per-frame centre x, and the shared y range and width of the view."""
    xs, ys = m[..., 0::2], m[..., 1::2]
    finite_y = ys[np.isfinite(ys)]
    y_lo = min(float(finite_y.min()) if finite_y.size else 0.0, 0.0) - 0.25
    y_hi = (float(finite_y.max()) if finite_y.size else 2.0) + 0.35
    height = max(y_hi - y_lo, 2.2)
    # every actor of a frame stays in view: people metres apart widen the view (and so shrink)
    with np.errstate(all="ignore"):
        spread = np.nanmax(xs.reshape(len(m), -1), axis=1) - np.nanmin(xs.reshape(len(m), -1), axis=1)
    widest = float(np.nanmax(spread)) + 0.6 if np.isfinite(spread).any() else 0.0
    height = max(height, widest / aspect)
    width = height * aspect
    cx = np.nanmean(xs.reshape(len(m), -1), axis=1)
    cx = np.nan_to_num(cx, nan=0.0)
    span = float(np.nanmax(xs) - np.nanmin(xs)) if np.isfinite(xs).any() else 0.0
    if follow and span > width * 0.8:
        k = min(len(cx), 25)
        cx = np.convolve(np.pad(cx, k // 2, mode="edge"), np.ones(k) / k, mode="valid")[: len(m)]
    else:
        cx = np.full(len(m), 0.5 * (np.nanmax(xs) + np.nanmin(xs)) if span else float(cx.mean()))
    return cx, y_lo, height, width


def render_frames(motion, *, size: tuple[int, int] = (320, 320), follow: bool = True,
                  title: str | None = None, flagged: Sequence[bool] | None = None,
                  line_width: int = 4, only: Sequence[int] | None = None) -> list[Image.Image]:
    """One RGB image per frame of ``motion`` (``[T, 48]`` or ``[T, A, 48]``), or per frame of ``only``
    (the framing still follows the whole clip; memory grows with the frames drawn)."""
    m = _as_numpy(motion)
    T = len(m)
    W, H = size
    cx, y_lo, height, width = view_framing(m, follow, W / H)
    scale = H / height
    font = ImageFont.load_default()
    frames = []
    for t in (range(T) if only is None else only):
        img = Image.new("RGB", size, (250, 250, 247))
        d = ImageDraw.Draw(img)
        to_px = lambda x, y: ((x - cx[t]) * scale + W / 2, H - (y - y_lo) * scale)  # noqa: E731
        gx0, gy = to_px(cx[t] - width, 0.0)
        d.line([(0, gy), (W, gy)], fill=(120, 100, 80), width=2)
        for tick in np.arange(np.floor(cx[t] - width), np.ceil(cx[t] + width) + 1):
            px, _ = to_px(tick, 0.0)
            d.line([(px, gy), (px - 6, gy + 8)], fill=(160, 140, 120), width=1)
        for a in range(m.shape[1]):
            seg = m[t, a].reshape(NUM_SEGMENTS, 4)
            if not np.isfinite(seg).all():
                continue
            for i, (x1, y1, x2, y2) in enumerate(seg):
                d.line([to_px(x1, y1), to_px(x2, y2)], fill=_SEG_COLOURS[i], width=line_width)
            hx, hy = to_px(seg[0, 2], seg[0, 3])
            neck = np.hypot(seg[0, 2] - seg[0, 0], seg[0, 3] - seg[0, 1])
            r = max(0.55 * neck * scale, 3)
            d.ellipse([hx - r, hy - r, hx + r, hy + r], outline=(40, 40, 40), width=line_width - 1, fill=(250, 250, 247))
        flag = bool(flagged[t]) if flagged is not None and t < len(flagged) else False
        d.text((6, 4), f"frame {t + 1}/{T}", fill=_FLAG_COLOUR if flag else (60, 60, 60), font=font)
        if title:
            d.text((6, H - 14), title[: max(W // 6, 10)], fill=(60, 60, 60), font=font)
        frames.append(img)
    return frames


def save_gif(motion, path: str | Path, *, fps: float = 25.0, size: tuple[int, int] = (320, 320),
             title: str | None = None, flagged: Sequence[bool] | None = None, every: int = 1) -> Path:
    """Write an animated GIF (atomically); ``every`` keeps one frame in ``every``. ``MotionInputError``
    for a motion that is not ``[T, 48]`` / ``[T, A, 48]`` numbers with at least one frame, or bad settings."""
    motion = motion_array(motion, "motion")
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise MotionInputError(f"every: expected a whole number of at least 1, got {every!r}")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not np.isfinite(fps) or not 0 < fps <= 1000:
        raise MotionInputError(f"fps: expected a frame rate in (0, 1000], got {fps!r}")
    n = len(motion)
    if n == 0:
        raise MotionInputError(f"motion: expected at least one frame to render, got shape {list(motion.shape)}")
    frames = render_frames(motion, size=size, title=title, flagged=flagged, only=range(0, n, every))
    duration_ms = int(round(1000 * max(every, 1) / fps))
    with atomic_path(path) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=duration_ms, loop=0)
    return Path(path)


def save_png_frames(motion, folder: str | Path, *, every: int = 1, size: tuple[int, int] = (320, 320)) -> list[Path]:
    """Write ``frame_0000.png`` ... into ``folder``; returns the paths."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    kept = range(0, len(motion), max(every, 1))
    for t, img in zip(kept, render_frames(motion, size=size, only=kept)):
        p = out / f"frame_{t:04d}.png"
        with atomic_path(p) as tmp:
            img.save(tmp, format="PNG")
        paths.append(p)
    return paths


def contact_sheet(motion, *, columns: int = 8, rows: int = 1, size: tuple[int, int] = (160, 200),
                  title: str | None = None) -> Image.Image:
    """Evenly spaced frames side by side in one image, for a quick look at a whole clip."""
    m = _as_numpy(motion)
    n = columns * rows
    idx = np.linspace(0, len(m) - 1, n).round().astype(int)
    drawn = render_frames(m, size=size, follow=True, only=idx.tolist())
    sheet = Image.new("RGB", (columns * size[0], rows * size[1] + (16 if title else 0)), (255, 255, 255))
    for k, img in enumerate(drawn):
        sheet.paste(img, ((k % columns) * size[0], (k // columns) * size[1]))
    if title:
        ImageDraw.Draw(sheet).text((4, rows * size[1] + 2), title, fill=(0, 0, 0), font=ImageFont.load_default())
    return sheet
