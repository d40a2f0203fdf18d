"""The synthetic generator: reproducible, valid, plausible kinematics, recorded defects."""

import numpy as np
import pytest
import torch

from stickgen_core.schema import ACTION_INDEX, JOINT_INDEX, validate_sample
from stickgen_core.skeleton import segment_lengths, segments_to_joints
from stickgen_core.synth import DEFECT_TYPES, SynthConfig, derive_physics, generate_dataset, generate_sample
from stickgen_core.synth.actions import ACTION_SPECS
from stickgen_core.errors import ConfigError

FPS = 25


def clip(action, seed=0, seconds=(5, 6), source="synthetic"):
    cfg = SynthConfig(actions=(action,), multi_actor_rate=0.0, min_seconds=seconds[0],
                      max_seconds=seconds[1], sources={source: 1.0})
    s = generate_sample(0, seed=seed, config=cfg)
    return s, segments_to_joints(s["motion"].numpy())


def j(joints, name):
    return joints[:, JOINT_INDEX[name]]


def test_same_seed_same_data_other_seed_other_data():
    a = generate_dataset(5, seed=11, config=SynthConfig(defect_rate=0.5))
    b = generate_dataset(5, seed=11, config=SynthConfig(defect_rate=0.5))
    c = generate_dataset(5, seed=12, config=SynthConfig(defect_rate=0.5))
    for x, y in zip(a, b):
        assert torch.equal(x["motion"], y["motion"]) and x["description"] == y["description"]
        assert x["meta"] == y["meta"]
    assert any(not torch.equal(x["motion"][:5], z["motion"][:5]) for x, z in zip(a, c))
    # sample i does not depend on how many came before it
    assert torch.equal(generate_sample(3, seed=11, config=SynthConfig(defect_rate=0.5))["motion"], a[3]["motion"])


def test_many_samples_are_valid_and_varied():
    data = generate_dataset(120, seed=0, config=SynthConfig(defect_rate=0.3, multi_actor_rate=0.1))
    assert all(validate_sample(s) == [] for s in data)
    secs = np.array([len(s["motion"]) / FPS for s in data if not s["meta"]["injected_defects"]])
    assert secs.min() >= 2.0 and secs.max() <= 20.0
    assert len({s["description"] for s in data}) > 100
    assert {s["source"] for s in data} == {"synthetic", "mocap_like", "video_estimate"}
    assert {s["meta"]["camera_mode"] for s in data} == {"static", "pan", "zoom", "handheld"}
    assert any(s["motion"].dim() == 3 for s in data)
    labels = torch.cat([s["actions"].flatten() for s in data]).unique()
    assert len(labels) >= 12


def test_at_least_twelve_actions_with_labels_matching_timeline():
    assert len(ACTION_SPECS) >= 12
    s = generate_sample(5, seed=2, config=SynthConfig(multi_actor_rate=0.0))
    for seg in s["meta"]["timeline"]:
        assert (s["actions"][seg["start"]:seg["end"]] == ACTION_INDEX[seg["action"]]).all()


@pytest.mark.parametrize("action", sorted(ACTION_SPECS))
def test_clean_clips_stand_on_the_ground_with_rigid_limbs(action):
    s, joints = clip(action)
    ys = s["motion"][:, 1::2].numpy()
    if action != "climb":
        assert abs(ys.min()) < 0.02, "figure should rest on y = 0"
    # a 2-D projection of a rigid body: limbs foreshorten but never stretch
    lengths = segment_lengths(s["motion"].numpy())[:, :11]
    assert (lengths <= lengths.max(axis=0) + 1e-4).all()
    true = np.array([0.2, 0.25, 0.3, 0.3, 0.27, 0.3, 0.27, 0.45, 0.45, 0.45, 0.45])
    assert (lengths <= true + 1e-3).all()
    assert np.isfinite(s["physics"].numpy()).all()


def test_walk_swings_arms_against_legs_and_travels():
    s, J = clip("walk")
    leg = j(J, "l_ankle")[:, 0] - j(J, "pelvis_center")[:, 0]
    arm = j(J, "l_wrist")[:, 0] - j(J, "pelvis_center")[:, 0]
    assert np.corrcoef(leg, arm)[0, 1] < -0.5
    travel = abs(j(J, "pelvis_center")[-1, 0] - j(J, "pelvis_center")[0, 0])
    assert 0.6 * 5 < travel < 2.0 * 6  # a walking pace, about 1 m/s


def test_walk_keeps_stance_foot_planted():
    s, J = clip("walk")
    feet = np.stack([j(J, "l_ankle"), j(J, "r_ankle")], 1)  # [T, 2, 2]
    on_ground = (feet[1:, :, 1] < 0.01) & (feet[:-1, :, 1] < 0.01)
    speed = np.abs(np.diff(feet[..., 0], axis=0)) * FPS
    assert np.median(speed[on_ground]) < 0.1


def test_run_is_faster_than_walk():
    _, W = clip("walk")
    _, R = clip("run")
    sp = lambda J: np.abs(np.diff(j(J, "pelvis_center")[:, 0])).mean() * FPS  # noqa: E731
    assert sp(R) > 1.5 * sp(W)


