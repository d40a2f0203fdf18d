"""3-D joint tracks of any source -> one canonical 2-D sample (shared by every converter; one person
or several).

Steps, in order: the up axis is found (pelvis -> head, on average); units are given or found
from the figure's height (``units.py``: m, cm, mm, inches or CMU's); the clip is resampled to 25 fps; the
2-D plane is the vertical plane through the main travel direction (the first principal
axis of the pelvis path on the floor, pointing from start to end), so the figure is seen
from the side it walks past; when it hardly travels (< 0.5 m) the plane is the one it
faces across (perpendicular to the mean hip line), again a side view. Finally the floor is
put at y = 0 by the same resting-feet estimate curation uses.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import torch

from ..clip_prep import PROXY_PER_HEIGHT, STATED_BODY_HEIGHT, clip_figure_height
from ..errors import DatasetError
from ..limits import CONVERT_FRAMES
from ..schema import ACTIONS, FPS_DEFAULT, JOINT_INDEX, SCHEMA_VERSION, UNKNOWN_ACTION, action_index
from ..skeleton import joints_to_segments
from .units import find_units, resolve_units  # noqa: F401  (find_units: kept importable from here)

log = logging.getLogger(__name__)


@dataclass
class Track3D:
    """Joints ``[T, 16, 3]`` (``[T, A, 16, 3]`` for several people) in ``schema.JOINT_NAMES`` order,
    in the file's own units and axes."""

    joints: np.ndarray
    fps: float
    origin: str
    meta: dict


def find_up_axis(joints: np.ndarray) -> tuple[int, float]:
    """(axis, sign) along which the head sits above the pelvis."""
    v = (joints[:, JOINT_INDEX["head_center"]] - joints[:, JOINT_INDEX["pelvis_center"]]).mean(0)
    axis = int(np.argmax(np.abs(v)))
    return axis, float(np.sign(v[axis]) or 1.0)


def resample(x: np.ndarray, fps_in: float, fps_out: float = FPS_DEFAULT) -> np.ndarray:
    """Linear resampling of ``[T, ...]`` along time to ``fps_out``."""
    T = len(x)
    if T < 2 or abs(fps_in - fps_out) < 1e-6:
        return x.copy()
    n = int(np.floor((T - 1) * fps_out / fps_in)) + 1
    t = np.arange(n) * fps_in / fps_out
    i0 = np.clip(np.floor(t).astype(int), 0, T - 1)
    i1 = np.clip(i0 + 1, 0, T - 1)
    w = (t - i0).reshape(-1, *([1] * (x.ndim - 1)))
    return (1 - w) * x[i0] + w * x[i1]


#: The tallest standing height ``--target-height`` scales a figure to (a person, not a building).
MAX_TARGET_HEIGHT = 10.0


def target_height_problem(height: object) -> str | None:
    """Why ``height`` is no ``--target-height`` (None or 0: keep the file's size), or None when it is one."""
    if height is None or (isinstance(height, (int, float)) and not isinstance(height, bool)
                          and (height == 0 or 0 < height <= MAX_TARGET_HEIGHT)):
        return None  # NaN fails every comparison: refused below
    return (f"expected 0 (keep the file's size) or a height in metres above 0 and at most "
            f"{MAX_TARGET_HEIGHT:g}, got {height!r}")


def check_length(frames: int, fps_in: float, origin: str, fps_out: float = FPS_DEFAULT) -> int:
    """Frames of ``frames`` at ``fps_in`` resampled to ``fps_out``; DatasetError past ``CONVERT_FRAMES``."""
    if not (np.isfinite(fps_in) and fps_in > 0):
        raise DatasetError(f"{origin}: frame rate {fps_in!r}: expected a positive number of frames per second", origin)
    n, cap = (frames - 1) * (fps_out / fps_in) + 1, CONVERT_FRAMES.value()
    if not n <= cap:  # also catches inf/nan from a frame time of 1e300
        raise DatasetError(f"{origin}: {frames} frames at {fps_in:.3g} fps last {(frames - 1) / fps_in:.3g} s, "
                           f"{n:.3g} frames at {fps_out:g} fps: more than a converted clip may hold ({cap:,}); "
                           f"raise {CONVERT_FRAMES.env} if the file is genuine", origin)
    return int(n)


def guess_action(text: str) -> int:
    """The first vocabulary action (or alias) named by a word of ``text``; ``unknown`` when none."""
    for word in re.findall(r"[a-z]+", text.lower()):
        for cand in (word, word.rstrip("s"), word[:-3] if word.endswith("ing") else word):
            try:
                return action_index(cand)
            except KeyError:
                continue
    return UNKNOWN_ACTION


