"""Generated poses kept a skeleton: bones that never stretch, connected joints, shoulders and hips on the
body, feet not below the ground.

The model predicts free 48-vectors; during generation each new pose is rebuilt from the
pelvis outwards along the predicted bone directions, no bone longer than its reference
length, and lifted when its lowest point is under y = 0. A 2-D projection foreshortens a
limb that turns towards the camera (ground-truth arms vary by 10-15 % within a clip), so
shorter is allowed down to ``MIN_SHARE``; longer never is. Fed back as the next input, the
rebuilt pose also stops drift from accumulating (legs that lengthen and sink over a clip).
The v3 shoulder is a free joint: the rebuild keeps each within ``SHOULDER_REACH`` of the neck and
each hip within ``HIP_REACH`` of the pelvis centre (shares of the figure's height, inside the
critic's anatomy limits), so an arm never floats away from the body (issue 32).
"""

from __future__ import annotations

import torch

from .. import skeleton
from ..anatomy import STANDARD_HEIGHT, AnatomyLimits
from ..schema import JOINT_INDEX, SEGMENTS

J = JOINT_INDEX
_SEG = {name: i for i, (name, _, _) in enumerate(SEGMENTS)}
_SEG_START, _SEG_END = torch.from_numpy(skeleton._SEG_START), torch.from_numpy(skeleton._SEG_END)
_JOINT_SEG, _JOINT_END = torch.from_numpy(skeleton._JOINT_SEG), torch.from_numpy(skeleton._JOINT_END)
_SHOULDERS = torch.tensor([J["l_shoulder"], J["r_shoulder"]])
#: Farthest a shoulder may sit from the neck and a hip from the pelvis centre, as shares of the figure's
#: height: 85 % of the critic's limits (the ground truth's widest: 0.19 / 0.11 m synthetic, 0.22 / 0.09 m captured)
SHOULDER_REACH = 0.85 * AnatomyLimits.max_shoulder_gap / STANDARD_HEIGHT
HIP_REACH = 0.85 * AnatomyLimits.max_hip_gap / STANDARD_HEIGHT

# shortest share of its reference length each bone may show: torso and head hardly foreshorten
# in the ground truth, legs a little, arms (reaching towards the camera) most
MIN_SHARE = {"head": 0.9, "upper_torso": 0.9, "lower_torso": 0.9, "l_thigh": 0.7, "r_thigh": 0.7,
             "l_shin": 0.7, "r_shin": 0.7, "l_upper_arm": 0.4, "r_upper_arm": 0.4, "l_forearm": 0.4, "r_forearm": 0.4}
# (segment, joint to place, joint it hangs from) by depth from the pelvis; a level's parents are placed
_LEVELS = ((("l_thigh", "l_knee", "l_hip"), ("r_thigh", "r_knee", "r_hip"), ("lower_torso", "chest", "pelvis_center")),
           (("l_shin", "l_ankle", "l_knee"), ("r_shin", "r_ankle", "r_knee"), ("upper_torso", "neck", "chest")),
           (("head", "head_center", "neck"), ("l_upper_arm", "l_elbow", "l_shoulder"),
            ("r_upper_arm", "r_elbow", "r_shoulder")),
           (("l_forearm", "l_wrist", "l_elbow"), ("r_forearm", "r_wrist", "r_elbow")))
_LEVEL_INDEX = tuple((torch.tensor([_SEG[s] for s, _, _ in lv]), torch.tensor([J[c] for _, c, _ in lv]),
                      torch.tensor([J[p] for _, _, p in lv]), torch.tensor([MIN_SHARE[s] for s, _, _ in lv])[:, None])
                     for lv in _LEVELS)
_PAIRS = torch.tensor([[_SEG[a], _SEG[b]] for a, b in (("l_upper_arm", "r_upper_arm"), ("l_forearm", "r_forearm"),
                                                       ("l_thigh", "r_thigh"), ("l_shin", "r_shin"))])


def bone_lengths(pose: torch.Tensor) -> torch.Tensor:
    """``[..., 48]`` -> ``[..., 12]`` segment lengths."""
    seg = pose.reshape(*pose.shape[:-1], 12, 4)
    return torch.hypot(seg[..., 2] - seg[..., 0], seg[..., 3] - seg[..., 1])


def reference_lengths(pose: torch.Tensor) -> torch.Tensor:
    """``[B, 48]`` -> ``[B, 12]`` longest length each bone may have: the first frame's, the longer of
    each left/right pair (one side may be foreshortened)."""
    L = bone_lengths(pose)
    both = L[..., _PAIRS].amax(-1)                       # [B, 4]
    L[..., _PAIRS[:, 0]], L[..., _PAIRS[:, 1]] = both, both
    return L


def keep_skeleton(pose: torch.Tensor, lengths: torch.Tensor, min_share: float = 0.0) -> torch.Tensor:
    """``[B, 48]`` poses rebuilt with each bone between ``MIN_SHARE`` of ``lengths`` ``[12]`` or ``[B, 12]``
    (at least ``min_share``; 1.0: exactly its length) and all of it, lifted onto y >= 0."""
    B = pose.shape[0]
    joints = pose.reshape(B, 12, 2, 2)[:, _JOINT_SEG, _JOINT_END]            # [B, 16, 2]
    pelvis = 0.5 * (joints[:, J["l_hip"]] + joints[:, J["r_hip"]])
    joints[:, J["pelvis_center"]] = pelvis
    ref = lengths.expand(B, -1)
    height = ref[:, 0] + ref[:, 1] + ref[:, 2] + 0.5 * (ref[:, 7] + ref[:, 8] + ref[:, 9] + ref[:, 10])
    # hips on the pelvis: the half-width no longer than HIP_REACH of the height, about the same centre
    half = _within(0.5 * (joints[:, J["r_hip"]] - joints[:, J["l_hip"]]), HIP_REACH * height)
    joints[:, J["l_hip"]], joints[:, J["r_hip"]] = pelvis - half, pelvis + half
    placed = joints.clone()
    for depth, (seg, child, parent, share) in enumerate(_LEVEL_INDEX):
        if depth == 2:  # shoulders hang off the neck: they follow its correction, and stay within reach of it
            off = joints[:, _SHOULDERS] - joints[:, J["neck"]][:, None]
            placed[:, _SHOULDERS] = placed[:, J["neck"]][:, None] + _within(off, SHOULDER_REACH * height[:, None])
        v = joints[:, child] - joints[:, parent]  # the predicted bone, parent -> child
        n = v.norm(dim=-1, keepdim=True)
        r = ref[:, seg, None]
        if min_share > 0:
            share = share.clamp(min=min_share)
        placed[:, child] = placed[:, parent] + v / n.clamp(min=1e-6) * torch.minimum(torch.maximum(n, share * r), r)
    out = torch.stack([placed[:, _SEG_START], placed[:, _SEG_END]], 2).reshape(B, 48)
    lift = (-out[:, 1::2].amin(-1)).clamp(min=0)
    out[:, 1::2] += lift[:, None]
    return out


def _within(v: torch.Tensor, reach: torch.Tensor) -> torch.Tensor:
    """Vectors ``[..., 2]`` shortened to at most ``reach`` ``[...]`` long, direction kept."""
    n = v.norm(dim=-1)
    return v * (torch.minimum(n, reach) / n.clamp(min=1e-6))[..., None]
