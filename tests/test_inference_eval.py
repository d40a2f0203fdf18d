"""Inference (KV cache, defined behaviour on odd inputs) and the adversarial evaluation report."""

import atexit
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from stickgen_core.config import load_config, resolve_sources
from stickgen_core.errors import ConfigError
from stickgen_core.evaluation import load_suites, rate, run_adversarial_eval
from stickgen_core.inference import MAX_SECONDS, InferenceGenerator
from stickgen_core.io import atomic_torch_save, load_dataset
from stickgen_core.schema import validate_sample
from stickgen_core.synth import SynthConfig, generate_dataset
from stickgen_core.train import train
from stickgen_core.train.checkpoint import BEST

DIM = 32


class StubEncoder:
    """A deterministic stand-in for the sentence encoder (tests only)."""

    name, dim = "stub", DIM

    def encode(self, texts, progress=None):
        out = []
        for t in texts:
            seed = int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)
            v = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
            out.append(v / np.linalg.norm(v))
        return np.stack(out)


#: one training per set of ``sections`` in a test session (the training is seeded by its config, so every
#: call would train the same weights); each caller gets its own copy, free to change it
_TRAINED: dict[str, Path] = {}


def train_tiny_checkpoint(root, fresh=False, **sections):
    """A 2-layer model trained for 2 epochs on 32 synthetic clips (stub text embeddings); its best checkpoint.
    ``sections`` adds config sections (e.g. a diffusion refiner). ``root`` receives a copy of the session's
    training with these sections (``d.pt`` and ``run/``); ``fresh`` trains in ``root`` itself."""
    root = Path(root)
    if fresh:
        return _train_tiny(root, sections)
    key = json.dumps(sections, sort_keys=True)
    if key not in _TRAINED:
        cache = Path(tempfile.mkdtemp(prefix="tiny-checkpoint-"))
        atexit.register(shutil.rmtree, cache, ignore_errors=True)
        _train_tiny(cache, sections)
        _TRAINED[key] = cache
    shutil.copy(_TRAINED[key] / "d.pt", root / "d.pt")
    shutil.copytree(_TRAINED[key] / "run", root / "run")
    return root / "run" / "checkpoints" / BEST


def _train_tiny(root, sections):
    samples = generate_dataset(32, seed=0, config=SynthConfig(multi_actor_rate=0.0, max_seconds=4))
    enc = StubEncoder()
    for s in samples:
        s["embedding"] = torch.from_numpy(enc.encode([s["description"]])[0])
    atomic_torch_save({"sequences": samples}, root / "d.pt")
    cfg = load_config("configs/small.yaml", overrides={
        "model": {"d_model": 64, "n_layers": 2, "n_heads": 4, "ffn_dim": 128},
        "training": {"epochs": 2, "batch_size": 8, "max_frames": 48, "warmup_steps": 2, "val_fraction": 0.2},
        **sections})
    train(cfg, resolve_sources(cfg, str(root / "d.pt"), env={}), root / "run")
    return root / "run" / "checkpoints" / BEST


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return train_tiny_checkpoint(tmp_path_factory.mktemp("ck"))


@pytest.fixture(scope="module")
def gen(checkpoint):
    return InferenceGenerator(checkpoint, encoder=StubEncoder(), enable_safety_check=True)


def test_kv_cache_output_equals_no_cache(gen):
    a = gen.generate("A person waves.", seconds=3, seed=1, use_cache=True)
    b = gen.generate("A person waves.", seconds=3, seed=1, use_cache=False)
    assert (a["motion"] - b["motion"]).abs().max() <= 1e-5
    assert torch.equal(a["actions"], b["actions"])


def test_one_prompt_rolls_out_on_one_thread_and_restores_the_count(gen, monkeypatch):
    """A single prompt's per-frame steps are too small for intra-op threads (they spin on a shared
    CPU and stalled a studio generation): the rollout runs on one, the caller's count comes back."""
    torch.set_num_threads(2)
    seen, steps = [], gen._rollout_steps  # where the per-frame steps run
    monkeypatch.setattr(gen, "_rollout_steps", lambda *a: (seen.append(torch.get_num_threads()), steps(*a))[1])
    gen.generate("A person walks.", seconds=0.4, seed=1)
    assert seen == [1] and torch.get_num_threads() == 2


def test_deterministic_for_a_seed(gen):
    a = gen.generate("A person jumps.", seconds=2, seed=7, temperature=0.01)
    b = gen.generate("A person jumps.", seconds=2, seed=7, temperature=0.01)
    c = gen.generate("A person jumps.", seconds=2, seed=8, temperature=0.01)
    assert torch.equal(a["motion"], b["motion"]) and not torch.equal(a["motion"], c["motion"])


def test_output_is_a_valid_sample_with_safety(gen):
    out = gen.generate("A person walks to the right.", seconds=2)
    assert out["frames"] == 50 and out["motion"].shape == (50, 48)
    sample = {"description": out["prompt"], "motion": out["motion"], "actions": out["actions"],
              "physics": out["physics"]}
    assert validate_sample(sample) == []  # snapped to a connected skeleton
    assert set(out["safety"]) >= {"is_safe", "overall_score", "issues"}
    ok, result = gen.check_motion_safety(out["motion"], out["physics"])
    assert ok == result.is_safe


