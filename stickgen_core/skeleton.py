"""Joints <-> v3 segments, and whole-skeleton measurements.

Joint arrays are ``[..., 16, 2]`` in ``schema.JOINT_NAMES`` order; segment arrays are
``[..., 48]``. Everything works on any leading batch shape at once.
"""

from __future__ import annotations

import numpy as np

from .schema import JOINT_INDEX, MOTION_DIM, NUM_SEGMENTS, SEGMENTS

_SEG_START = np.array([JOINT_INDEX[a] for _, a, _ in SEGMENTS])
_SEG_END = np.array([JOINT_INDEX[b] for _, _, b in SEGMENTS])
# For segments -> joints: which segment endpoint carries each joint.
_JOINT_SOURCE: dict[str, tuple[int, int]] = {}
for _i, (_, _a, _b) in enumerate(SEGMENTS):
    _JOINT_SOURCE.setdefault(_a, (_i, 0))
    _JOINT_SOURCE.setdefault(_b, (_i, 1))
_JOINT_SEG = np.array([_JOINT_SOURCE[n][0] for n in JOINT_INDEX])
_JOINT_END = np.array([_JOINT_SOURCE[n][1] for n in JOINT_INDEX])

#: Segments whose length a rigid body keeps (pelvis_width foreshortens with yaw).
RIGID_SEGMENTS = tuple(range(NUM_SEGMENTS - 1))


def joints_to_segments(joints: np.ndarray) -> np.ndarray:
    """``[..., 16, 2]`` joints -> ``[..., 48]`` v3 segments (float32)."""
    start = joints[..., _SEG_START, :]
    end = joints[..., _SEG_END, :]
    segs = np.concatenate([start, end], axis=-1)
    return segs.reshape(*joints.shape[:-2], MOTION_DIM).astype(np.float32, copy=False)


def segments_to_joints(motion: np.ndarray) -> np.ndarray:
    """``[..., 48]`` v3 segments -> ``[..., 16, 2]`` joints."""
    segs = motion.reshape(*motion.shape[:-1], NUM_SEGMENTS, 2, 2)
    return segs[..., _JOINT_SEG, _JOINT_END, :]


def segment_endpoints(motion: np.ndarray) -> np.ndarray:
    """``[..., 48]`` -> ``[..., 12, 2, 2]`` (segment, start/end, xy)."""
    return motion.reshape(*motion.shape[:-1], NUM_SEGMENTS, 2, 2)


def segment_lengths(motion: np.ndarray) -> np.ndarray:
    """``[..., 48]`` -> ``[..., 12]`` segment lengths."""
    seg = segment_endpoints(motion)
    return np.linalg.norm(seg[..., 1, :] - seg[..., 0, :], axis=-1)


def point_ys(motion: np.ndarray) -> np.ndarray:
    """All 24 endpoint y coordinates: ``[..., 48]`` -> ``[..., 24]``."""
    return motion[..., 1::2]


def figure_height(motion: np.ndarray) -> np.ndarray:
    """Standing height proxy per frame: neck->head + torso + thigh + shin lengths."""
    # only the 7 segments it adds, with hypot (np.linalg.norm over a length-2 axis is slow)
    seg = motion.reshape(*motion.shape[:-1], NUM_SEGMENTS, 4)[..., _HEIGHT_SEGMENTS, :]
    lengths = np.hypot(seg[..., 2] - seg[..., 0], seg[..., 3] - seg[..., 1])
    left = lengths[..., 3] + lengths[..., 4]
    right = lengths[..., 5] + lengths[..., 6]
    return lengths[..., 0] + lengths[..., 1] + lengths[..., 2] + 0.5 * (left + right)


_HEIGHT_SEGMENTS = [0, 1, 2, 7, 8, 9, 10]  # head, upper and lower torso, thighs and shins


def smooth_time(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian low-pass along axis 0 (frames), edges reflected; ``sigma`` in frames."""
    if sigma <= 0 or len(x) < 2:
        return x.copy()
    radius = max(int(np.ceil(3 * sigma)), 1)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    pad = [(radius, radius)] + [(0, 0)] * (x.ndim - 1)
    xp = np.pad(x, pad, mode="reflect" if len(x) > radius else "edge")
    out = np.zeros_like(x, dtype=np.result_type(x.dtype, np.float32))
    for i, w in enumerate(taps):  # a handful of taps; each step is a whole-array operation
        out += w * xp[i: i + len(x)]
    return out


def normalize_height(motion: np.ndarray, target: float = 1.75) -> np.ndarray:
    """Scale a clip about its first-frame pelvis so the median figure height is ``target`` m.

    The ground (y = 0) stays where it is, so a clip standing on the floor still does.
    """
    h = float(np.median(figure_height(motion.reshape(-1, MOTION_DIM)))) if len(motion) else 0.0
    if h <= 1e-6:
        return motion.copy()
    scale = target / h
    out = motion.astype(np.float32, copy=True)
    x0 = out[0, ..., 0::2].mean()
    out[..., 0::2] = (out[..., 0::2] - x0) * scale + x0
    out[..., 1::2] = out[..., 1::2] * scale
    return out
