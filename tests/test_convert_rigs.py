"""BVH of every rig convention, channel order, unit and heading, generated here (no shared data needed).

The generated person (tests/bvh_fixtures.py) walks with planted stance feet; whatever the
convention, the converted clip must be that person: 1.5-1.9 m tall, on y = 0, stance feet
still, travelling forward, kept by curation.
"""

from __future__ import annotations

import numpy as np
import pytest

from stickgen_core.annotate import annotate_samples
from stickgen_core.convert import convert_file
from stickgen_core.convert.bvh import parse_bvh, read_bvh
from stickgen_core.convert.rig import match_rig, split_side
from stickgen_core.convert.units import UNITS, find_units
from stickgen_core.critic import SafetyCritic, SafetyCriticConfig
from stickgen_core.curation import CurationConfig, apply_thresholds
from stickgen_core.errors import DatasetError
from stickgen_core.schema import JOINT_INDEX
from stickgen_core.skeleton import segments_to_joints
from tests.bvh_fixtures import CONVENTIONS, HEAD_ANKLE_M, write_bvh

#: convention -> joints that must be found by name (the rest may come from topology)
PLACED_BY_NAME = {"mixamo": "mixamorig:LeftArm", "rokoko": "LeftThigh", "xsens": "LeftUpperArm", "optitrack": "LUArm",
                  "vicon": "Subject1:LeftUpLeg", "unreal": "upperarm_l", "unity": "LeftLowerLeg",
                  "rigify": "DEF-upper_arm.L", "cmu": "LeftUpLeg", "biped": "Bip01 L UpperArm",
                  "suffix": "UpperArm_L", "daz": "lShldr", "no_neck": "LeftArm", "anonymous": None}


def stance_speeds(sample: dict) -> np.ndarray:
    """Horizontal speed (m/s) of the lower ankle, on frames where one ankle is clearly the lower."""
    j = segments_to_joints(sample["motion"].numpy())
    la, ra = j[:, JOINT_INDEX["l_ankle"]], j[:, JOINT_INDEX["r_ankle"]]
    low = np.where((la[:, 1] < ra[:, 1] - 0.02)[:, None], la,
                   np.where((ra[:, 1] < la[:, 1] - 0.02)[:, None], ra, np.nan))
    v = np.abs(np.diff(low[:, 0])) * 25.0
    return v[~np.isnan(v)]


def check_person(sample: dict, *, walks: bool = True) -> None:
    t = annotate_samples([sample])
    assert t.valid[0]
    assert 1.5 <= t.figure_height[0] / 0.93 <= 1.9, t.figure_height[0] / 0.93
    assert abs(t.ground_y[0]) <= 0.02
    assert apply_thresholds(t, CurationConfig()).pretrain[0] == walks  # a statue is dropped as frozen
    pelvis = segments_to_joints(sample["motion"].numpy())[:, JOINT_INDEX["pelvis_center"], 0]
    if walks:
        v = stance_speeds(sample)
        assert len(v) > 20 and np.median(v) < 0.05 and np.percentile(v, 80) < 0.1, np.percentile(v, [50, 80])
        assert pelvis[-1] - pelvis[0] > 2.0  # 3 s of walking at 0.8 m/s, forward (+x)
    if walks:  # smooth, as a capture is: no jitter, and the critic finds nothing
        assert t.jitter_ratio[0] == 0 and not SafetyCritic(SafetyCriticConfig()).evaluate(sample["motion"]).issues
    else:
        assert abs(pelvis[-1] - pelvis[0]) < 0.05


@pytest.mark.parametrize("convention", list(CONVENTIONS))
def test_every_rig_convention_converts_to_the_same_walking_person(convention, tmp_path):
    path = write_bvh(tmp_path / f"{convention}.bvh", convention, frames=90)
    (s,) = convert_file(path, "bvh", target_height=None)  # the file's own size, through its units
    check_person(s)
    assert s["meta"]["units"] == CONVENTIONS[convention]["units"]
    rig = s["meta"]["rig_joints"]
    if PLACED_BY_NAME[convention]:
        assert PLACED_BY_NAME[convention] in (rig["l_shoulder"], rig["l_elbow"], rig["l_hip"], rig["l_knee"])
        assert "l_shoulder" not in s["meta"]["rig_placed_by"]
    (scaled,) = convert_file(path, "bvh")  # default: scaled to stand 1.75 m tall
    check_person(scaled)


