"""The reference Stick-Gen's v1 motion (5 lines x (x1, y1, x2, y2) = 20 numbers a frame) as v3.

v1 lines, as its generator writes them: 0 torso neck->pelvis, 1 left leg hip->foot, 2 right
leg, 3 left arm shoulder->hand, 4 right arm. Its own ``_v1_motion_to_v3`` (the pipeline that
made ``ref_sample_60.pt`` from ``ref_sample_60_v1.pt``) places the v3 joints as follows, which
this module reproduces exactly (0.0 difference on all 60 sample clips): the chest is the mean
of the two arm starts, the hips are the torso's end (not the leg lines' starts), elbows and
knees are the midpoints of the arm and leg lines, and the head centre lies half a torso
length beyond the neck along the torso axis. Only actor 0 is kept, as its pipeline does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import DatasetError
from ..schema import ACTIONS, FPS_DEFAULT, JOINT_INDEX, SCHEMA_VERSION
from ..skeleton import joints_to_segments

V1_DIM = 20


def v1_motion_to_v3(motion: np.ndarray) -> np.ndarray:
    """``[..., 20]`` v1 motion -> ``[..., 48]`` v3 motion (any leading shape, vectorised)."""
    m = np.asarray(motion, dtype=np.float32)
    lines = m.reshape(*m.shape[:-1], 5, 2, 2)  # line, start/end, x/y
    neck, pelvis = lines[..., 0, 0, :], lines[..., 0, 1, :]
    chest = 0.5 * (lines[..., 3, 0, :] + lines[..., 4, 0, :])
    l_hand, r_hand = lines[..., 3, 1, :], lines[..., 4, 1, :]
    l_foot, r_foot = lines[..., 1, 1, :], lines[..., 2, 1, :]
    joints = np.empty((*m.shape[:-1], len(JOINT_INDEX), 2), np.float32)
    place = {"head_center": neck + 0.5 * (neck - pelvis), "neck": neck, "chest": chest, "pelvis_center": pelvis,
             "l_shoulder": chest, "l_elbow": 0.5 * (chest + l_hand), "l_wrist": l_hand,
             "r_shoulder": chest, "r_elbow": 0.5 * (chest + r_hand), "r_wrist": r_hand,
             "l_hip": pelvis, "l_knee": 0.5 * (pelvis + l_foot), "l_ankle": l_foot,
             "r_hip": pelvis, "r_knee": 0.5 * (pelvis + r_foot), "r_ankle": r_foot}
    for name, value in place.items():
        joints[..., JOINT_INDEX[name], :] = value
    return joints_to_segments(joints)


def _action_summary(actions: np.ndarray) -> dict:
    names, counts = np.unique(actions, return_counts=True)
    share = {ACTIONS[int(n)]: float(c) / len(actions) for n, c in zip(names, counts)}
    return {"dominant": [max(share, key=share.get)], "distribution": share}


def _numeric(value, what: str, dtype) -> np.ndarray:
    """``value`` as a numeric array; DatasetError naming ``what`` for text, objects or ragged lists."""
    try:
        arr = np.asarray(value.numpy() if isinstance(value, torch.Tensor) else value)
    except (ValueError, TypeError, RuntimeError):
        arr = np.asarray(None)
    if arr.dtype.kind not in "biuf" or arr.ndim == 0:
        raise DatasetError(f"{what}: expected a numeric array, got {type(value).__name__}"
                           + (f" of {arr.dtype}" if hasattr(arr, "dtype") and arr.ndim else ""))
    return arr.astype(dtype)


def v1_sample_to_v3(sample: dict, path: Path, index: int) -> dict:
    """One v1 scene (motion ``[T, 20]`` or ``[T, A, 20]``) as a canonical v3 sample of actor 0."""
    from ..synth.generator import derive_physics  # the physics our own clips carry

    where = f"{path} sample {index}"
    motion = _numeric(sample.get("motion"), f"{where}: motion", np.float32)
    if motion.ndim not in (2, 3) or motion.shape[-1] != V1_DIM or 0 in motion.shape:
        raise DatasetError(f"{where}: expected v1 motion [T, 20] or [T, A, 20] with T, A >= 1, got {list(motion.shape)}", path)
    actors, T = (motion.shape[1] if motion.ndim == 3 else 1), len(motion)
    v3 = v1_motion_to_v3(motion[:, 0] if motion.ndim == 3 else motion)
    if "actions" not in sample:
        raise DatasetError(f"{where}: missing 'actions' (per-frame action indices [T] or [T, A])", path)
    actions = _numeric(sample["actions"], f"{where}: actions", np.int64)
    if actions.shape not in ((T,), (T, actors)):
        raise DatasetError(f"{where}: actions: expected shape [{T}] or [{T}, {actors}] like its motion, "
                           f"got {list(actions.shape)}", path)
    actions = actions[:, 0] if actions.ndim == 2 else actions
    if actions.min() < 0 or actions.max() >= len(ACTIONS):
        raise DatasetError(f"{where}: actions: expected indices 0..{len(ACTIONS) - 1}, got {int(actions.min())}.."
                           f"{int(actions.max())}", path)
    if not isinstance(sample.get("description"), str):
        raise DatasetError(f"{where}: description: expected text, got {type(sample.get('description')).__name__}", path)
    raw_ann = sample.get("annotations") or {}
    if not isinstance(raw_ann, dict):
        raise DatasetError(f"{where}: annotations: expected a mapping, got {type(raw_ann).__name__}", path)
    pelvis = 0.5 * (v3[:, 44:46] + v3[:, 46:48])
    annotations = {k: v for k, v in raw_ann.items() if k in ("shot_type", "camera_motion")}
    annotations["action_summary"] = _action_summary(actions)  # of actor 0: the file's summary covers all actors
    camera = _numeric(sample.get("camera", np.ones((T, 3))), f"{where}: camera", np.float32)
    if camera.shape[:1] != (T,) or camera.size < 3 * T:
        raise DatasetError(f"{where}: camera: expected [{T}, 3] like its motion, got {list(camera.shape)}", path)
    out = {"description": sample["description"], "motion": torch.from_numpy(v3),
           "actions": torch.from_numpy(actions), "physics": torch.from_numpy(derive_physics(pelvis, FPS_DEFAULT)),
           "camera": torch.from_numpy(camera.reshape(len(v3), -1)[:, :3]), "source": sample.get("source", "synthetic"),
           "annotations": annotations, "schema_version": SCHEMA_VERSION,
           "meta": {"origin": str(path), "origin_index": index, "origin_format": "reference v1",
                    "actors_in_file": int(actors), "actor": 0, "fps": FPS_DEFAULT}}
    for key in ("shot_type", "camera_motion", "quality_score"):
        if key in sample:
            out[key] = sample[key]
    return out
