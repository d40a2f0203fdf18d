"""Frames a tracker lost (NaN keypoints, a body out of the sensor's view), filled in time."""

from __future__ import annotations

import numpy as np

from ..errors import DatasetError


def fill_gaps(x: np.ndarray, present: np.ndarray, origin: str, max_missing: float = 0.5) -> np.ndarray:
    """``x [T, ...]`` with the frames where ``present`` is False filled by linear interpolation in
    time (held at the ends); DatasetError naming ``origin`` when more than ``max_missing`` are missing."""
    present = np.asarray(present, dtype=bool)
    if present.all():
        return x
    missing = 1.0 - present.mean()
    if missing > max_missing:
        raise DatasetError(f"{origin}: {missing:.0%} of the frames have no usable joints "
                           f"(at most {max_missing:.0%} are filled in)", origin)
    t = np.arange(len(x))
    flat = x.reshape(len(x), -1)
    out = np.stack([np.interp(t, t[present], col[present]) for col in flat.T], axis=1)
    return out.reshape(x.shape)