def test_left_and_right_are_not_swapped(tmp_path):
    """The left wrist of the generated person is on +X at rest; by name and by topology alike."""
    for conv, right_first in (("mixamo", True), ("anonymous", False), ("anonymous", True), ("suffix", True)):
        tr = read_bvh(write_bvh(tmp_path / f"{conv}.bvh", conv, frames=4, walk=False, right_first=right_first))
        lw, rw = tr.joints[0, JOINT_INDEX["l_wrist"]], tr.joints[0, JOINT_INDEX["r_wrist"]]
        lh, rh = tr.joints[0, JOINT_INDEX["l_hip"]], tr.joints[0, JOINT_INDEX["r_hip"]]
        assert lw[0] > rw[0] and lh[0] > rh[0], conv


@pytest.mark.parametrize("order", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_every_rotation_order_gives_the_same_joints(order, tmp_path):
    ref = read_bvh(write_bvh(tmp_path / "ref.bvh", "mixamo", frames=20, order="ZXY")).joints
    got = read_bvh(write_bvh(tmp_path / f"{order}.bvh", "mixamo", frames=20, order=order)).joints
    np.testing.assert_allclose(got, ref, atol=0.05)  # cm; the file keeps 5 decimals of each angle


@pytest.mark.parametrize("yaw", [90.0, -135.0])
def test_a_walk_along_any_heading_travels_forward_in_the_side_view(yaw, tmp_path):
    (s,) = convert_file(write_bvh(tmp_path / "yaw.bvh", "unity", frames=90, yaw_deg=yaw), "bvh")
    assert s["meta"]["plane"] == "travel"
    check_person(s)


def test_a_standing_person_stands(tmp_path):
    (s,) = convert_file(write_bvh(tmp_path / "stand.bvh", "xsens", frames=60, walk=False), "bvh")
    assert s["meta"]["plane"] == "facing"
    check_person(s, walks=False)


@pytest.mark.parametrize("unit", list(UNITS))
def test_every_unit_is_found_and_measures_the_person(unit, tmp_path):
    """A person of known size in each unit: auto finds the unit, and the size read through it is right
    (an inches factor of 0.254 instead of 0.0254 makes the person 10x too tall and fails here)."""
    path = write_bvh(tmp_path / f"{unit}.bvh", "mixamo", frames=30, units=unit, walk=False)
    tr = read_bvh(path)
    height = float(np.median(tr.joints[:, JOINT_INDEX["head_center"], 1] - tr.joints[:, JOINT_INDEX["l_ankle"], 1]))
    assert find_units(height, "x") == (unit, UNITS[unit])
    assert height * UNITS[unit] == pytest.approx(HEAD_ANKLE_M, abs=0.02)
    (auto,) = convert_file(path, "bvh", target_height=None)
    (named,) = convert_file(path, "bvh", target_height=None, units=unit)
    for s in (auto, named):
        assert s["meta"]["units"] == unit and s["meta"]["metres_per_unit"] == UNITS[unit]
        assert 1.5 <= annotate_samples([s]).figure_height[0] / 0.93 <= 1.9


def test_unit_factors_are_the_real_ones():
    assert UNITS == {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254, "cmu": pytest.approx(0.0564444, rel=1e-5)}


def test_cmu_native_units_of_the_issue(tmp_path):
    """CMU's distribution: head-to-ankle about 21.4 units (1 unit = 1/0.45 in = 5.64 cm) is a person in CMU units."""
    size = 21.4 * UNITS["cmu"] / HEAD_ANKLE_M
    path = write_bvh(tmp_path / "cmu.bvh", "cmu", frames=30, units="cmu", size=size, walk=False)
    tr = read_bvh(path)
    height = float(np.median(tr.joints[:, JOINT_INDEX["head_center"], 1] - tr.joints[:, JOINT_INDEX["l_ankle"], 1]))
    assert height == pytest.approx(21.4, abs=0.1)
    assert find_units(height, "x")[0] == "cmu"
    (s,) = convert_file(path, "bvh")
    assert s["meta"]["units"] == "cmu"


def test_units_and_scale_override_auto(tmp_path):
    path = write_bvh(tmp_path / "m.bvh", "optitrack", frames=30, units="cm")
    (s,) = convert_file(path, "bvh", target_height=None, units="cm")
    assert s["meta"]["units"] == "cm"
    (s,) = convert_file(path, "bvh", target_height=None, scale=0.02)  # says each unit is 2 cm: twice as tall
    assert s["meta"]["units"] == "scale 0.02" and s["meta"]["metres_per_unit"] == 0.02
    assert annotate_samples([s]).figure_height[0] / 0.93 > 3.0
    tiny = write_bvh(tmp_path / "tiny.bvh", "optitrack", frames=30, units="m", size=0.2, walk=False)  # 31 cm head to ankle
    with pytest.raises(DatasetError, match=r"tiny.bvh: cannot tell the units: .* 0.31\d* file units.*--units or --scale"):
        convert_file(tiny, "bvh")
    assert convert_file(tiny, "bvh", units="m")[0]["meta"]["units"] == "m"  # the user knows better
    with pytest.raises(DatasetError, match="--units: expected one of m, cm, mm, in, cmu, auto, got 'ft'"):
        convert_file(path, "bvh", units="ft")
    with pytest.raises(DatasetError, match="--scale: expected a positive number"):
        convert_file(path, "bvh", scale=-1.0)


@pytest.mark.parametrize("name, side, part", [
    ("mixamorig:LeftArm", "l", "arm"), ("UpperArm_L", "l", "upperarm"), ("DEF-upper_arm.L.001", "l", "upperarm"),
    ("Bip01 R Thigh", "r", "thigh"), ("lShldr", "l", "shldr"), ("LUArm", "l", "uarm"), ("ArmLeft", "l", "arm"),
    ("hand_l", "l", "hand"), ("L_Foot", "l", "foot"), ("rhand", "r", "hand"), ("Subject1:RightUpLeg", "r", "upleg"),
    ("LowerBack", None, "lowerback"), ("Root", None, "root"), ("spine_03", None, "spine"), ("RHipJoint", "r", "hipjoint"),
])
def test_side_markers_wherever_they_stand(name, side, part):
    assert split_side(name) == (side, part)


def test_a_rig_without_a_neck_gets_one_between_the_shoulders(tmp_path):
    tr = read_bvh(write_bvh(tmp_path / "nn.bvh", "no_neck", frames=4, walk=False))
    assert tr.meta["rig_placed_by"]["neck"] == "from the head's parent and the shoulders"
    neck = tr.joints[0, JOINT_INDEX["neck"]]
    shoulders = tr.joints[0, [JOINT_INDEX["l_shoulder"], JOINT_INDEX["r_shoulder"]]].mean(0)
    assert neck[1] == pytest.approx(shoulders[1], abs=0.5)  # cm: at shoulder height, on the spine line
    assert abs(neck[0]) < 0.5


def test_when_nothing_fits_the_error_names_what_was_found_and_what_is_missing(tmp_path):
    text = (f"HIERARCHY\nROOT Hips\n{{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n"
            f" JOINT Spine\n {{\n  OFFSET 0 10 0\n  CHANNELS 3 Zrotation Xrotation Yrotation\n"
            f"  JOINT Head\n  {{\n   OFFSET 0 50 0\n   CHANNELS 3 Zrotation Xrotation Yrotation\n"
            f"   End Site\n   {{\n    OFFSET 0 10 0\n   }}\n  }}\n }}\n}}\nMOTION\nFrames: 2\nFrame Time: 0.04\n"
            + "0 90 0 0 0 0 0 0 0 0 0 0\n" * 2)
    (tmp_path / "torso.bvh").write_text(text)
    with pytest.raises(DatasetError) as err:
        convert_file(tmp_path / "torso.bvh", "bvh")
    msg = str(err.value)
    assert "torso.bvh: cannot place joint(s) chest, neck, l_shoulder" in msg and "r_ankle" in msg
    assert "placed: pelvis_center=Hips" in msg and "head_center=Head" in msg
    assert "its joints: Hips, Spine, Head" in msg and "LeftUpperarm / upperarm_L" in msg


def test_names_of_one_side_that_do_not_chain_fall_back_to_topology(tmp_path):
    """A rig whose 'LeftForeArm' hangs off the other side (a broken export) is still read by its shape."""
    bvh = parse_bvh(write_bvh(tmp_path / "m.bvh", "mixamo", frames=2, walk=False))
    rig = match_rig(bvh.joints, "m.bvh")
    assert {bvh.joints[rig.index[n]].name for n in ("l_elbow", "r_elbow")} == {"mixamorig:LeftForeArm",
                                                                                 "mixamorig:RightForeArm"}
    names = [j.name for j in bvh.joints]
    li, ri = names.index("mixamorig:LeftForeArm"), names.index("mixamorig:RightForeArm")
    bvh.joints[li].name, bvh.joints[ri].name = "mixamorig:RightForeArm", "mixamorig:LeftForeArm"  # swapped
    rig = match_rig(bvh.joints, "m.bvh")
    assert rig.index["l_elbow"] == li and rig.how["l_elbow"] == "topology"