def test_jump_leaves_the_ground_and_lands():
    _, J = clip("jump")
    low = np.minimum(j(J, "l_ankle")[:, 1], j(J, "r_ankle")[:, 1])
    assert low.max() > 0.2 and low[-10:].min() < 0.02


def test_sit_lowers_the_pelvis_with_bent_hips_and_knees():
    _, J = clip("sit")
    pelvis = j(J, "pelvis_center")[:, 1]
    assert pelvis[0] > 0.85 and pelvis[-1] < 0.6
    thigh = j(J, "l_knee")[-1] - j(J, "l_hip")[-1]
    assert abs(thigh[1]) < 0.15  # thighs near horizontal when seated


def test_stand_up_raises_the_pelvis():
    _, J = clip("stand_up")
    pelvis = j(J, "pelvis_center")[:, 1]
    assert pelvis[0] < 0.6 and pelvis[-1] > 0.85


def test_wave_raises_a_hand_above_the_head():
    _, J = clip("wave")
    hand = np.maximum(j(J, "l_wrist")[:, 1], j(J, "r_wrist")[:, 1])
    assert (hand > j(J, "head_center")[:, 1]).mean() > 0.5


def test_crouch_and_fall_bring_the_head_down():
    _, C = clip("crouch")
    assert j(C, "head_center")[:, 1].min() < 1.2
    _, F = clip("fall")
    head = j(F, "head_center")[:, 1]
    assert head.min() < 0.5 and head[-1] > 1.4  # down on the floor, then back up


def test_climb_rises_and_kick_lifts_a_foot_forward():
    _, C = clip("climb")
    assert j(C, "pelvis_center")[-1, 1] - j(C, "pelvis_center")[0, 1] > 1.0
    _, K = clip("kick")
    assert np.maximum(j(K, "l_ankle")[:, 1], j(K, "r_ankle")[:, 1]).max() > 0.6


def test_turn_changes_which_side_faces_the_camera():
    _, J = clip("turn")
    width = j(J, "l_hip")[:, 0] - j(J, "r_hip")[:, 0]
    assert width.max() > 0.05 and width.min() < -0.05


def test_physics_is_derived_from_the_pelvis():
    s, J = clip("run")
    phys = s["physics"].numpy()
    expect = derive_physics(j(J, "pelvis_center"), FPS)
    np.testing.assert_allclose(phys, expect, atol=2e-2)
    assert np.abs(phys[:, 0]).mean() > 2.0


@pytest.mark.parametrize("defect", DEFECT_TYPES)
def test_defects_are_recorded_with_frame_ranges_and_are_real(defect):
    cfg = SynthConfig(defect_rate=1.0, defect_types=(defect,), multi_actor_rate=0.0, min_seconds=5, max_seconds=8)
    for i in range(4):
        s = generate_sample(i, seed=9, config=cfg)
        recs = [r for r in s["meta"]["injected_defects"] if r["type"] == defect]
        assert recs, s["meta"]
        r = recs[0]
        T = len(s["motion"])
        assert 0 <= r["start"] < r["end"] <= T
        m = s["motion"].numpy()
        span = m[r["start"]:r["end"]]
        if defect == "frozen":
            assert np.abs(np.diff(span, axis=0)).max() == 0 and r["end"] - r["start"] >= 0.85 * T - 1
        elif defect == "ground_penetration":
            assert span[:, 1::2].min() < -0.1
        elif defect == "velocity_explosion":
            speed = np.abs(np.diff(m[:, 0::2], axis=0)).max(axis=1) * FPS
            assert speed.max() > 15
        elif defect == "jitter":
            acc = np.abs(np.diff(span, 2, axis=0)).mean() * FPS ** 2
            assert acc > 20
        elif defect == "too_short":
            assert T < 25
        elif defect == "shaky_camera":
            cam = s["camera"].numpy()[r["start"]:r["end"]]
            assert np.abs(np.diff(cam[:, :2], axis=0)).max() > 0.1
        elif defect == "foot_sliding":
            assert r["speed_m_s"] >= 0.8
        assert validate_sample(s) == []


def test_defect_rate_is_honoured():
    data = generate_dataset(300, seed=4, config=SynthConfig(defect_rate=0.2, max_seconds=4))
    share = np.mean([bool(s["meta"]["injected_defects"]) for s in data])
    assert 0.12 < share < 0.28
    clean = generate_dataset(50, seed=4, config=SynthConfig(defect_rate=0.0, max_seconds=4))
    assert not any(s["meta"]["injected_defects"] for s in clean)


@pytest.mark.parametrize("kwargs,field", [
    ({"defect_rate": 1.5}, "defect_rate"),
    ({"min_seconds": 5, "max_seconds": 2}, "min_seconds"),
    ({"defect_types": ("lava",)}, "defect_types"),
    ({"actions": ("moonwalk",)}, "actions"),
    ({"fps": 0}, "fps"),
])
def test_bad_generator_config_names_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        SynthConfig(**kwargs)
