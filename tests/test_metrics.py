"""Batched metrics: same numbers as one clip at a time, and scores that separate defects."""

import numpy as np
import pytest
import torch

from stickgen_core.metrics import ARTIFACT_KINDS, ClipInput, compute_metrics, frame_flags
from stickgen_core.synth import SynthConfig, generate_sample


def clip_input(s, ground=0.0):
    phys = s.get("physics")
    return ClipInput(s["motion"].numpy(), 25, None if phys is None else phys.numpy(),
                     s["camera"].numpy(), s["actions"].numpy(), ground)


@pytest.fixture(scope="module")
def mixed():
    cfg = SynthConfig(defect_rate=0.5, multi_actor_rate=0.15, max_seconds=8)
    return [generate_sample(i, seed=21, config=cfg) for i in range(40)]


def test_batched_equals_one_at_a_time(mixed):
    batch = compute_metrics([clip_input(s) for s in mixed])
    for i in (0, 7, 19, 39):
        alone = compute_metrics([clip_input(mixed[i])])
        for k, v in alone.items():
            np.testing.assert_allclose(batch[k][i], v[0], rtol=1e-4, atol=1e-5, err_msg=k)


def test_order_of_clips_does_not_matter(mixed):
    fwd = compute_metrics([clip_input(s) for s in mixed])
    rev = compute_metrics([clip_input(s) for s in mixed[::-1]])
    for k in fwd:
        np.testing.assert_allclose(fwd[k], rev[k][::-1], rtol=1e-5, atol=1e-6, err_msg=k)


def _walk(seconds=6):
    cfg = SynthConfig(actions=("walk",), multi_actor_rate=0.0, min_seconds=seconds, max_seconds=seconds,
                      sources={"synthetic": 1.0})
    return generate_sample(0, seed=5, config=cfg)


def test_frozen_and_noisy_clips_score_far_from_clean():
    """The reference scored a frozen clip 0.35 and sigma=0.05 noise 0.05: both passed."""
    clean = _walk()
    m = clean["motion"]
    frozen = dict(clean, motion=m[:1].repeat(len(m), 1))
    noisy = dict(clean, motion=m + 0.05 * torch.randn(m.shape, generator=torch.Generator().manual_seed(0)))
    s = compute_metrics([clip_input(x) for x in (clean, frozen, noisy)])
    assert s["artifact_score"][0] < 0.1
    assert s["artifact_score"][1] > 0.9 and s["frozen_ratio"][1] > 0.95
    assert s["artifact_score"][2] > 0.9 and s["jitter_ratio"][2] > 0.8


def test_missing_physics_is_derived_not_a_crash():
    s = _walk()
    without = dict(s)
    without.pop("physics")
    none = dict(s, physics=None)
    res = compute_metrics([clip_input(s), clip_input(without), clip_input(none)])
    assert res["has_physics"].tolist() == [1.0, 0.0, 0.0]
    assert res["max_velocity"][1] == pytest.approx(res["max_velocity"][0], rel=0.3)
    assert np.isfinite(res["quality"] if "quality" in res else res["realism_score"]).all()


def test_one_frame_and_two_frame_clips():
    s = _walk()
    short = [dict(s, motion=s["motion"][:n], physics=s["physics"][:n], camera=s["camera"][:n],
                  actions=s["actions"][:n]) for n in (1, 2, 3)]
    res = compute_metrics([clip_input(x) for x in short])
    assert res["n_frames"].tolist() == [1, 2, 3]
    for k in ("artifact_score", "realism_score", "camera_stability"):
        assert np.isfinite(res[k]).all(), k


def test_ground_estimate_for_foreign_data():
    s = _walk()
    shifted = s["motion"].clone()
    shifted[:, 1::2] -= 0.74  # the reference's converted clips stand at y = -0.74
    foreign = dict(s, motion=shifted)
    as_ours = compute_metrics([clip_input(foreign, ground=0.0)])
    estimated = compute_metrics([clip_input(foreign, ground=None)])
    assert as_ours["penetration_ratio"][0] > 0.9
    assert estimated["ground_y"][0] == pytest.approx(-0.74, abs=0.03)
    assert estimated["penetration_ratio"][0] == 0.0 and estimated["realism_score"][0] > 0.9


@pytest.mark.parametrize("defect,kind", [("frozen", "frozen"), ("jitter", "jitter"),
                                         ("velocity_explosion", "velocity_explosion"),
                                         ("ground_penetration", "ground_penetration")])
def test_frame_flags_cover_injected_ranges(defect, kind):
    cfg = SynthConfig(defect_rate=1.0, defect_types=(defect,), multi_actor_rate=0.0, min_seconds=4, max_seconds=8)
    for i in range(5):
        s = generate_sample(i, seed=3, config=cfg)
        rec = s["meta"]["injected_defects"][0]
        flags = frame_flags(clip_input(s))
        assert set(flags) == set(ARTIFACT_KINDS)
        span = np.zeros(len(s["motion"]), bool)
        span[rec["start"]:rec["end"]] = True
        hit = flags[kind]
        if defect == "velocity_explosion":
            assert hit[span].all()  # every teleported frame is marked
        else:
            assert (hit & span).sum() >= 0.8 * span.sum() - 1, (i, rec, hit.sum())
