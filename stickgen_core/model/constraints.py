"""Generated poses kept a skeleton: bones that never stretch, connected joints, shoulders and hips on the
body, feet not below the ground.

The model predicts free 48-vectors; during generation each new pose is rebuilt from the
pelvis outwards along the predicted bone directions, no bone longer than its reference
length, and lifted when its lowest point is under y = 0. A 2-D projection foreshortens a
limb that turns towards the camera (ground-truth arms vary by 10-15 % within a clip), so
shorter is allowed down to ``MIN_SHARE``; longer never is. Fed back as the next input, the
rebuilt pose also stops drift from accumulating (legs that lengthen and sink over a clip).
The v3 shoulder is a free joint: the rebuild keeps each within ``SHOULDER_REACH`` of the neck and
each hip within ``HIP_REACH`` of the pelvis centre (shares of the figure's height: the clean data's 99th
percentile gap, ``anatomy.BodyReach``), so an arm never floats away from the body, and straightens an elbow or
knee that bends against the way the figure faces (issue 32). Bones shorten no further than the data's 5th
percentile share of their length: foreshortening down to 40 % (the old floor) let a generated arm change length
every frame (bone variation 0.067 against the data's 0.031).
"""

from __future__ import annotations

import torch

from .. import skeleton
from ..anatomy import RIGID, STANDARD_HEIGHT, BodyReach
from ..schema import JOINT_INDEX, SEGMENTS

J = JOINT_INDEX
_SEG = {name: i for i, (name, _, _) in enumerate(SEGMENTS)}
_SEG_START, _SEG_END = torch.from_numpy(skeleton._SEG_START), torch.from_numpy(skeleton._SEG_END)
_JOINT_SEG, _JOINT_END = torch.from_numpy(skeleton._JOINT_SEG), torch.from_numpy(skeleton._JOINT_END)
_SHOULDERS = torch.tensor([J["l_shoulder"], J["r_shoulder"]])
_REACH = BodyReach()
#: The rebuild's height is the first frame's bone lengths, the measure's the clip's 95th percentile (a little
#: shorter where bones foreshorten): aim this far inside the reach so measured gaps stay within it.
REACH_MARGIN = 0.95
#: Farthest a shoulder may sit from the neck and a hip from the pelvis centre, as shares of the figure's height
SHOULDER_REACH = REACH_MARGIN * _REACH.shoulder_gap / STANDARD_HEIGHT
HIP_REACH = REACH_MARGIN * _REACH.hip_gap / STANDARD_HEIGHT
#: Shortest share of its reference length each bone may show (``BodyReach``: the data's 5th percentile)
MIN_SHARE = {SEGMENTS[i][0]: share for i, share in zip(RIGID, _REACH.bone_shares())}
#: A bend is judged where the hips show under this share of their width (side-on) and both bones at least
#: ``BEND_VISIBLE`` of their length (as ``anatomy.measure`` judges it)
SIDE_ON, BEND_VISIBLE = 0.5, 0.6
# (upper, middle, lower joint) of each elbow and knee; sense turns flexion into one rotational direction
_BENDS = torch.tensor([[J["l_shoulder"], J["l_elbow"], J["l_wrist"]], [J["r_shoulder"], J["r_elbow"], J["r_wrist"]],
                       [J["l_hip"], J["l_knee"], J["l_ankle"]], [J["r_hip"], J["r_knee"], J["r_ankle"]]])
_SENSE = torch.tensor([1.0, 1.0, -1.0, -1.0])
_BEND_SEGS = torch.tensor([[_SEG["l_upper_arm"], _SEG["l_forearm"]], [_SEG["r_upper_arm"], _SEG["r_forearm"]],
                           [_SEG["l_thigh"], _SEG["l_shin"]], [_SEG["r_thigh"], _SEG["r_shin"]]])

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
    (at least ``min_share``; 1.0: exactly its length) and all of it, shoulders and hips within reach of the
    body, elbows and knees not bent the wrong way (``keep_bends``), lifted onto y >= 0."""
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
    placed = keep_bends(placed, ref)
    out = torch.stack([placed[:, _SEG_START], placed[:, _SEG_END]], 2).reshape(B, 48)
    lift = (-out[:, 1::2].amin(-1)).clamp(min=0)
    out[:, 1::2] += lift[:, None]
    return out


def _within(v: torch.Tensor, reach: torch.Tensor) -> torch.Tensor:
    """Vectors ``[..., 2]`` shortened to at most ``reach`` ``[...]`` long, direction kept."""
    n = v.norm(dim=-1)
    return v * (torch.minimum(n, reach) / n.clamp(min=1e-6))[..., None]


def keep_bends(joints: torch.Tensor, ref: torch.Tensor, max_wrong: float = _REACH.wrong_bend) -> torch.Tensor:
    """Joints ``[B, 16, 2]`` with each elbow and knee bent at most ``max_wrong`` degrees against the facing the
    other bent limbs agree on (``anatomy``'s wrong bend: side-on frames, both bones visible); the wrist or ankle
    turns about the joint, its bone's length kept. ``ref`` ``[B, 12]``: the reference lengths."""
    a, b, c = joints[:, _BENDS[:, 0]], joints[:, _BENDS[:, 1]], joints[:, _BENDS[:, 2]]   # [B, 4, 2]
    u, v = b - a, c - b
    ang = torch.atan2(u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0], (u * v).sum(-1))       # [B, 4]
    bend = _SENSE * torch.rad2deg(ang)
    lu, lv = u.norm(dim=-1), v.norm(dim=-1)
    seen = (lu >= BEND_VISIBLE * ref[:, _BEND_SEGS[:, 0]]) & (lv >= BEND_VISIBLE * ref[:, _BEND_SEGS[:, 1]])
    hip_w = (joints[:, J["l_hip"]] - joints[:, J["r_hip"]]).norm(dim=-1)
    seen &= ((hip_w <= SIDE_ON * ref[:, _SEG["pelvis_width"]]) | (ref[:, _SEG["pelvis_width"]] <= 1e-9))[:, None]
    voting = torch.where(seen & (bend.abs() > 1.0), bend, torch.zeros_like(bend))  # a straight limb has no say
    facing = torch.sign(voting.sum(-1, keepdim=True) - voting)
    wrong = seen & (facing != 0) & (-facing * bend > max_wrong)
    # the bend set to max_wrong against the facing: the lower bone at that angle from the upper bone's line
    target = torch.deg2rad(-facing * max_wrong) * _SENSE
    cos, sin = torch.cos(target), torch.sin(target)
    d = u / lu.clamp(min=1e-6)[..., None]
    turned = torch.stack([cos * d[..., 0] - sin * d[..., 1], sin * d[..., 0] + cos * d[..., 1]], -1) * lv[..., None]
    out = joints.clone()
    out[:, _BENDS[:, 2]] = torch.where(wrong[..., None], b + turned, c)
    return out
