"""The safety critic catches each injected defect where it happens and passes clean motion."""

from pathlib import Path

import numpy as np
import pytest
import torch

from stickgen_core.critic import SafetyCritic, SafetyCriticConfig
from stickgen_core.errors import ConfigError
from stickgen_core.synth import SynthConfig, generate_dataset, generate_sample

EXPECTED = {"frozen": "frozen", "jitter": "jittery", "velocity_explosion": "velocity",
            "ground_penetration": "ground_penetration"}


def overlap(issue, start, end):
    flagged = np.zeros(end + 10_000, bool)
    for s, e in issue.frame_ranges:
        flagged[s:e] = True
    return flagged[start:end].mean()


@pytest.mark.parametrize("defect", sorted(EXPECTED))
def test_each_injected_defect_is_flagged_with_its_frames(defect):
    cfg = SynthConfig(defect_rate=1.0, defect_types=(defect,), multi_actor_rate=0.0, min_seconds=4, max_seconds=10)
    critic = SafetyCritic()
    for i in range(8):
        s = generate_sample(i, seed=12, config=cfg)
        rec = s["meta"]["injected_defects"][0]
        r = critic.evaluate(s["motion"], s["physics"], s["description"], source=s["source"])
        hits = [x for x in r.issues if x.type == EXPECTED[defect]]
        assert hits, (defect, [x.type for x in r.issues])
        assert overlap(hits[0], rec["start"], rec["end"]) >= 0.8, (defect, rec, hits[0].frame_ranges)
        if defect in ("frozen", "velocity_explosion"):
            assert not r.is_safe and r.get_rejection_reasons()


def test_clean_clips_pass():
    data = generate_dataset(150, seed=8, config=SynthConfig(defect_rate=0.0, max_seconds=10))
    critic = SafetyCritic()
    safe = [critic.evaluate(s["motion"], s["physics"], s["description"], source=s["source"]).is_safe for s in data]
    assert np.mean(safe) >= 0.95


def test_stillness_prompt_is_not_frozen():
    s = generate_sample(0, seed=1, config=SynthConfig(actions=("idle",), multi_actor_rate=0.0))
    still = dict(s, motion=s["motion"][:1].repeat(len(s["motion"]), 1))
    critic = SafetyCritic()
    assert any(i.type == "frozen" for i in critic.evaluate(still["motion"], prompt="A person waves.").issues)
    r = critic.evaluate(still["motion"], prompt="A person stands still and meditates.")
    assert not any(i.type == "frozen" for i in r.issues) and "stillness" in r.notes[0]


def test_thresholds_change_verdicts():
    s = generate_sample(0, seed=2, config=SynthConfig(actions=("run",), multi_actor_rate=0.0, min_seconds=5))
    assert SafetyCritic().evaluate(s["motion"], s["physics"]).is_safe
    strict = SafetyCritic(SafetyCriticConfig(max_velocity=1.0))
    r = strict.evaluate(s["motion"], s["physics"])
    assert not r.is_safe and "velocity" in r.get_rejection_reasons()[0]
    # the velocity issue's severity (0.8) stays below a 0.95 rejection threshold: flagged, yet safe
    lenient = SafetyCritic(SafetyCriticConfig(max_velocity=1.0, rejection_severity_threshold=0.95))
    r = lenient.evaluate(s["motion"], s["physics"])
    assert r.is_safe and any(i.type == "velocity" for i in r.issues)
    assert SafetyCritic(SafetyCriticConfig(velocity_severity=0.5, max_velocity=1.0)).evaluate(s["motion"], s["physics"]).is_safe


def test_auto_ground_looks_at_the_data_not_at_the_source_name():
    s = generate_sample(0, seed=3, config=SynthConfig(actions=("walk",), multi_actor_rate=0.0, min_seconds=4))
    low = s["motion"].clone()
    low[:, 1::2] -= 0.74  # the reference's converted clips stand at y = -0.74
    critic = SafetyCritic()
    for source in ("synthetic", "generated", None, "reference_conversion"):  # the name decides nothing
        assert critic.evaluate(low, source=source).is_safe, source
    zero = SafetyCritic(SafetyCriticConfig(ground="zero"))
    assert any(i.type == "ground_penetration" for i in zero.evaluate(low).issues)
    # a clip that stands on y = 0 and then sinks keeps y = 0 as its floor: the sinking is caught
    sinking = s["motion"].clone()
    T = len(sinking)
    sinking[T // 2:, 1::2] -= torch.linspace(0.0, 0.6, T - T // 2)[:, None]
    r = critic.evaluate(sinking, source="synthetic")
    hits = [i for i in r.issues if i.type == "ground_penetration"]
    assert hits and hits[0].frame_ranges[0][0] >= T // 2
    two = torch.stack([s["motion"], s["motion"] + torch.tensor([1.0, 0.0] * 24)], dim=1)
    assert critic.evaluate(two).is_safe


@pytest.mark.shared_data("reference/ref_sample_60.pt")
def test_reference_clips_are_not_called_penetrating_for_their_floor():
    raw = torch.load(Path(__file__).parents[2] / "shared" / "data" / "reference" / "ref_sample_60.pt",
                     weights_only=True)
    samples = raw["samples"] if isinstance(raw, dict) else raw
    critic = SafetyCritic()
    issues = [i.type for s in samples for i in critic.evaluate(s["motion"], s.get("physics"),
                                                                source=s.get("source")).issues]
    assert "ground_penetration" not in issues


def test_repetition_compares_velocity_not_position():
    s = generate_sample(0, seed=4, config=SynthConfig(actions=("idle",), multi_actor_rate=0.0, min_seconds=8))
    critic = SafetyCritic()
    assert not any(i.type == "repetitive" for i in critic.evaluate(s["motion"]).issues)
    loop = s["motion"][:25].repeat(8, 1)  # a model stuck replaying one second
    r = critic.evaluate(loop)
    assert any(i.type == "repetitive" for i in r.issues)


def test_bad_config_names_field():
    with pytest.raises(ConfigError, match="frozen_ratio"):
        SafetyCriticConfig(frozen_ratio=3)