@pytest.mark.parametrize("prompt,seconds,frames,note", [
    ("", 1, 25, "empty prompt"), (None, 1, 25, "prompt was None"), (42, 1, 25, "prompt was a int"),
    ("A person waves.", 0, 1, "gives no frame"), ("A person waves.", -3, 1, "gives no frame"),
    ("A person waves.", 1e9, int(MAX_SECONDS * 25), "clamped"), ("A person waves.", float("nan"), int(MAX_SECONDS * 25), "clamped"),
    ("A person waves.", "soon", 125, "not a number"),
])
def test_odd_inputs_have_defined_behaviour(gen, prompt, seconds, frames, note):
    if frames > 500:  # a minute of frames is slow on CPU in a unit test: check the plan, not the motion
        gen_short = gen.generate(prompt, seconds=seconds, fps=1)
        assert gen_short["frames"] == int(MAX_SECONDS) and any(note in n for n in gen_short["notes"])
        return
    out = gen.generate(prompt, seconds=seconds)
    assert out["frames"] == frames and any(note in n for n in out["notes"]), out["notes"]


def test_report_ratios_gap_and_rating(gen, tmp_path):
    suites = ["robustness_baseline", "adversarial_edge_cases", "adversarial_injection"]
    report = run_adversarial_eval("unused", suites, tmp_path / "eval", generator=gen)
    saved = json.loads((tmp_path / "eval" / "adversarial_report.json").read_text())
    assert saved["overall"] == report["overall"]
    res = report["results"]
    base = [r["is_safe"] for r in res if r["suite"] == "robustness_baseline"]
    adv = [r["is_safe"] for r in res if r["suite"].startswith("adversarial_")]
    b, a = sum(base) / len(base), sum(adv) / len(adv)
    o = report["overall"]
    assert o["baseline_safe_ratio"] == pytest.approx(b) and o["adversarial_safe_ratio"] == pytest.approx(a)
    assert o["robustness_gap"] == pytest.approx(b - a)
    assert o["ratings"]["robustness_gap"] == ("Good" if b - a < 0.15 else "Acceptable" if b - a <= 0.30 else "Poor")
    n_cases = sum(len(load_suites()[s].prompts) for s in suites)
    assert len(res) == n_cases
    for r in res:
        motion = load_dataset(r["motion_path"])[0]["motion"].numpy()
        assert r["physical"]["ground_penetration_depth"] == pytest.approx(max(-motion[:, 1::2].min(), 0.0), abs=1e-5)
        assert set(r["physical"]) == {"foot_skating_ratio", "mean_jerk", "bone_length_variation",
                                      "ground_penetration_ratio", "ground_penetration_depth", "shoulder_gap",
                                      "hip_gap", "joint_limit_ratio", "anatomy_violation_ratio"}
        for issue in r["issues"]:
            assert {"type", "severity", "description", "frame_range"} <= set(issue)
    assert report["suites"]["adversarial_edge_cases"]["prompts"] == len(load_suites()["adversarial_edge_cases"].prompts)
    base_jerk = [r["physical"]["mean_jerk"] for r in res if r["suite"] == "robustness_baseline"]
    assert report["suites"]["robustness_baseline"]["physical"]["mean_jerk"] == pytest.approx(np.mean(base_jerk))


def test_ratings_follow_table_7_5():
    assert rate("baseline_safe_ratio", 0.96) == "Good" and rate("baseline_safe_ratio", 0.85) == "Acceptable"
    assert rate("baseline_safe_ratio", 0.5) == "Poor" and rate("adversarial_safe_ratio", 0.71) == "Good"
    assert rate("adversarial_safe_ratio", 0.3) == "Poor" and rate("robustness_gap", 0.2) == "Acceptable"


def test_shipped_suites_hold_the_spec_eight():
    s = load_suites()
    for name in ("adversarial_long_prompts", "adversarial_contradictory", "adversarial_extreme_actions",
                 "adversarial_ambiguous", "adversarial_repetition_inducing", "adversarial_edge_cases",
                 "adversarial_injection", "robustness_baseline"):
        assert name in s and s[name].prompts
    assert any(not x.adversarial and x.name != "robustness_baseline" for x in s.values())  # everyday suites too


@pytest.mark.parametrize("text,needle", [
    ("version: 1\n", "suites: expected a mapping"),
    ("suites:\n  a:\n    prompts: []\n", "suites.a.prompts: expected a non-empty list"),
    ("suites:\n  a:\n    prompts:\n      - {id: x, text: hi}\n", "suites.a.prompts[0].seconds: missing"),
    ("suites:\n  a:\n    prompts:\n      - {id: x, text: hi, seconds: soon}\n", "suites.a.prompts[0].seconds: expected a number"),
    ("suites:\n  a:\n    prompts:\n      - {id: x, text: a, seconds: 1}\n      - {id: x, text: b, seconds: 1}\n", "duplicate ids"),
])
def test_malformed_suite_files_name_the_key(tmp_path, text, needle):
    p = tmp_path / "s.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        load_suites(p)


def test_unknown_suite_is_a_clear_error(gen, tmp_path):
    with pytest.raises(ConfigError, match="unknown suite"):
        run_adversarial_eval("unused", ["no_such_suite"], tmp_path, generator=gen)


def test_generations_are_judged_on_y0_so_a_sunk_clip_penetrates(gen):
    """Issue 31 item 10: a generated clip's floor is y = 0 by construction; a figure sunk 0.6 m in a
    steady pose is ground penetration for the generator's critic, though "auto" (data from elsewhere)
    reads that floor from the clip and lets it be."""
    from stickgen_core.critic import SafetyCritic

    clip = gen.generate("A person waves.", seconds=3, seed=1)["motion"].numpy()
    sunk = np.repeat(clip[:1], len(clip), axis=0)
    sunk[..., 1::2] -= 0.6
    assert gen.critic.config.ground == "zero"
    _, verdict = gen.check_motion_safety(sunk)
    assert "ground_penetration" in [i.type for i in verdict.issues]
    assert "ground_penetration" not in [i.type for i in SafetyCritic().evaluate(sunk).issues]
