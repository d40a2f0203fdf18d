"""Generated poses kept a skeleton: bones that never stretch, connected joints, feet not below the ground.

The model predicts free 48-vectors; during generation each new pose is rebuilt from the
pelvis outwards along the predicted bone directions, no bone longer than its reference
length, and lifted when its lowest point is under y = 0. A 2-D projection foreshortens a
limb that turns towards the camera (ground-truth arms vary by 10-15 % within a clip), so
shorter is allowed; longer never is. Fed back as the next input, the rebuilt pose also
stops drift from accumulating (legs that lengthen and sink over a clip).
"""

from __future__ import annotations

import torch

from ..schema import JOINT_INDEX, SEGMENTS

J = JOINT_INDEX
_SEG = {name: i for i, (name, _, _) in enumerate(SEGMENTS)}
# (segment, joint to place, joint it hangs from); each parent is placed before its children
_CHAIN = (("l_thigh", "l_knee", "l_hip"), ("r_thigh", "r_knee", "r_hip"), ("lower_torso", "chest", "pelvis_center"),
          ("l_shin", "l_ankle", "l_knee"), ("r_shin", "r_ankle", "r_knee"), ("upper_torso", "neck", "chest"),
          ("head", "head_center", "neck"), ("l_upper_arm", "l_elbow", "l_shoulder"),
          ("r_upper_arm", "r_elbow", "r_shoulder"), ("l_forearm", "l_wrist", "l_elbow"),
          ("r_forearm", "r_wrist", "r_elbow"))
_FROM = {name: (a, b) for name, a, b in SEGMENTS}


def _joints(pose: torch.Tensor) -> dict[str, torch.Tensor]:
    """``[B, 48]`` -> joint name -> ``[B, 2]`` (first segment endpoint that carries it)."""
    out: dict[str, torch.Tensor] = {}
    for i, (_, a, b) in enumerate(SEGMENTS):
        out.setdefault(a, pose[:, 4 * i: 4 * i + 2])
        out.setdefault(b, pose[:, 4 * i + 2: 4 * i + 4])
    out["pelvis_center"] = 0.5 * (out["l_hip"] + out["r_hip"])
    return out


def bone_lengths(pose: torch.Tensor) -> torch.Tensor:
    """``[..., 48]`` -> ``[..., 12]`` segment lengths."""
    seg = pose.reshape(*pose.shape[:-1], 12, 4)
    return torch.hypot(seg[..., 2] - seg[..., 0], seg[..., 3] - seg[..., 1])


# shortest share of its reference length each bone may show: torso and head hardly foreshorten
# in the ground truth, legs a little, arms (reaching towards the camera) most
MIN_SHARE = {"head": 0.9, "upper_torso": 0.9, "lower_torso": 0.9, "l_thigh": 0.7, "r_thigh": 0.7,
             "l_shin": 0.7, "r_shin": 0.7, "l_upper_arm": 0.4, "r_upper_arm": 0.4, "l_forearm": 0.4, "r_forearm": 0.4}


def reference_lengths(pose: torch.Tensor) -> torch.Tensor:
    """``[B, 48]`` -> ``[B, 12]`` longest length each bone may have: the first frame's, the longer of
    each left/right pair (one side may be foreshortened)."""
    L = bone_lengths(pose)
    for a, b in (("l_upper_arm", "r_upper_arm"), ("l_forearm", "r_forearm"), ("l_thigh", "r_thigh"), ("l_shin", "r_shin")):
        both = torch.maximum(L[..., _SEG[a]], L[..., _SEG[b]])
        L[..., _SEG[a]], L[..., _SEG[b]] = both, both
    return L


def keep_skeleton(pose: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``[B, 48]`` poses rebuilt with each bone between ``MIN_SHARE`` of ``lengths`` ``[12]`` or ``[B, 12]``
    and all of it, lifted onto y >= 0."""
    j = _joints(pose)
    placed = {k: j[k] for k in ("l_hip", "r_hip", "pelvis_center")}
    neck_shift = None
    for seg, child, parent in _CHAIN:
        a, b = _FROM[seg]
        d = j[b] - j[a]  # the predicted segment, start -> end
        n = d.norm(dim=-1, keepdim=True)
        ref = lengths[..., _SEG[seg], None]
        L = torch.minimum(torch.maximum(n, MIN_SHARE[seg] * ref), ref)
        d = d / n.clamp(min=1e-6)
        if parent not in placed:  # shoulders hang off the neck: they follow its correction
            placed[parent] = j[parent] + neck_shift
        placed[child] = placed[parent] + (d * L if child == b else -d * L)
        if child == "neck":
            neck_shift = placed["neck"] - j["neck"]
    out = torch.cat([torch.cat([placed[a], placed[b]], -1) for _, a, b in SEGMENTS], -1)
    lift = (-out[:, 1::2].amin(-1)).clamp(min=0)
    out[:, 1::2] += lift[:, None]
    return out
