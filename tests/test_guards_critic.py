"""Every safety-critic rule at its threshold and one ``np.nextafter`` step past it, and every
critic setting changing a verdict.

A rule's boundary is found by measuring the clip's own value (speed, ratio, depth...) and putting
the threshold exactly there, so the test pins the comparison itself (``>`` vs ``>=``) and that
the setting reaches it. Values compared in float32 (torch signals, float32 physics) step in
float32: a float64 step would round back to the same float32 threshold.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from stickgen_core.critic import SafetyCritic, SafetyCriticConfig
from stickgen_core.metrics import ClipInput, clip_frame_signals
from stickgen_core.synth import SynthConfig, generate_sample

T = 100
SEVERITIES = [f.name for f in fields(SafetyCriticConfig) if f.name.endswith("severity")]


def up(x: float) -> float:
    return float(np.nextafter(np.float32(x), np.float32(np.inf)))


def down(x: float) -> float:
    return float(np.nextafter(np.float32(x), np.float32(-np.inf)))


def _walk() -> tuple[np.ndarray, np.ndarray]:
    s = generate_sample(0, seed=2, config=SynthConfig(actions=("walk",), multi_actor_rate=0.0, min_seconds=4,
                                                      max_seconds=4, defect_rate=0.0))
    return s["motion"].numpy()[:T].copy(), s["physics"].numpy()[:T].copy()


def _periodic(seed: int = 0) -> np.ndarray:
    """Arms swinging with a 1 s period: every 25-frame velocity window nearly the same (a little
    noise per window, so no similarity is exactly 1)."""
    walk, _ = _walk()
    t = np.arange(T)
    m = np.repeat(walk[:1], T, axis=0)
    swing = 0.15 * np.sin(2 * np.pi * t / 25.0)
    for col in (14, 18, 22, 26):               # x of elbows and hands
        m[:, col] += swing
    m += np.random.default_rng(seed).normal(0, 2e-4, m.shape)
    return m.astype(np.float32)


@pytest.fixture(scope="module")
def clips() -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    walk, phys = _walk()
    frozen = walk.copy()
    frozen[40:] = frozen[40]                                   # still for the last 60 frames
    jitter = walk.copy()
    jitter[30:60] += np.where(np.arange(30) % 2, 0.03, -0.03)[:, None].astype(np.float32)
    sink = walk.copy()
    sink[50:60, 19] = -0.25                                    # a hand 25 cm under the floor
    fast = phys.copy()
    fast[50, 0] = 20.0                                         # 20 m/s for one frame
    hard = phys.copy()
    hard[50, 2] = 80.0                                         # 80 m/s^2 for one frame
    low = walk.copy()
    low[:, 1::2] -= 0.74                                       # a clip whose floor is y = -0.74
    still = np.repeat(walk[:1], T, axis=0)
    return {"walk": (walk, phys), "frozen": (frozen, None), "jitter": (jitter, None), "sink": (sink, None),
            "fast": (walk, fast), "hard": (walk, hard), "low": (low, None), "still": (still, None),
            "periodic": (_periodic(), None)}


def signals(motion: np.ndarray, cfg: SafetyCriticConfig) -> dict[str, np.ndarray]:
    critic = SafetyCritic(cfg)
    return clip_frame_signals(ClipInput(motion, 25.0, None, None, None, critic.floor()), critic._thresholds())


def types(clip, cfg: SafetyCriticConfig, **kw) -> set[str]:
    motion, phys = clip
    return {i.type for i in SafetyCritic(cfg).evaluate(motion, phys, **kw).issues}


def _similarities(motion: np.ndarray, W: int) -> np.ndarray:
    """The critic's window similarity matrix (cosine of 25-frame velocity windows), diagonal 0."""
    vel = np.diff(motion.reshape(len(motion), -1), axis=0)
    n = len(vel) // W
    win = vel[: n * W].reshape(n, -1)
    unit = win / np.linalg.norm(win, axis=1)[:, None]
    sim = unit @ unit.T
    np.fill_diagonal(sim, 0)
    return sim


# ------------------------------------------------------------------ boundaries, rule by rule
def test_frozen_ratio_at_the_measured_share_is_not_frozen_one_step_below_is(clips):
    cfg = SafetyCriticConfig()
    share = float(signals(clips["frozen"][0], cfg)["frozen"][1:].mean())
    assert 0.5 < share < 0.7
    assert "frozen" not in types(clips["frozen"], SafetyCriticConfig(frozen_ratio=share))
    assert "frozen" in types(clips["frozen"], SafetyCriticConfig(frozen_ratio=float(np.nextafter(share, -1))))


