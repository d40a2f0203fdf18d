"""What of a clip is motion, and at what scale: trailing padding and figure height.

**Padding.** Generators pad clips to a fixed length by repeating the last frame (the
reference Stick-Gen pads to 250 frames). Those exact repeats are not motion: ``content_length``
is the clip without them (the last moving frame and one copy of the rest pose). A clip
that moves for less than ``min_motion`` frames (a second) before it stops dead is static
(almost) from the start: it keeps its full length, so the frozen-frame rule still drops it.

**Scale.** Metric thresholds are in metres and assume a human-sized figure. A clip whose
figure is a plausible adult in metres (``figure_height`` proxy within ``METRE_PROXY_RANGE``)
is measured as it is; any other clip (centimetres, the reference's ~3-unit figures) is
measured after scaling it so that its figure stands ``STATED_BODY_HEIGHT`` tall.
``figure_height`` (neck->head + torso + legs, ankle to head centre) of a person standing
1.75 m tall is about ``PROXY_PER_HEIGHT`` x 1.75 m, as our synthetic skeleton measures.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .schema import MOTION_DIM
from .skeleton import figure_height

STATED_BODY_HEIGHT = 1.75          # m, standing height the metre thresholds assume
PROXY_PER_HEIGHT = 0.93            # figure_height proxy / standing height
METRE_PROXY_RANGE = (1.1, 2.1)     # proxies of people 1.2 .. 2.25 m tall, taken as metres


def content_length(motion: np.ndarray, min_motion: int = 25) -> int:
    """Frames of ``motion`` (``[T, ...]``) up to and including the first copy of a trailing run of
    exact repeats of the last frame; ``T`` when fewer than ``min_motion`` frames move first."""
    T = len(motion)
    if T < 2:
        return T
    flat = np.asarray(motion).reshape(T, -1)
    differs = np.nonzero((flat != flat[-1]).any(axis=1))[0]
    if differs.size == 0 or differs[-1] + 2 < min_motion:
        return T
    return int(differs[-1]) + 2


def clip_figure_height(motion: np.ndarray) -> float:
    """Median ``figure_height`` proxy of a clip over its frames and actors (its own units)."""
    flat = np.asarray(motion, dtype=np.float32).reshape(-1, MOTION_DIM)
    return float(np.median(figure_height(flat))) if len(flat) else 0.0


def metre_scale(height_proxy: float) -> float:
    """Factor that brings a clip of this figure height to metres (1 when it already looks like metres)."""
    lo, hi = METRE_PROXY_RANGE
    if not np.isfinite(height_proxy) or height_proxy <= 1e-6 or lo <= height_proxy <= hi:
        return 1.0
    return STATED_BODY_HEIGHT * PROXY_PER_HEIGHT / height_proxy


def shape_groups(motions: Sequence[np.ndarray]) -> dict[tuple[int, ...], list[int]]:
    """Indices of ``motions`` by array shape: each group stacks into one ``[B, T, ...]`` array."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, m in enumerate(motions):
        groups.setdefault(tuple(m.shape), []).append(i)
    return groups


def batch_content_prep(motions: Sequence[np.ndarray], min_motion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``content_length`` (with per-clip ``min_motion``) and ``clip_figure_height`` of many clips.

    Clips of one shape are stacked and measured together, so a dataset of 10 s clips is a
    handful of whole-array passes instead of two small numpy calls per clip; the values
    are those of the per-clip functions, bit for bit.
    """
    n = len(motions)
    kept = np.zeros(n, dtype=np.int64)
    heights = np.zeros(n, dtype=np.float64)
    for shape, idx in shape_groups(motions).items():
        T = shape[0]
        rows = np.asarray(idx)
        if T == 0:
            continue
        stack = np.stack([np.asarray(motions[i], dtype=np.float32) for i in idx]).reshape(len(idx), T, -1)
        heights[rows] = np.median(figure_height(stack.reshape(len(idx), -1, MOTION_DIM)), axis=1)
        if T < 2:
            kept[rows] = T
            continue
        differs = (stack != stack[:, -1:]).any(axis=2)                    # [B, T]
        last = T - 1 - np.argmax(differs[:, ::-1], axis=1)                # last frame that differs
        moving = differs.any(axis=1) & (last + 2 >= min_motion[rows])
        kept[rows] = np.where(moving, last + 2, T)
    return kept, heights


def metre_scales(height_proxy: np.ndarray) -> np.ndarray:
    """``metre_scale`` of many clips at once."""
    h = np.asarray(height_proxy, dtype=np.float64)
    lo, hi = METRE_PROXY_RANGE
    with np.errstate(divide="ignore", invalid="ignore"):
        out = STATED_BODY_HEIGHT * PROXY_PER_HEIGHT / h
    keep = ~np.isfinite(h) | (h <= 1e-6) | ((h >= lo) & (h <= hi))
    return np.where(keep, 1.0, out)
