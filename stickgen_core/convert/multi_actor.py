"""Several people's 3-D joint tracks -> one multi-actor sample (``motion [T, A, 48]``).

The steps of ``joints3d.to_sample`` on all actors at once, so they share one up axis, one
unit, one 2-D plane, one scale and one floor: the plane is actor 0's (its travel or facing
direction: two people facing each other are then seen from the side, both in view); the
scale brings the actors' median height to ``target_height`` (a child stays smaller than an
adult beside it); the floor is the median of each actor's resting-feet estimate.
"""

from __future__ import annotations

import numpy as np
import torch

from ..clip_prep import PROXY_PER_HEIGHT, STATED_BODY_HEIGHT, clip_figure_height
from ..errors import DatasetError
from ..schema import ACTIONS, FPS_DEFAULT, JOINT_INDEX, SCHEMA_VERSION, action_index
from ..skeleton import joints_to_segments
from .joints3d import Track3D, check_length, find_up_axis, guess_action, resample, side_view, to_sample
from .units import resolve_units


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


def _floor(pts: np.ndarray) -> float:
    """Median over actors of the resting-feet floor estimate curation uses (``pts [T, A, 16, 2]``)."""
    from ..metrics import ClipInput, compute_metrics

    clips = [ClipInput(joints_to_segments(pts[:, a]), ground=None) for a in range(pts.shape[1])]
    return float(np.median(compute_metrics(clips)["ground_y"]))


def to_multi_sample(track: Track3D, description: str, action: str | None = None,
                    target_height: float | None = STATED_BODY_HEIGHT, *, units: str = "auto",
                    scale: float | None = None) -> dict:
    """A canonical sample of ``track.joints [T, A, 16, 3]``: ``[T, A, 48]`` motion and ``[T, A]``
    actions for two or more actors, ``joints3d.to_sample`` for one (``[T, 16, 3]`` or a single actor)."""
    J = np.asarray(track.joints, dtype=np.float64)
    if J.ndim == 3:
        J = J[:, None]
    if J.ndim != 4 or J.shape[2:] != (16, 3) or len(J) < 2 or J.shape[1] < 1:
        raise DatasetError(f"{track.origin}: expected at least 2 frames of [A, 16, 3] actor joints, "
                           f"got {list(J.shape)}", track.origin)
    if J.shape[1] == 1:
        return to_sample(Track3D(J[:, 0], track.fps, track.origin, track.meta), description, action, target_height,
                         units=units, scale=scale)
    if not np.isfinite(J).all():
        raise DatasetError(f"{track.origin}: joint positions hold NaN or infinite values", track.origin)
    T0, A = J.shape[:2]
    up, sign = find_up_axis(J.reshape(T0 * A, 16, 3))
    ankles = J[..., [JOINT_INDEX["l_ankle"], JOINT_INDEX["r_ankle"]], up].mean(-1)
    height = float(np.median(np.abs(J[..., JOINT_INDEX["head_center"], up] - ankles)))
    unit, factor = resolve_units(height, track.origin, units, scale)
    check_length(T0, track.fps, track.origin)
    J = resample(J * factor, track.fps)
    T = len(J)
    # actor 0's joints come first, so the plane side_view picks is actor 0's
    flat, plane = side_view(J.reshape(T, A * 16, 3), up, sign)
    pts = flat.reshape(T, A, 16, 2)
    pelvis = JOINT_INDEX["pelvis_center"]
    pts[:, :, pelvis] = 0.5 * (pts[:, :, JOINT_INDEX["l_hip"]] + pts[:, :, JOINT_INDEX["r_hip"]])
    found = clip_figure_height(joints_to_segments(pts)) / PROXY_PER_HEIGHT
    if target_height:
        pts *= target_height / found
    pts = pts.astype(np.float32)
    pts[..., 1] -= _floor(pts)
    from ..synth.generator import derive_physics  # the same physics our own clips carry

    act = action_index(action) if action else guess_action(description + " " + track.origin.rsplit("/", 1)[-1])
    centre = pts[:, :, pelvis].mean(axis=1)  # the group's centre, as the synthetic multi-actor clips use
    camera = np.ones((T, 3), np.float32)
    camera[:, 0] = centre[:, 0]
    meta = dict(track.meta, origin=track.origin, fps=FPS_DEFAULT, source_fps=float(track.fps),
                source_frames=int(T0), units=unit, metres_per_unit=factor, up_axis="xyz"[up] if sign > 0 else "-" + "xyz"[up],
                plane=plane, action=ACTIONS[act], found_height_m=round(found, 3), num_actors=int(A))
    return {"description": description, "motion": torch.from_numpy(joints_to_segments(pts)),
            "actions": torch.full((T, A), act, dtype=torch.int64),
            "physics": torch.from_numpy(derive_physics(centre, FPS_DEFAULT)),
            "camera": torch.from_numpy(camera), "source": "mocap", "schema_version": SCHEMA_VERSION, "meta": meta}