def test_frozen_velocity_a_frame_at_the_speed_is_moving_one_step_above_is_frozen(clips):
    cfg = SafetyCriticConfig(frozen_ratio=0.0)   # a single frozen frame makes the issue
    slowest = float(signals(clips["walk"][0], cfg)["mean_speed"][1:].min())
    assert "frozen" not in types(clips["walk"], SafetyCriticConfig(frozen_ratio=0.0, frozen_velocity=slowest))
    assert "frozen" in types(clips["walk"], SafetyCriticConfig(frozen_ratio=0.0, frozen_velocity=up(slowest)))


def test_jitter_ratio_at_the_measured_share_is_not_jittery_one_step_below_is(clips):
    share = float(signals(clips["jitter"][0], SafetyCriticConfig())["jitter"].mean())
    assert 0.2 < share < 0.5
    assert "jittery" not in types(clips["jitter"], SafetyCriticConfig(jitter_ratio=share))
    assert "jittery" in types(clips["jitter"], SafetyCriticConfig(jitter_ratio=float(np.nextafter(share, -1))))


def test_jitter_acceleration_at_the_peak_is_no_jitter_one_step_below_is(clips):
    peak = float(signals(clips["jitter"][0], SafetyCriticConfig())["hf_acc"][4:].max())
    assert "jittery" not in types(clips["jitter"], SafetyCriticConfig(jitter_ratio=0.0, jitter_acceleration=peak))
    assert "jittery" in types(clips["jitter"], SafetyCriticConfig(jitter_ratio=0.0, jitter_acceleration=down(peak)))


def test_max_velocity_at_the_peak_is_allowed_one_step_below_is_flagged(clips):
    peak = float(np.hypot(clips["fast"][1][:, 0], clips["fast"][1][:, 1]).max())
    assert peak == pytest.approx(20.0, abs=0.5)
    assert "velocity" not in types(clips["fast"], SafetyCriticConfig(max_velocity=peak))
    assert "velocity" in types(clips["fast"], SafetyCriticConfig(max_velocity=down(peak)))


def test_max_acceleration_at_the_peak_is_allowed_one_step_below_is_flagged(clips):
    peak = float(np.hypot(clips["hard"][1][:, 2], clips["hard"][1][:, 3]).max())
    assert peak == pytest.approx(80.0, abs=1.0)
    assert "acceleration" not in types(clips["hard"], SafetyCriticConfig(max_acceleration=peak))
    assert "acceleration" in types(clips["hard"], SafetyCriticConfig(max_acceleration=down(peak)))


def test_ground_threshold_at_the_deepest_point_is_allowed_one_step_above_is_penetration(clips):
    cfg = SafetyCriticConfig(ground="zero")
    deepest = float(signals(clips["sink"][0], cfg)["min_y"].min())
    assert deepest == pytest.approx(-0.25, abs=1e-3)
    assert "ground_penetration" in types(clips["sink"], cfg)        # the default -0.1 catches the hand
    assert "ground_penetration" not in types(clips["sink"], SafetyCriticConfig(ground="zero", ground_threshold=deepest))
    assert "ground_penetration" in types(clips["sink"], SafetyCriticConfig(ground="zero", ground_threshold=up(deepest)))


def test_repetition_similarity_at_the_measured_value_repeats_one_step_above_does_not(clips):
    sim = _similarities(clips["periodic"][0], 25).astype(np.float32)
    n = len(sim)
    # the window closest to all others decides: it repeats when it is close to every other one
    needed = float(max(np.delete(sim[k], k).min() for k in range(n)))
    assert 0.99 < needed < 1.0 and n == 3
    assert "repetitive" in types(clips["periodic"], SafetyCriticConfig(repetition_similarity=needed))
    assert "repetitive" not in types(clips["periodic"], SafetyCriticConfig(repetition_similarity=up(needed)))


def test_repetition_min_windows_at_the_count_repeats_one_more_does_not(clips):
    assert "repetitive" in types(clips["periodic"], SafetyCriticConfig(repetition_min_windows=3))
    assert "repetitive" not in types(clips["periodic"], SafetyCriticConfig(repetition_min_windows=4))