def side_view(joints_m: np.ndarray, up: int, sign: float) -> tuple[np.ndarray, str]:
    """``[T, 16, 3]`` metres -> ``[T, 16, 2]`` (x along the travel/facing direction, y up)."""
    y = joints_m[..., up] * sign
    floor_axes = [a for a in range(3) if a != up]
    flat = joints_m[..., floor_axes]                                  # [T, 16, 2] on the floor
    pelvis = flat[:, JOINT_INDEX["pelvis_center"]]
    travel = pelvis[-1] - pelvis[0]
    if np.linalg.norm(travel) >= 0.5:
        centred = pelvis - pelvis.mean(0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        d = vt[0] * (np.sign(vt[0] @ travel) or 1.0)
        how = "travel"
    else:
        hips = (flat[:, JOINT_INDEX["l_hip"]] - flat[:, JOINT_INDEX["r_hip"]]).mean(0)
        d = np.array([-hips[1], hips[0]])
        how = "facing"
    d = d / max(np.linalg.norm(d), 1e-9)
    x = flat @ d
    return np.stack([x - x[0, JOINT_INDEX["pelvis_center"]], y], axis=-1), how


def to_sample(track: Track3D, description: str, action: str | None = None,
              target_height: float | None = STATED_BODY_HEIGHT, *, units: str = "auto",
              scale: float | None = None) -> dict:
    """A canonical sample (``source: mocap``) of a 3-D joint track, its figure scaled to stand
    ``target_height`` m tall (None: as the file measures it, in metres). ``units`` (``m``, ``cm``,
    ``mm``, ``in``, ``cmu`` or ``auto``) or ``scale`` (metres per file unit) say what a file unit is.

    Joints ``[T, A, 16, 3]`` (several people, e.g. NTU RGB+D) give ``[T, A, 48]`` motion and
    ``[T, A]`` actions: the actors share one up axis, unit, plane (actor 0's: two people facing
    each other are seen from the side, both in view), scale (their median height, so a child stays
    smaller than the adult beside it) and floor (the median of their resting-feet estimates)."""
    J = np.asarray(track.joints, dtype=np.float64)
    multi = J.ndim == 4
    J = J if multi else J[:, None]
    if J.ndim != 4 or J.shape[2:] != (16, 3) or len(J) < 2 or J.shape[1] < 1:
        raise DatasetError(f"{track.origin}: expected at least 2 frames of 16 joints in 3-D ([T, 16, 3] or "
                           f"[T, A, 16, 3]), got {list(np.shape(track.joints))}", track.origin)
    if not np.isfinite(J).all():
        raise DatasetError(f"{track.origin}: joint positions hold NaN or infinite values", track.origin)
    problem = target_height_problem(target_height)
    if problem:  # a negative height would turn the figure upside down under the ground
        raise DatasetError(f"{track.origin}: --target-height: {problem}", track.origin)
    T0, A = J.shape[:2]
    up, sign = find_up_axis(J.reshape(T0 * A, 16, 3))
    ankles = J[..., [JOINT_INDEX["l_ankle"], JOINT_INDEX["r_ankle"]], up].mean(-1)
    height = float(np.median(np.abs(J[..., JOINT_INDEX["head_center"], up] - ankles)))
    unit, factor = resolve_units(height, track.origin, units, scale)
    check_length(T0, track.fps, track.origin)
    J = resample(J * factor, track.fps)
    T = len(J)
    flat, plane = side_view(J.reshape(T, A * 16, 3), up, sign)  # actor 0's joints come first: its plane
    pts = flat.reshape(T, A, 16, 2)
    pelvis = JOINT_INDEX["pelvis_center"]
    # pelvis_center is the midpoint of the hips in the canonical skeleton
    pts[:, :, pelvis] = 0.5 * (pts[:, :, JOINT_INDEX["l_hip"]] + pts[:, :, JOINT_INDEX["r_hip"]])
    found = clip_figure_height(joints_to_segments(pts)) / PROXY_PER_HEIGHT
    if target_height:
        pts *= target_height / found
    pts = pts.astype(np.float32)
    pts[..., 1] -= _ground(pts)
    from ..synth.generator import derive_physics  # the same physics our own clips carry

    act = action_index(action) if action else guess_action(description + " " + track.origin.rsplit("/", 1)[-1])
    centre = pts[:, :, pelvis].mean(axis=1)  # a group's centre, as our multi-actor clips use
    camera = np.ones((T, 3), np.float32)
    camera[:, 0] = centre[:, 0]
    meta = dict(track.meta, origin=track.origin, fps=FPS_DEFAULT, source_fps=float(track.fps),
                source_frames=int(T0), units=unit, metres_per_unit=factor, up_axis="xyz"[up] if sign > 0 else "-" + "xyz"[up],
                plane=plane, action=ACTIONS[act], found_height_m=round(found, 3))
    motion = joints_to_segments(pts)
    if multi:
        meta["num_actors"] = int(A)
    return {"description": description, "motion": torch.from_numpy(motion if multi else motion[:, 0]),
            "actions": torch.full((T, A) if multi else (T,), act, dtype=torch.int64),
            "physics": torch.from_numpy(derive_physics(centre, FPS_DEFAULT)),
            "camera": torch.from_numpy(camera), "source": "mocap", "schema_version": SCHEMA_VERSION, "meta": meta}


def _ground(pts: np.ndarray) -> float:
    """Floor height of ``[T, A, 16, 2]`` metres: the median over actors of the resting-feet estimate
    curation uses."""
    from ..metrics import ClipInput, compute_metrics

    clips = [ClipInput(joints_to_segments(pts[:, a]), ground=None) for a in range(pts.shape[1])]
    return float(np.median(compute_metrics(clips)["ground_y"]))
