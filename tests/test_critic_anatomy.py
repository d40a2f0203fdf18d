"""The critic rejects what is not a body (issue 32): detached limbs, stretched or varying bones,
joints bent the wrong way, a head below the shoulders, a figure that grows or shrinks — each
with its limb named and frames, at its limit and one step past it, every anatomy setting
changing a verdict, clean synthetic clips and real captures passing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stickgen_core import anatomy
from stickgen_core.critic import SafetyCritic, SafetyCriticConfig
from stickgen_core.errors import ConfigError, MotionInputError
from stickgen_core.skeleton import joints_to_segments
from stickgen_core.synth import SynthConfig, generate_sample, generate_samples
from stickgen_core.synth.kinematics import P, neutral, place_on_screen

T = 100
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ANATOMY_TYPES = {"detached_limb", "bone_length", "joint_limit", "height_change"}
ANATOMY_SETTINGS = ("max_shoulder_gap", "max_hip_gap", "detached_limb_severity", "max_bone_stretch",
                    "max_bone_variation", "bone_length_severity", "max_wrong_bend", "max_head_drop",
                    "joint_limit_severity", "max_height_gain", "min_height_ratio", "height_change_severity",
                    "lying_words")
SEVERITIES = [n for n in SafetyCriticConfig.__dataclass_fields__ if n.endswith("_severity")]
QUIET = {n: 0.1 for n in SEVERITIES}  # only the rule under test can make a clip unsafe


def walk() -> np.ndarray:
    s = generate_sample(0, seed=2, config=SynthConfig(actions=("walk",), multi_actor_rate=0.0, min_seconds=4,
                                                      max_seconds=4))
    return s["motion"].numpy()[:T].astype(np.float64)


def detach_arm(m: np.ndarray, metres: float, frames=slice(None)) -> np.ndarray:
    """The left arm moved whole (bones kept) so its shoulder sits ``metres`` from the neck, up and
    out at 45° from the torso line (so the neck is its nearest point on the neck->chest segment)."""
    out = m.copy()
    neck, chest = m[:, 4:6], m[:, 6:8]
    up = (neck - chest) / np.linalg.norm(neck - chest, axis=1, keepdims=True)
    side = np.stack([up[:, 1], -up[:, 0]], axis=1)
    target = neck + metres * (up + side) / np.sqrt(2)
    shift = np.zeros_like(neck)
    shift[frames] = (target - m[:, 12:14])[frames]
    for col in (12, 14, 16, 18):                      # l_upper_arm and l_forearm endpoints
        out[:, col: col + 2] += shift
    return out


def detach_leg(m: np.ndarray, dx: float) -> np.ndarray:
    out = m.copy()
    for col in (28, 30, 32, 34, 44):                  # l_thigh, l_shin, pelvis_width's l_hip
        out[:, col] += dx
    return out


def scale_about_pelvis(m: np.ndarray, k, frames=slice(None)) -> np.ndarray:
    """The figure scaled by ``k`` (a number or one per frame) about its pelvis on ``frames``."""
    out = m.copy()
    k = np.broadcast_to(np.asarray(k, dtype=np.float64), (len(m),))[frames, None]
    pel = m[frames, 10:12]
    for col in range(0, 48, 2):
        out[frames, col: col + 2] = pel + k * (m[frames, col: col + 2] - pel)
    return out


def stretch_forearm(m: np.ndarray, k, frames=slice(None)) -> np.ndarray:
    out = m.copy()
    elbow, wrist = m[:, 16:18], m[:, 18:20]
    k = np.broadcast_to(np.asarray(k, dtype=np.float64), (len(m),))[:, None]
    out[frames, 18:20] = (elbow + k * (wrist - elbow))[frames]
    return out


def side_on_knee(bend: float) -> np.ndarray:
    """A figure turning side-on (yaw 0 -> 90 in 30 frames), its left knee bent ``bend`` degrees on
    frames 50-69 (positive: the natural way)."""
    pose = neutral(T)
    pose[:, P["yaw"]] = np.minimum(np.arange(T) * 3.0, 90.0)
    pose[:, P["l_hip_flex"]] = pose[:, P["r_hip_flex"]] = 20.0
    pose[50:70, P["l_knee"]] = bend
    pose[:, P["r_knee"]] = 25.0
    pose[:, P["l_elbow"]] = pose[:, P["r_elbow"]] = 30.0
    return joints_to_segments(place_on_screen(pose, 25.0)).astype(np.float64)


def head_down(m: np.ndarray) -> np.ndarray:
    out = m.copy()
    out[40:60, 2] = out[40:60, 0] + 0.05
    out[40:60, 3] = out[40:60, 1] - 0.45              # head centre 0.45 m under the neck
    return out


@pytest.fixture(scope="module")
def clips():
    w = walk()
    return {"walk": w, "arm": detach_arm(w, 0.6), "hip": detach_leg(w, 0.3),
            "stretch": stretch_forearm(w, 1.6, slice(50, 54)),
            "vary": scale_about_pelvis(w, 1 + 0.3 * np.sin(np.arange(T) / 3.0)),
            "knee": side_on_knee(-50.0), "head": head_down(w),
            "grow": scale_about_pelvis(w, 1.3, slice(50, 54)), "shrink": scale_about_pelvis(w, 0.4, slice(30, 70))}


def judge(m, prompt=None, **cfg):
    return SafetyCritic(SafetyCriticConfig(**cfg)).evaluate(m.astype(np.float32), prompt=prompt)


def anatomy_issues(r) -> list:
    return [i for i in r.issues if i.type in ANATOMY_TYPES]


# ------------------------------------------------------------------ each check, named and placed
@pytest.mark.parametrize("metres", [0.4, 0.55, 0.82, 0.96, 1.0])
def test_arms_floating_away_from_the_neck_are_unsafe_and_named(clips, metres):
    r = judge(detach_arm(clips["walk"], metres))
    det = [i for i in r.issues if i.type == "detached_limb"]
    assert not r.is_safe and len(det) == 1
    assert det[0].part == "left arm" and "left arm" in det[0].description
    assert det[0].frame_ranges == [(0, T)] and det[0].severity >= r.threshold


def test_a_detached_limb_on_some_frames_names_those_frames(clips):
    r = judge(detach_arm(clips["walk"], 0.6, slice(30, 45)))
    (det,) = [i for i in r.issues if i.type == "detached_limb"]
    assert det.frame_ranges == [(30, 45)]


def test_a_leg_off_the_pelvis_is_detached(clips):
    r = judge(clips["hip"])
    assert [(i.type, i.part) for i in anatomy_issues(r)][:1] == [("detached_limb", "left leg")] and not r.is_safe


def test_a_stretched_bone_is_named_with_its_frames(clips):
    (b,) = [i for i in judge(clips["stretch"]).issues if i.type == "bone_length"]
    assert b.part == "left forearm" and b.frame_ranges == [(50, 54)] and "1.6" in b.description


def test_bones_that_vary_over_the_clip_are_flagged(clips):
    issues = judge(clips["vary"], max_bone_stretch=10.0).issues
    (b,) = [i for i in issues if i.type == "bone_length"]
    assert "vary by 2" in b.description and b.part in b.description


def test_a_knee_bent_backwards_is_a_joint_limit_a_natural_bend_is_not():
    r = judge(side_on_knee(-50.0))
    (j,) = [i for i in r.issues if i.type == "joint_limit"]
    assert j.part == "left knee" and j.frame_ranges == [(50, 70)] and not r.is_safe
    assert not anatomy_issues(judge(side_on_knee(50.0)))


def test_the_head_below_the_shoulders_is_flagged_unless_the_prompt_falls_or_flips(clips):
    r = judge(clips["head"], prompt="A person walks.")
    (j,) = [i for i in r.issues if i.type == "joint_limit"]
    assert j.part == "head" and j.frame_ranges == [(40, 60)]
    for prompt in ("A person falls over.", "Someone does a handstand.", "A kid lies down on the floor."):
        r = judge(clips["head"], prompt=prompt)
        assert not [i for i in r.issues if i.type == "joint_limit"]
        assert any("head" in n for n in r.notes), prompt


def test_a_figure_that_grows_or_shrinks_without_bending_is_a_height_change(clips):
    (g,) = [i for i in judge(clips["grow"]).issues if i.type == "height_change"]
    assert g.frame_ranges == [(50, 54)] and "grows" in g.description
    (s,) = [i for i in judge(clips["shrink"]).issues if i.type == "height_change"]
    assert s.frame_ranges == [(30, 70)] and "shrinks" in s.description
    assert not [i for i in judge(clips["shrink"], prompt="A man trips and falls.").issues if i.type == "height_change"]


def test_a_second_actor_with_a_detached_arm_is_caught(clips):
    both = np.stack([clips["walk"], clips["arm"]], axis=1)
    assert [i.type for i in anatomy_issues(judge(both))] == ["detached_limb"]


# ------------------------------------------------------------------ boundaries
def below(x: float) -> float:
    """One float32 step under ``x``: the measures are float32, so a float64 step would round back to ``x``."""
    return float(np.nextafter(np.float32(x), np.float32(0)))


def test_a_limb_gap_at_the_limit_passes_one_step_past_fails(clips):
    m = detach_arm(clips["walk"], 0.6).astype(np.float32)
    gap = float(anatomy.measure(m).gap[..., 0].max())
    assert "detached_limb" not in [i.type for i in judge(m, max_shoulder_gap=gap).issues]
    assert "detached_limb" in [i.type for i in judge(m, max_shoulder_gap=below(gap)).issues]


def test_a_hip_gap_at_the_limit_passes_one_step_past_fails(clips):
    gap = float(anatomy.measure(clips["hip"].astype(np.float32)).gap[..., 2].max())
    assert not anatomy_issues(judge(clips["hip"], max_hip_gap=gap))
    assert anatomy_issues(judge(clips["hip"], max_hip_gap=below(gap)))


def test_a_wrong_bend_at_the_limit_passes_one_step_past_fails():
    m = side_on_knee(-50.0)
    worst = float(anatomy.measure(m.astype(np.float32)).wrong_bend.max())
    assert 45 < worst < 55
    assert not anatomy_issues(judge(m, max_wrong_bend=worst))
    assert anatomy_issues(judge(m, max_wrong_bend=below(worst)))


# ------------------------------------------------------------------ every anatomy setting changes a verdict
# setting -> (clip, prompt, other settings, value that passes, value that fails)
VERDICTS = {
    "max_shoulder_gap": ("arm", None, {"detached_limb_severity": 0.9}, 1.0, 0.3),
    "max_hip_gap": ("hip", None, {"detached_limb_severity": 0.9}, 1.0, 0.2),
    "detached_limb_severity": ("arm", None, {}, 0.1, 0.8),
    "max_bone_stretch": ("stretch", None, {"bone_length_severity": 0.9}, 1.0, 0.25),
    "max_bone_variation": ("vary", None, {"bone_length_severity": 0.9, "max_bone_stretch": 10.0}, 0.5, 0.2),
    "bone_length_severity": ("stretch", None, {}, 0.1, 0.7),
    "max_wrong_bend": ("knee", None, {"joint_limit_severity": 0.9}, 60.0, 30.0),
    "max_head_drop": ("head", None, {"joint_limit_severity": 0.9}, 0.6, 0.15),
    "joint_limit_severity": ("knee", None, {}, 0.1, 0.7),
    "max_height_gain": ("grow", None, {"height_change_severity": 0.9}, 0.5, 0.1),
    "min_height_ratio": ("shrink", None, {"height_change_severity": 0.9}, 0.3, 0.55),
    "height_change_severity": ("shrink", None, {}, 0.1, 0.7),
    "lying_words": ("head", "A person falls over.", {"joint_limit_severity": 0.9}, ("fall",), ("handstand",)),
}


def test_the_verdict_table_covers_every_anatomy_setting():
    assert set(VERDICTS) == set(ANATOMY_SETTINGS)
    assert set(ANATOMY_SETTINGS) <= set(SafetyCriticConfig.__dataclass_fields__)


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_every_anatomy_setting_changes_a_verdict(clips, name):
    clip, prompt, others, ok, bad = VERDICTS[name]
    verdicts = [judge(clips[clip], prompt, **{**QUIET, **others, name: v}).is_safe for v in (ok, bad)]
    assert verdicts == [True, False], (name, verdicts)


def test_bad_anatomy_settings_are_refused_with_their_key():
    with pytest.raises(ConfigError, match="safety_critic.max_shoulder_gap"):
        SafetyCriticConfig(max_shoulder_gap=-0.1)
    with pytest.raises(ConfigError, match="safety_critic.min_height_ratio"):
        SafetyCriticConfig(min_height_ratio=1.5)
    with pytest.raises(ConfigError, match="max_wrong_bend"):
        SafetyCriticConfig(max_wrong_bend="30")


# ------------------------------------------------------------------ clean data passes
def test_clean_synthetic_clips_have_no_anatomy_issue():
    samples = generate_samples(300, seed=11, config=SynthConfig(multi_actor_rate=0.05))
    flagged = [s["description"] for s in samples
               if anatomy.find_violations(s["motion"].numpy(), prompt=s["description"])[0]]
    assert flagged == []  # the limits are fitted with a margin over 1,500 clips (tests/benchmarks/fit_anatomy.py)


@pytest.mark.shared_data("bvh")
def test_every_real_capture_passes_the_anatomy_checks():
    from stickgen_core.convert import convert_file

    real = [s for f in sorted((DATA / "bvh").glob("*.bvh")) for s in convert_file(f, "bvh")]
    assert len(real) >= 4
    for s in real:
        r = SafetyCritic().evaluate(s["motion"], prompt=s["description"], fps=float(s.get("fps") or 25))
        assert not anatomy_issues(r), (s["description"], [i.description for i in anatomy_issues(r)])


# ------------------------------------------------------------------ measures over many clips at once
def test_a_padded_batch_measures_each_clip_as_alone(clips):
    a, b = clips["arm"], clips["knee"][:70]
    batch = np.zeros((2, T, 48))
    batch[0], batch[1, :70] = a, b
    mask = np.arange(T)[None] < np.array([[T], [70]])
    x = anatomy.measure(batch, mask)
    for i, m in enumerate((a, b)):
        alone = anatomy.measure(m)
        n = len(m)
        np.testing.assert_allclose(x.rest[i, 0], alone.rest[0])
        for k in ("gap", "bone_ratio", "wrong_bend", "head_drop", "height_ratio"):
            np.testing.assert_allclose(getattr(x, k)[i, :n], getattr(alone, k), err_msg=k)


def test_actors_along_the_second_axis_are_measured_per_actor(clips):
    both = np.stack([clips["walk"], clips["arm"]], axis=1)             # [T, A, 48]
    x = anatomy.measure(both, time_axis=0)
    assert x.gap.shape == (2, T, 4)
    np.testing.assert_allclose(x.gap[1], anatomy.measure(clips["arm"]).gap)
    metrics = anatomy.anatomy_metrics([clips["walk"], both])
    assert metrics["max_shoulder_gap"][0] < 0.3 < metrics["max_shoulder_gap"][1]
    assert metrics["anatomy_violation_ratio"][1] == 1.0


def test_curation_realism_falls_for_a_broken_body(clips):
    from stickgen_core.metrics import ClipInput, compute_metrics

    m = compute_metrics([ClipInput(clips["walk"].astype(np.float32)), ClipInput(clips["arm"].astype(np.float32))])
    assert m["realism_score"][0] > 0.9 and m["realism_score"][1] == 0.0
    assert m["max_shoulder_gap"][1] == pytest.approx(0.6, abs=0.15)


# ------------------------------------------------------------------ typed errors on wrong input
@pytest.mark.parametrize("bad", [None, "walk", np.zeros((10, 47)), np.zeros(48), [[1.0, 2.0]],
                                 np.array([["a"] * 48]), {"motion": 1}])
def test_evaluate_refuses_what_is_not_motion_with_a_typed_error(bad):
    with pytest.raises(MotionInputError, match="motion: expected"):
        SafetyCritic().evaluate(bad)


def test_evaluate_refuses_bad_physics_prompt_and_fps(clips):
    m = clips["walk"]
    with pytest.raises(MotionInputError, match="physics"):
        SafetyCritic().evaluate(m, physics="fast")
    with pytest.raises(MotionInputError, match="prompt"):
        SafetyCritic().evaluate(m, prompt=5)
    with pytest.raises(MotionInputError, match="fps"):
        SafetyCritic().evaluate(m, fps="25")


@pytest.mark.parametrize("bad", [None, "walk", np.zeros((10, 47)), np.zeros((0, 48))])
def test_save_gif_refuses_what_is_not_motion_with_a_typed_error(tmp_path, bad):
    from stickgen_core.render import save_gif

    with pytest.raises(MotionInputError, match="motion"):
        save_gif(bad, tmp_path / "x.gif")
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------ validate flags a broken skeleton
def test_validate_flags_a_clip_whose_arm_floats_away(tmp_path, capsys, clips):
    import torch

    from stickgen_core.cli import main
    from stickgen_core.io import save_dataset

    samples = [{"description": "A person walks.", "motion": torch.from_numpy(m.astype(np.float32))}
               for m in (clips["walk"], clips["arm"])]
    path = save_dataset(samples, tmp_path / "d.pt")
    assert main(["validate", str(path)]) == 0                      # listed, as a warning
    out = capsys.readouterr().out
    assert "1 valid clip(s) whose figure is not a body" in out and "[1] the left arm is up to 0.6" in out
    assert main(["validate", "--anatomy", "error", str(path)]) == 1
    capsys.readouterr()
    assert main(["validate", "--anatomy", "off", str(path)]) == 0
    assert "not a body" not in capsys.readouterr().out


def test_physical_metrics_report_attachment_and_joint_limits(clips):
    """What eval-motion and the adversarial report print for ground truth and generations."""
    from stickgen_core.evaluation import physical_metrics, summarise_physical

    p = physical_metrics([clips["walk"], clips["arm"], clips["knee"]])
    assert p["shoulder_gap"][0] < 0.3 and p["shoulder_gap"][1] == pytest.approx(0.68, abs=0.05)
    assert p["joint_limit_ratio"][2] == pytest.approx(0.2) and p["joint_limit_ratio"][0] == 0.0
    assert p["anatomy_violation_ratio"][1] == 1.0 and p["hip_gap"][0] < 0.2
    assert set(summarise_physical([clips["walk"]])) >= {"shoulder_gap", "hip_gap", "joint_limit_ratio"}


# ------------------------------------------------------------------ generation keeps a body
def test_the_pose_rebuild_brings_a_floating_arm_and_a_wide_hip_back_to_the_body(clips):
    import torch

    from stickgen_core.model.constraints import HIP_REACH, SHOULDER_REACH, keep_skeleton, reference_lengths

    broken = detach_leg(detach_arm(clips["walk"], 0.9), 0.4).astype(np.float32)
    ref = reference_lengths(torch.from_numpy(clips["walk"][:1].astype(np.float32)))
    rebuilt = keep_skeleton(torch.from_numpy(broken), ref).numpy()
    H = float(anatomy._rest_height(ref.numpy())[0])
    neck, hip = rebuilt[:, 4:6], rebuilt[:, 28:30]
    assert np.linalg.norm(rebuilt[:, 12:14] - neck, axis=1).max() <= SHOULDER_REACH * H + 1e-5
    assert np.linalg.norm(hip - rebuilt[:, 10:12], axis=1).max() <= HIP_REACH * H + 1e-5
    assert not anatomy_issues(judge(rebuilt))
    assert [i.type for i in anatomy_issues(judge(broken))] == ["detached_limb", "detached_limb"]
    # an attached arm is left where it is
    kept = keep_skeleton(torch.from_numpy(clips["walk"].astype(np.float32)), ref).numpy()
    np.testing.assert_allclose(kept[:, 12:14] - kept[:, 4:6], clips["walk"][:, 12:14] - clips["walk"][:, 4:6], atol=1e-5)


def test_the_attachment_loss_measures_shoulders_and_hips_against_the_ground_truth(clips):
    import torch

    from stickgen_core.config import LossWeights
    from stickgen_core.train.data import Batch
    from stickgen_core.anatomy import BodyReach
    from stickgen_core.train.losses import attachment_loss, compute_losses

    target = torch.from_numpy(clips["walk"][None, :20].astype(np.float32))
    moved = target.clone()
    moved[..., 12] += 0.5                                   # the left shoulder 0.5 m off, the arm left as it was

    class Fake(torch.nn.Module):                            # a model whose prediction is fixed
        def __init__(self, pose):
            super().__init__()
            self.pose = pose

        def forward(self, text, inputs, actions, camera, **kw):
            return {"pose": self.pose}

    B, T = target.shape[:2]
    batch = Batch(torch.zeros(B, 4), target, torch.zeros(B, T, dtype=torch.long), torch.zeros(B, T, 6),
                  torch.zeros(B, T, 3), torch.ones(B, T, dtype=torch.bool), torch.zeros(B, dtype=torch.long),
                  torch.full((B,), T))
    w = LossWeights(temporal=0, action=0, physics=0, attachment=2.0)
    same = compute_losses(Fake(target), batch, w)
    off = compute_losses(Fake(moved), batch, w)
    assert float(same["attachment"]) == 0.0
    offsets = attachment_loss(moved, target, batch.mask, BodyReach(shoulder_gap=1e6, hip_gap=1e6))
    assert float(offsets) == pytest.approx(0.25 / 4)   # one of four offsets, 0.5 m: 0.25 m²
    assert float(off["attachment"]) > float(offsets)    # and the gap past the data's reach
    assert float(off["total"]) == pytest.approx(float(off["pose"]) + 2.0 * float(off["attachment"]))
    assert "attachment" not in compute_losses(Fake(moved), batch, LossWeights(temporal=0, action=0, physics=0))