def test_min_quality_at_the_quality_is_fine_one_step_above_is_low(clips):
    q = 0.2537
    assert "low_quality" not in types(clips["walk"], SafetyCriticConfig(min_quality=q), quality=q)
    assert "low_quality" in types(clips["walk"], SafetyCriticConfig(min_quality=float(np.nextafter(q, 1))), quality=q)


def test_a_severity_at_the_rejection_threshold_rejects_one_step_below_does_not(clips):
    motion, phys = clips["walk"]
    at = SafetyCritic(SafetyCriticConfig(quality_severity=0.55, rejection_severity_threshold=0.55))
    assert not at.evaluate(motion, phys, quality=0.0).is_safe
    past = SafetyCriticConfig(quality_severity=0.55, rejection_severity_threshold=float(np.nextafter(0.55, 1)))
    r = SafetyCritic(past).evaluate(motion, phys, quality=0.0)
    assert r.is_safe and [i.type for i in r.issues] == ["low_quality"]


# ------------------------------------------------------------------ every setting changes a verdict
QUIET = {name: 0.1 for name in SEVERITIES}   # only the rule under test can make a clip unsafe
# setting -> (clip, evaluate keywords, other settings, value making it safe, value making it unsafe)
VERDICTS = {
    "frozen_velocity": ("walk", {}, {"frozen_ratio": 0.0, "frozen_severity": 0.9}, 1e-6, 5.0),
    "frozen_ratio": ("frozen", {}, {"frozen_severity": 0.9}, 0.8, 0.5),
    "frozen_severity": ("frozen", {}, {"frozen_ratio": 0.5}, 0.1, 0.9),
    "repetition_window": ("periodic", {}, {"repetitive_severity": 0.9}, 40, 25),
    "repetition_similarity": ("periodic", {}, {"repetitive_severity": 0.9}, 0.99999, 0.99),
    "repetition_min_windows": ("periodic", {}, {"repetitive_severity": 0.9}, 4, 3),
    "repetitive_severity": ("periodic", {}, {}, 0.1, 0.9),
    "jitter_acceleration": ("jitter", {}, {"jitter_severity": 0.9}, 1000.0, 25.0),
    "jitter_ratio": ("jitter", {}, {"jitter_severity": 0.9}, 0.6, 0.1),
    "jitter_severity": ("jitter", {}, {}, 0.1, 0.9),
    "max_velocity": ("fast", {}, {"velocity_severity": 0.9}, 25.0, 15.0),
    "velocity_severity": ("fast", {}, {}, 0.1, 0.9),
    "max_acceleration": ("hard", {}, {"acceleration_severity": 0.9}, 100.0, 50.0),
    "acceleration_severity": ("hard", {}, {}, 0.1, 0.9),
    "ground_threshold": ("sink", {}, {"ground_severity": 0.9, "ground": "zero"}, -0.3, -0.1),
    "ground_severity": ("sink", {}, {"ground": "zero"}, 0.1, 0.9),
    "ground": ("low", {}, {"ground_severity": 0.9}, "auto", "zero"),
    "min_quality": ("walk", {"quality": 0.25}, {"quality_severity": 0.9}, 0.2, 0.3),
    "quality_severity": ("walk", {"quality": 0.25}, {}, 0.1, 0.9),
    "rejection_severity_threshold": ("fast", {}, {"velocity_severity": 0.8}, 0.85, 0.8),
    "stillness_words": ("still", {"prompt": "A person stands still."}, {"frozen_severity": 0.9},
                        ("still",), ("asleep",)),
}


def test_the_verdict_table_covers_every_critic_setting():
    """A new setting must join VERDICTS: a setting no test moves can be ignored unnoticed (the anatomy
    settings have their own table, with the clips that move them, in test_critic_anatomy)."""
    try:
        from tests.test_critic_anatomy import VERDICTS as ANATOMY_VERDICTS
    except ModuleNotFoundError:  # a critic without anatomy checks: its settings must all be in VERDICTS
        ANATOMY_VERDICTS = {}
    assert {f.name for f in fields(SafetyCriticConfig)} - set(VERDICTS) - set(ANATOMY_VERDICTS) == set()


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_every_critic_setting_changes_a_verdict(clips, name):
    clip, kw, others, safe, unsafe = VERDICTS[name]
    motion, phys = clips[clip]
    verdicts = []
    for value in (safe, unsafe):
        cfg = SafetyCriticConfig(**{**QUIET, **others, name: value})
        r = SafetyCritic(cfg).evaluate(motion, phys, **kw)
        verdicts.append(r.is_safe)
    assert verdicts == [True, False], (name, verdicts)
