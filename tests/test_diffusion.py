"""Diffusion refinement (spec §5): config checks, a denoiser that removes jitter, joint and second-stage
training, LoRA on it, refinement at generation (switchable), and the disabled module changing nothing."""

from pathlib import Path

import pytest
import torch

from stickgen_core.config import load_config
from stickgen_core.errors import ConfigError
from stickgen_core.inference import InferenceGenerator
from stickgen_core.io import load_dataset, load_torch_file
from stickgen_core.model import MotionRefiner, StickFigureTransformer
from stickgen_core.synth import SynthConfig, generate_dataset
from stickgen_core.train.checkpoint import BEST, LATEST, has_refiner, load_checkpoint
from tests.test_inference_eval import StubEncoder, train_tiny_checkpoint
from tests.test_train import DIFFUSION, EMB, cfg_with, data_file, run  # noqa: F401 (data_file is a fixture)

REFERENCE = Path(__file__).parent / "fixtures" / "pre_diffusion_reference.pt"


def jitter(m: torch.Tensor) -> float:
    """Mean size of the second difference over frames (what jerk measures, without the fps)."""
    return float((m[..., 2:, :] - 2 * m[..., 1:-1, :] + m[..., :-2, :]).abs().mean())


# --------------------------------------------------------------------------- config
@pytest.mark.parametrize("section, key, match", [
    ({"diffusion": {"enabled": True}}, None, "loss_weights.diffusion: expected > 0"),
    ({"loss_weights": {"diffusion": 0.5}}, None, "diffusion.enabled: false but loss_weights.diffusion"),
    ({"diffusion": {"schedule": "quadratic"}}, None, "diffusion.schedule: expected one of cosine, linear, got 'quadratic'"),
    ({"diffusion": {"sampling_steps": 50, "timesteps": 10}}, None, "diffusion.sampling_steps: expected at most"),
    ({"diffusion": {"window": 1}}, None, r"diffusion.window: expected a value in \[2"),
    ({"diffusion": {"learning_rate": 0}}, None, "diffusion.learning_rate: expected a value"),
    ({"diffusion": {"d_model": 30, "n_heads": 4}}, None, "diffusion.d_model: 30 must split"),
    ({"diffusion": {"freeze_transformer": True}}, None, "diffusion.freeze_transformer: true needs"),
    ({"diffusion": {"steps": 3}}, None, "diffusion.steps: unknown key"),
])
def test_bad_diffusion_settings_name_the_key(section, key, match):
    with pytest.raises(ConfigError, match=match):
        load_config("configs/small.yaml", overrides=section)


# --------------------------------------------------------------------------- the denoiser itself
def test_refiner_learns_to_remove_jitter():
    """A refiner trained on (clean clip + noise -> clean clip) gives back a steadier clip than it was handed,
    and stays near it: the refinement smooths, it does not invent another motion."""
    torch.manual_seed(0)
    clips = generate_dataset(24, seed=4, config=SynthConfig(multi_actor_rate=0.0, defect_rate=0.0,
                                                            min_seconds=2, max_seconds=2))
    clean = torch.stack([c["motion"][:48].float() for c in clips])
    text = torch.randn(len(clips), 8)
    cfg = load_config(overrides={"diffusion": {"enabled": True, "d_model": 64, "n_layers": 2, "window": 24,
                                               "timesteps": 50, "sampling_steps": 4, "coarse_noise": 0.03},
                                 "loss_weights": {"diffusion": 1.0}}).diffusion
    refiner = MotionRefiner(cfg, 8)
    opt = torch.optim.AdamW(refiner.parameters(), lr=2e-3)
    mask = torch.ones(clean.shape[:2], dtype=torch.bool)
    for _ in range(200):
        loss = refiner.loss(clean, clean, text, mask)  # the coarse input gets the noise inside
        opt.zero_grad()
        loss.backward()
        opt.step()
    noisy = clean + 0.02 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = refiner.refine(noisy, text, torch.Generator().manual_seed(2))
    assert jitter(out) < 0.5 * jitter(noisy)
    assert (out - clean).pow(2).mean() < (noisy - clean).pow(2).mean()


