"""The facing an elbow or knee is judged against comes from the other limbs' bends; a limb that is
straight (its 2-D bend is rounding, 1e-6 degrees either way) has no say. Before, a walk with straight
arms and a straight stance leg had its swing knee judged against the sign of rounding noise and
flagged 'bends 50 degrees the wrong way' on about half the frames (every converted BVH walk whose
rig swings straight arms)."""

from __future__ import annotations

import numpy as np
import pytest

from stickgen_core.anatomy import measure
from stickgen_core.schema import JOINT_INDEX
from stickgen_core.skeleton import joints_to_segments, segments_to_joints


def _side_on_walker(noise: float, T: int = 20) -> np.ndarray:
    """Facing +x: arms hang straight, the right leg is straight, the left knee bends forward (as a
    knee does); ``noise`` metres push the straight joints a hair off their lines."""
    J = np.zeros((T, 16, 2))
    put = {"pelvis_center": (0, 1.0), "chest": (0, 1.3), "neck": (0, 1.5), "head_center": (0, 1.65),
           "l_shoulder": (0, 1.45), "r_shoulder": (0, 1.45), "l_elbow": (noise, 1.17), "r_elbow": (noise, 1.17),
           "l_wrist": (0, 0.90), "r_wrist": (0, 0.90), "l_hip": (0, 1.0), "r_hip": (0, 1.0),
           "r_knee": (noise, 0.55), "r_ankle": (0, 0.10)}
    for name, xy in put.items():
        J[:, JOINT_INDEX[name]] = xy
    a = np.radians(np.linspace(10, 50, T))  # the swing knee bends more and more, forward
    J[:, JOINT_INDEX["l_knee"]] = np.stack([0.45 * np.sin(a / 2), 1.0 - 0.45 * np.cos(a / 2)], -1)
    J[:, JOINT_INDEX["l_ankle"]] = J[:, JOINT_INDEX["l_knee"]] + 0.45 * np.stack([-np.sin(a / 2), -np.cos(a / 2)], -1)
    return joints_to_segments(J).astype(np.float32)


@pytest.mark.parametrize("noise", [1e-7, -1e-7, 0.0])
def test_straight_limbs_do_not_decide_the_facing(noise):
    assert measure(_side_on_walker(noise)).wrong_bend.max() < 1.0  # was ~50 degrees on the swing knee


def test_a_knee_against_the_other_limbs_is_still_flagged():
    j = segments_to_joints(_side_on_walker(0.0))  # both elbows clearly bent: the left knee is against them
    j[:, JOINT_INDEX["l_elbow"], 0] = j[:, JOINT_INDEX["r_elbow"], 0] = 0.08
    wrong = measure(joints_to_segments(j).astype(np.float32)).wrong_bend
    assert wrong.max() > 30.0
