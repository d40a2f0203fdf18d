"""Many clips laid back to back in a few flat arrays, with per-clip counts (``FlatClips``).

The layout the metrics work on and a packed file's columns already have: no per-clip objects,
each field one array. ``ClipInput`` lists convert with ``FlatClips.of``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .schema import FPS_DEFAULT

if TYPE_CHECKING:
    from .metrics import ClipInput


@dataclass
class FlatClips:
    """Many clips' arrays back to back, with per-clip counts: what ``compute_metrics_flat`` reads
    (no per-clip objects; a packed file's columns are this layout already).

    ``motion`` ``[sum(T * A), 48]``: each clip's ``[T, 48]`` or ``[T, A, 48]`` frames in order (a
    frame's actors adjacent). ``physics`` / ``camera`` rows and ``actions`` labels likewise, counted
    per clip by ``physics_rows`` / ``camera_rows`` (-1: the clip has none) and ``action_counts``.
    ``ground`` per clip: nan = estimate, inf = "auto", else that y.
    """

    motion: np.ndarray
    frames: np.ndarray
    actors: np.ndarray
    fps: np.ndarray
    ground: np.ndarray
    physics: np.ndarray
    physics_rows: np.ndarray
    camera: np.ndarray
    camera_rows: np.ndarray
    actions: np.ndarray
    action_counts: np.ndarray

    @classmethod
    def of(cls, clips: Sequence[ClipInput]) -> "FlatClips":
        """The flat layout of ``ClipInput``s (one concatenation per field)."""
        motions = [np.asarray(c.motion, dtype=np.float32) for c in clips]
        phys = [None if c.physics is None else np.asarray(c.physics, dtype=np.float32) for c in clips]
        cams = [None if c.camera is None else np.asarray(c.camera, dtype=np.float32) for c in clips]
        acts = [np.zeros(0, np.int64) if c.actions is None else np.asarray(c.actions).reshape(-1) for c in clips]
        # nan: estimate; inf: estimate, snapped to 0 when close ("auto")
        ground = [np.nan if c.ground is None else np.inf if c.ground == "auto" else float(c.ground) for c in clips]
        return cls(_cat([m.reshape(-1, 48) for m in motions], (0, 48), np.float32),
                   np.array([len(m) for m in motions], np.int64),
                   np.array([1 if m.ndim == 2 else m.shape[1] for m in motions], np.int64),
                   np.array([float(c.fps or FPS_DEFAULT) for c in clips]), np.array(ground, np.float64),
                   _cat([p for p in phys if p is not None], (0, 6), np.float32),
                   np.array([-1 if p is None else len(p) for p in phys], np.int64),
                   _cat([c for c in cams if c is not None], (0, 3), np.float32),
                   np.array([-1 if c is None else len(c) for c in cams], np.int64),
                   _cat(acts, (0,), np.int64), np.array([len(a) for a in acts], np.int64))

    def actor_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One ``[T, 48]`` row per actor: all rows' frames ``[N, 48]``, row lengths, owning clip."""
        if not len(self.actors) or (self.actors == 1).all():
            return self.motion, self.frames, np.arange(len(self.frames))
        A, T = self.actors, self.frames
        row_clip = np.repeat(np.arange(len(A)), A)
        row_actor = np.arange(len(row_clip)) - np.repeat(np.cumsum(A) - A, A)
        row_len = T[row_clip]
        frame_row = np.repeat(np.arange(len(row_clip)), row_len)
        pos = np.arange(int(row_len.sum())) - np.repeat(np.cumsum(row_len) - row_len, row_len)
        clip_start = np.cumsum(T * A) - T * A
        idx = clip_start[row_clip][frame_row] + pos * A[row_clip][frame_row] + row_actor[frame_row]
        return self.motion[idx], row_len, row_clip

    def clip_motions(self) -> list[np.ndarray]:
        """Each clip's motion as a view, ``[T, 48]`` (one actor) or ``[T, A, 48]``."""
        ends = np.cumsum(self.frames * self.actors)
        return [self.motion[e - t * a: e].reshape((t, 48) if a == 1 else (t, a, 48))
                for e, t, a in zip(ends.tolist(), self.frames.tolist(), self.actors.tolist())]


def _cat(parts: list[np.ndarray], empty: tuple[int, ...], dtype) -> np.ndarray:
    if not parts:
        return np.zeros(empty, dtype)
    return np.concatenate(parts) if len(parts) > 1 else np.asarray(parts[0], dtype)