def test_long_clips_are_refined_in_overlapping_windows_that_blend_seamlessly():
    cfg = load_config(overrides={"diffusion": {"enabled": True, "d_model": 32, "n_layers": 1, "n_heads": 2,
                                               "window": 16}, "loss_weights": {"diffusion": 1.0}}).diffusion
    refiner = MotionRefiner(cfg, 8).eval()
    coarse = torch.randn(2, 53, 48)
    with torch.no_grad():  # a fresh refiner predicts "no correction": every window gives the coarse motion back
        assert torch.allclose(refiner.refine(coarse, torch.randn(2, 8), torch.Generator().manual_seed(0)), coarse,
                              atol=1e-5)
        torch.nn.init.normal_(refiner.out.weight, std=0.1)
        a = refiner.refine(coarse, torch.randn(2, 8), torch.Generator().manual_seed(0))
        b = refiner.refine(coarse[:1], torch.randn(1, 8), torch.Generator().manual_seed(0))
    assert a.shape == coarse.shape and torch.isfinite(a).all() and b.shape == (1, 53, 48)


# --------------------------------------------------------------------------- training
def test_joint_training_carries_the_refiner_in_its_checkpoints(tmp_path, data_file):
    run(cfg_with(**DIFFUSION), data_file, tmp_path / "r")
    ck = load_checkpoint(tmp_path / "r" / "checkpoints" / LATEST)
    assert ck["config"]["diffusion"]["enabled"] and ck["config"]["diffusion"]["d_model"] == 32
    assert any(k.startswith("refiner.") for k in ck["model_state_dict"])
    assert "diffusion" in ck["metrics"]  # the validation loss has the term
    groups = ck["optimizer_state_dict"]["param_groups"]
    assert sorted({g["lr"] for g in groups}) != [] and len(groups) == 4  # transformer and refiner, each decay / no decay
    assert has_refiner(tmp_path / "r" / "checkpoints" / LATEST)


def test_second_stage_trains_only_the_refiner_on_a_frozen_transformer(tmp_path, data_file):
    run(cfg_with(training={"epochs": 1}), data_file, tmp_path / "pre")
    pre = tmp_path / "pre" / "checkpoints" / LATEST
    stage2 = cfg_with(training={"epochs": 1}, **{**DIFFUSION, "diffusion": {**DIFFUSION["diffusion"],
                                                                              "freeze_transformer": True}})
    with pytest.raises(ConfigError, match="pass --init_from"):
        run(stage2, data_file, tmp_path / "none")
    run(stage2, data_file, tmp_path / "s2", init=str(pre))
    before, after = load_checkpoint(pre)["model_state_dict"], load_checkpoint(tmp_path / "s2" / "checkpoints" / LATEST)[
        "model_state_dict"]
    assert all(torch.equal(before[k], after[k]) for k in before)  # the transformer did not move
    fresh = StickFigureTransformer(stage2.model, EMB, stage2.diffusion).state_dict()
    moved = [k for k in after if k.startswith("refiner.") and not torch.equal(after[k], fresh[k])]
    assert moved  # the refiner did


def test_lora_can_target_the_refiner(tmp_path, data_file):
    run(cfg_with(training={"epochs": 1}, **DIFFUSION), data_file, tmp_path / "pre")
    lora = cfg_with(training={"epochs": 1, "stage": "sft"}, **DIFFUSION,
                    lora={"enabled": True, "rank": 2, "alpha": 4, "target_modules": ["refiner"]})
    run(lora, data_file, tmp_path / "sft", init=str(tmp_path / "pre" / "checkpoints" / LATEST))
    ck = load_checkpoint(tmp_path / "sft" / "checkpoints" / LATEST)
    assert ck["lora_state_dict"] and all(".refiner." in k for k in ck["lora_state_dict"])
    gen = InferenceGenerator(tmp_path / "sft" / "checkpoints" / LATEST, device="cpu", encoder=StubEncoder())
    assert gen.has_refiner and gen.generate("A person waves.", seconds=1)["refined"]


# --------------------------------------------------------------------------- generation
@pytest.fixture(scope="module")
def refined_checkpoint(tmp_path_factory):
    return train_tiny_checkpoint(tmp_path_factory.mktemp("refined"), **DIFFUSION)


