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


def v1_sample_to_v3(sample: dict, path: Path, index: int) -> dict:
    """One v1 scene (motion ``[T, 20]`` or ``[T, A, 20]``) as a canonical v3 sample of actor 0."""
    from ..synth.generator import derive_physics  # the physics our own clips carry

    motion = np.asarray(sample["motion"], dtype=np.float32)
    if motion.ndim not in (2, 3) or motion.shape[-1] != V1_DIM:
        raise DatasetError(f"{path} sample {index}: expected v1 motion [T, 20] or [T, A, 20], got {list(motion.shape)}", path)
    actors = motion.shape[1] if motion.ndim == 3 else 1
    v3 = v1_motion_to_v3(motion[:, 0] if motion.ndim == 3 else motion)
    actions = np.asarray(sample["actions"], dtype=np.int64)
    actions = actions[:, 0] if actions.ndim == 2 else actions
    pelvis = 0.5 * (v3[:, 44:46] + v3[:, 46:48])
    annotations = {k: v for k, v in (sample.get("annotations") or {}).items() if k in ("shot_type", "camera_motion")}
    annotations["action_summary"] = _action_summary(actions)  # of actor 0: the file's summary covers all actors
    camera = np.asarray(sample.get("camera", np.zeros((len(v3), 3))), dtype=np.float32)
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
