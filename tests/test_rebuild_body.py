"""The generation rebuild keeps a body (issue 32): shoulders and hips within the clean data's 99th-percentile
gap, bones no shorter than the data's 5th-percentile share, elbows and knees not bent the wrong way — each at
its boundary and one step past it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stickgen_core import anatomy
from stickgen_core.anatomy import BodyReach
from stickgen_core.model.constraints import (HIP_REACH, MIN_SHARE, SHOULDER_REACH, bone_lengths, keep_bends,
                                             keep_skeleton, reference_lengths)
from stickgen_core.schema import JOINT_INDEX as J
from stickgen_core.schema import SEGMENT_NAMES
from stickgen_core.skeleton import joints_to_segments
from tests.test_critic_anatomy import detach_arm, detach_leg, side_on_knee, walk


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return walk().astype(np.float32)


def rebuild(m: np.ndarray, ref: torch.Tensor) -> np.ndarray:
    return keep_skeleton(torch.from_numpy(np.asarray(m, np.float32)), ref).numpy()


def height(ref: torch.Tensor) -> float:
    return float(anatomy._rest_height(ref.numpy())[0])


def shoulder_off(m: np.ndarray) -> np.ndarray:
    return np.linalg.norm(m[:, 12:14] - m[:, 4:6], axis=1)      # l_shoulder to the neck


def test_a_shoulder_at_the_reach_stays_and_one_step_past_is_pulled_in(clip):
    ref = reference_lengths(torch.from_numpy(clip[:1]))
    reach = SHOULDER_REACH * height(ref)
    for d, want in ((reach * 0.999, reach * 0.999), (reach * 1.01, reach), (0.6, reach)):
        out = rebuild(detach_arm(clip, d), ref)
        np.testing.assert_allclose(shoulder_off(out), want, rtol=1e-4)


def test_measured_gaps_of_a_rebuilt_detached_limb_are_within_the_data_p99(clip):
    ref = reference_lengths(torch.from_numpy(clip[:1]))
    out = rebuild(detach_leg(detach_arm(clip, 0.6), 0.3), ref)
    gap = anatomy.measure(out).gap
    assert gap[:, :2].max() <= BodyReach().shoulder_gap and gap[:, 2:].max() <= BodyReach().hip_gap
    hip_half = np.linalg.norm(out[:, 28:30] - out[:, 10:12], axis=1)      # l_hip to the pelvis centre
    assert hip_half.max() <= HIP_REACH * height(ref) * (1 + 1e-5)


@pytest.mark.parametrize("bone", ["l_forearm", "l_thigh", "head"])
def test_a_bone_shortens_down_to_its_share_and_no_further(clip, bone):
    seg = SEGMENT_NAMES.index(bone)
    pose = torch.from_numpy(clip[:1].copy())
    ref = reference_lengths(pose)
    share = MIN_SHARE[bone]
    for asked, got in ((share + 0.01, share + 0.01), (share - 0.01, share)):
        p = pose.clone().reshape(1, 12, 4)
        start, end = p[0, seg, :2], p[0, seg, 2:]
        p[0, seg, 2:] = start + (end - start) * asked * ref[0, seg] / (end - start).norm()
        L = bone_lengths(keep_skeleton(p.reshape(1, 48), ref))
        assert float(L[0, seg] / ref[0, seg]) == pytest.approx(got, abs=1e-4)


def _bend(m: np.ndarray) -> np.ndarray:
    """The left knee's signed bend (degrees, as anatomy's sense: positive = the natural way)."""
    j = anatomy.segments_to_joints(m)
    u = j[:, J["l_knee"]] - j[:, J["l_hip"]]
    v = j[:, J["l_ankle"]] - j[:, J["l_knee"]]
    return -np.degrees(np.arctan2(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0], (u * v).sum(-1)))


def test_a_knee_bent_the_wrong_way_is_straightened_a_right_bend_is_kept():
    right, wrong = side_on_knee(50.0).astype(np.float32), side_on_knee(-50.0).astype(np.float32)
    ref = reference_lengths(torch.from_numpy(right[:1]))
    assert anatomy.measure(wrong).wrong_bend[50:70, 2].min() > 40
    out = rebuild(wrong, ref)
    assert anatomy.measure(out).wrong_bend.max() <= 1e-3
    np.testing.assert_allclose(_bend(out)[50:70], 0.0, atol=1e-3)
    kept = rebuild(right, ref)
    shin = SEGMENT_NAMES.index("l_shin")
    np.testing.assert_allclose(bone_lengths(torch.from_numpy(out))[50:70, shin],
                               bone_lengths(torch.from_numpy(kept))[50:70, shin], rtol=1e-5)  # the shin keeps its length
    np.testing.assert_allclose(_bend(kept)[50:70], 50.0, atol=0.05)                           # the natural bend stays


@pytest.mark.parametrize("bend, want", [(-10.0, -10.0), (-10.5, -10.0), (-5.0, -5.0)])
def test_the_wrong_bend_limit_is_a_boundary(bend, want):
    m = side_on_knee(bend).astype(np.float32)
    ref = reference_lengths(torch.from_numpy(m[:1]))
    joints = torch.from_numpy(anatomy.segments_to_joints(m).copy())
    out = keep_bends(joints, ref.expand(len(m), -1), max_wrong=10.0).numpy()
    np.testing.assert_allclose(_bend(joints_to_segments(out))[50:70], want, atol=1e-3)