def test_generation_refines_by_default_and_can_be_switched_off(refined_checkpoint):
    gen = InferenceGenerator(refined_checkpoint, device="cpu", encoder=StubEncoder())
    off = InferenceGenerator(refined_checkpoint, device="cpu", encoder=StubEncoder(), refine=False)
    a = gen.generate("A person waves.", seconds=3, seed=1)
    b = gen.generate("A person waves.", seconds=3, seed=1, refine=False)
    c = off.generate("A person waves.", seconds=3, seed=1)
    assert a["refined"] and not b["refined"] and not c["refined"]
    assert torch.equal(b["motion"], c["motion"]) and not torch.allclose(a["motion"], b["motion"])
    assert torch.equal(a["motion"], gen.generate("A person waves.", seconds=3, seed=1)["motion"])  # seeded
    many = gen.generate_many(["A person waves."], [75], seed=1)
    assert many[0].shape == (75, 48)


def test_asking_a_plain_checkpoint_to_refine_is_a_note_not_an_error(tmp_path):
    ck = train_tiny_checkpoint(tmp_path)
    gen = InferenceGenerator(ck, device="cpu", encoder=StubEncoder())
    assert not gen.has_refiner and not has_refiner(ck)
    out = gen.generate("A person waves.", seconds=1, refine=True)
    assert not out["refined"] and any("no diffusion refinement module" in n for n in out["notes"])
    assert not gen.generate("A person waves.", seconds=1)["refined"] and \
        not any("refinement" in n for n in gen.generate("A person waves.", seconds=1)["notes"])


def test_generate_cli_no_refine(refined_checkpoint, tmp_path, capsys, monkeypatch):
    from stickgen_core import inference
    from stickgen_core.cli import main

    monkeypatch.setattr(inference, "InferenceGenerator",
                        lambda *a, **k: InferenceGenerator(*a, **k, encoder=StubEncoder()))
    assert main(["generate", "A person waves.", "--checkpoint", str(refined_checkpoint), "--seconds", "1",
                 "--out", str(tmp_path / "a.pt")]) == 0
    assert "diffusion-refined" in capsys.readouterr().out
    assert main(["generate", "A person waves.", "--checkpoint", str(refined_checkpoint), "--seconds", "1",
                 "--out", str(tmp_path / "b.pt"), "--no-refine"]) == 0
    assert "diffusion-refined" not in capsys.readouterr().out
    a, b = load_dataset(tmp_path / "a.pt"), load_dataset(tmp_path / "b.pt")
    assert not torch.equal(a[0]["motion"], b[0]["motion"])


# --------------------------------------------------------------------------- disabled = as before
def test_disabled_diffusion_reproduces_the_model_before_it(tmp_path):
    """``diffusion.enabled: false`` (weight 0): the same initial weights and random stream, the same trained
    weights and the same motion as the code before the refiner existed (fixture written at that commit
    by ``tests/fixtures/make_pre_diffusion_reference.py``; tolerances cover other CPUs' arithmetic)."""
    ref = load_torch_file(REFERENCE)
    torch.manual_seed(5)
    cfg = load_config("configs/small.yaml", overrides={"model": {"d_model": 64, "n_layers": 2, "n_heads": 4,
                                                                 "ffn_dim": 128}})
    fresh = StickFigureTransformer(cfg.model, 32, cfg.diffusion)
    assert torch.equal(torch.rand(4), ref["after_init"])  # nothing else drew from the generator
    assert {k: float(v.double().sum()) for k, v in fresh.state_dict().items()} == ref["init_sums"]
    ck = train_tiny_checkpoint(tmp_path, fresh=True)  # this test checks the training itself
    trained = load_checkpoint(ck)["model_state_dict"]
    assert trained.keys() == ref["trained_sums"].keys()
    for k, v in trained.items():
        assert float(v.double().sum()) == pytest.approx(ref["trained_sums"][k], rel=1e-4, abs=1e-4), k
    # the action plan (issue 14) came after the fixture; without it generation is the old one
    motion = InferenceGenerator(ck, device="cpu", encoder=StubEncoder(), plan_actions=False).generate(
        "A person waves.", seconds=2, seed=1, temperature=0.01)["motion"]
    assert (motion - ref["motion"]).abs().max() <= 1e-3
