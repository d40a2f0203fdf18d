import numpy as np
import pytest
import torch

from stickgen_core import schema
from stickgen_core.schema import ACTIONS, SEGMENT_NAMES, validate_sample
from stickgen_core.skeleton import joints_to_segments, segments_to_joints


def fields(problems):
    return {p.field for p in problems}


def test_vocabulary_has_required_actions_with_stable_indices():
    for name in ["idle", "walk", "run", "jump", "wave", "sit", "stand_up", "turn", "kick",
                 "punch", "dance", "crouch", "fall", "climb", "throw", "unknown"]:
        assert ACTIONS[schema.action_index(name)]
    # indices are part of the file format and agree with the reference's ActionType order
    assert schema.ACTION_INDEX["idle"] == 0
    assert schema.ACTION_INDEX["clap"] == 11
    assert schema.ACTION_INDEX["typing"] == 32
    assert schema.ACTION_INDEX["fight_stance"] == 45
    assert ACTIONS[46:] == ("unknown", "stand_up", "turn", "crouch", "fall")
    assert schema.action_index("throw") == schema.ACTION_INDEX["throwing"]
    assert schema.action_name(999) == "unknown"
    with pytest.raises(KeyError, match="moonwalk"):
        schema.action_index("moonwalk")


def test_v3_segment_order():
    assert SEGMENT_NAMES == ("head", "upper_torso", "lower_torso", "l_upper_arm", "l_forearm",
                             "r_upper_arm", "r_forearm", "l_thigh", "l_shin", "r_thigh", "r_shin",
                             "pelvis_width")


def test_joints_segments_round_trip(clean_sample):
    motion = clean_sample["motion"].numpy()
    joints = segments_to_joints(motion)
    assert joints.shape == (len(motion), 16, 2)
    np.testing.assert_allclose(joints_to_segments(joints), motion, atol=1e-6)


def test_valid_sample_has_no_problems(clean_sample):
    assert validate_sample(clean_sample) == []


def test_multi_actor_sample_is_valid(clean_sample):
    s = dict(clean_sample)
    s["motion"] = torch.stack([clean_sample["motion"], clean_sample["motion"] + 1.0], dim=1)
    s["actions"] = torch.stack([clean_sample["actions"]] * 2, dim=1)
    assert validate_sample(s) == []


def test_every_problem_is_reported_at_once(clean_sample):
    s = dict(clean_sample)
    del s["description"]
    s["actions"] = s["actions"].to(torch.float32)
    s["physics"] = torch.zeros(3, 6)
    s["camera"] = torch.zeros(len(s["motion"]), 2)
    problems = validate_sample(s)
    assert fields(problems) == {"description", "actions", "physics", "camera"}
    text = " | ".join(map(str, problems))
    assert "missing required key" in text and "int64" in text and "[T, 6]" in text and "[T, 3]" in text


def test_disconnected_joint_is_named(clean_sample):
    s = dict(clean_sample)
    m = s["motion"].clone()
    m[5, 4 * 4 + 0] += 0.2  # move the start of l_forearm away from the elbow
    s["motion"] = m
    (p,) = validate_sample(s)
    assert p.field == "motion" and "l_elbow" in p.message and "coincide" in p.message


def test_nan_frames_are_located(clean_sample):
    s = dict(clean_sample)
    m = s["motion"].clone()
    m[7, 3] = float("nan")
    s["motion"] = m
    (p,) = validate_sample(s)
    assert "frame 7" in p.message


@pytest.mark.parametrize("bad,needle", [
    (torch.zeros(0, 48), "T >= 1"),
    (torch.zeros(10, 47), "[T, 48] or [T, A, 48]"),
    (torch.zeros(10, 48, dtype=torch.int64), "floating-point"),
    ([[0.0] * 48], "float tensor"),
])
def test_bad_motion(clean_sample, bad, needle):
    s = dict(clean_sample, motion=bad)
    s.pop("actions"), s.pop("physics"), s.pop("camera")
    problems = validate_sample(s)
    assert any(needle in p.message for p in problems), problems


def test_action_out_of_range(clean_sample):
    s = dict(clean_sample)
    a = s["actions"].clone()
    a[0] = len(ACTIONS)
    s["actions"] = a
    (p,) = validate_sample(s)
    assert p.field == "actions" and f"[0, {len(ACTIONS) - 1}]" in p.message
