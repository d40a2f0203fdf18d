"""The reference Stick-Gen's configs load as ours: aliases, one warning, refusals, ``config show``, a run."""

import json
import logging
from pathlib import Path

import pytest
import torch

from stickgen_core.cli import main as cli_main
from stickgen_core.config import load_config, resolve_sources
from stickgen_core.config_reference import _reported
from stickgen_core.config_show import resolved_with_sources
from stickgen_core.errors import ConfigError
from stickgen_core.io import atomic_torch_save
from stickgen_core.parallax.writer import RenderSettings, render_dataset
from stickgen_core.synth import SynthConfig, generate_dataset
from stickgen_core.train import train
from stickgen_core.train.checkpoint import LATEST, load_checkpoint

REF_SMALL = Path(__file__).parent / "fixtures" / "reference_configs" / "small.yaml"


@pytest.fixture(autouse=True)
def _fresh_log_memory():
    _reported.clear()  # aliases are logged once per file and process; each test looks afresh


def test_reference_small_yaml_loads_with_its_values_under_our_names(caplog):
    with caplog.at_level(logging.INFO, logger="stickgen_core.config_reference"):
        cfg = load_config(REF_SMALL)
        load_config(REF_SMALL)  # a second load logs nothing more
    assert (cfg.model.n_heads, cfg.model.n_layers, cfg.model.d_model, cfg.model.motion_dim) == (8, 6, 256, 48)
    assert cfg.model.embedding_dim == 1024 and cfg.model.num_actions == 64
    assert (cfg.training.batch_size, cfg.training.grad_accum_steps, cfg.training.warmup_epochs) == (1, 64, 5)
    assert cfg.training.betas == [0.9, 0.999] and cfg.training.log_interval == 20 and cfg.training.device == "cpu"
    assert cfg.lora.enabled and cfg.lora.alpha == 16.0 and cfg.lora.target_modules == ["blocks", "pose_head"]
    assert (cfg.data_curation.max_source_fraction, cfg.data_curation.max_artifact_score) == (0.35, 0.4)
    assert cfg.data_curation.balance_by_source and cfg.data_curation.min_quality_sft == 0.8
    assert cfg.loss_weights.physics == 0.2 and cfg.data.use_parallax_augmentation
    # image conditioning (issue 29): the reference's parallax keys load as ours
    assert (cfg.data.parallax_root, cfg.data.parallax_sequence_length, cfg.data.parallax_sequence_stride) == \
        ("data/2.5d_parallax", 25, 8)
    assert cfg.data.use_parallax_sequences and cfg.data.parallax_conditioning_mode == "first_frame"
    assert cfg.model.image_encoder_arch == "cnn"  # lightweight_cnn, the reference's name for it
    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(infos) == 1 and "nhead→model.n_heads" in infos[0].getMessage()
    assert len(warnings) == 1  # every unused key in ONE warning
    text = warnings[0].getMessage()
    for key in ("metadata", "physics", "loss_weights.diff_physics", "data_generation", "cpu", "device.num_workers",
                "model.fusion_strategy", "logging.save_interval"):
        assert key in text


@pytest.mark.parametrize("yaml_text,needle", [
    ("model:\n  input_dim: 20\n  output_dim: 20\n", "model.input_dim: 20 is the reference's old v1 motion"),
    ("optimization:\n  optimizer: SGD\n", "optimization.optimizer: 'SGD' is not available"),
    ("data_curation:\n  merge:\n    filter_artifacts: false\n", "max_artifact_score: 1.0"),
    ("model:\n  nhead: 4\n  n_heads: 8\n", "keep one of them"),
    ("model:\n  nheads: 4\n", "model.nheads: unknown key"),  # a typo is still an error, not ignored
])
def test_reference_keys_that_would_change_training_are_errors(tmp_path, yaml_text, needle):
    p = tmp_path / "ref.yaml"
    p.write_text(yaml_text)
    with pytest.raises(ConfigError) as err:
        load_config(p)
    assert needle in str(err.value) and "ref.yaml" in str(err.value)


def test_parallax_keys_load_whether_or_not_the_root_exists(tmp_path, monkeypatch):
    """Image conditioning is implemented (stickgen_core/parallax): a missing root is training's error, not the config's."""
    monkeypatch.chdir(tmp_path)
    assert load_config(REF_SMALL).data.use_parallax_augmentation
    (tmp_path / "data" / "2.5d_parallax").mkdir(parents=True)
    assert load_config(REF_SMALL).data.use_parallax_augmentation


def test_config_show_names_the_source_of_each_value(tmp_path, capsys):
    child = tmp_path / "mine.yaml"
    child.write_text(f"extends: {REF_SMALL}\ntraining:\n  epochs: 2\n")
    env = {"RESUME_FROM_CHECKPOINT": "runs/a/latest.pth"}
    rows = {r.key: r for r in resolved_with_sources(child, data_path="clips.pt", env=env)}
    assert (rows["training.epochs"].value, rows["training.epochs"].source) == (2, "file")
    assert rows["model.n_heads"].source == "extends small.yaml" and rows["model.n_heads"].value == 8
    assert rows["training.resume_from"].source == "env RESUME_FROM_CHECKPOINT"
    assert (rows["data path of the run"].value, rows["data path of the run"].source) == ("clips.pt", "CLI --data_path")
    assert rows["model.ffn_dim"].source == "default"
    assert cli_main(["config", "show", str(child)]) == 0
    out = capsys.readouterr().out
    assert "extends small.yaml" in out and "model.nhead→model.n_heads" in out


def test_one_epoch_tiny_run_trains_from_reference_small_yaml(tmp_path):
    samples = generate_dataset(6, seed=5, config=SynthConfig(multi_actor_rate=0.0, max_seconds=2))
    g = torch.Generator().manual_seed(0)
    for s in samples:  # the reference embeds with a 1024-dim encoder; stand-in vectors of that size
        s["embedding"] = torch.randn(1024, generator=g)
    data = tmp_path / "tiny_embedded.pt"
    atomic_torch_save({"sequences": samples, "embedding_model": "test", "embedding_dim": 1024}, data)
    # the reference config conditions on parallax renders: render this data's (1 view, 2 frames, 64 px)
    root = tmp_path / "parallax"
    render_dataset(samples, root, RenderSettings(views=1, frames_per_view=2, size=64))
    cfg = load_config(REF_SMALL, overrides={"training": {"epochs": 1}, "data": {"parallax_root": str(root)}})
    summary = train(cfg, resolve_sources(cfg, str(data), env={}), tmp_path / "run")
    assert not summary.get("stopped")
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["state"] == "completed"
    ck = load_checkpoint(tmp_path / "run" / "checkpoints" / LATEST)
    assert ck["epoch"] == 0 and ck["global_step"] >= 1
    lora_b = [v for k, v in ck["lora_state_dict"].items() if "lora_B" in k]
    assert lora_b and any(v.abs().sum() > 0 for v in lora_b)  # LoRA B starts at zero: a step was taken
    assert ck["config"]["model"]["image_conditioning"] and any("image_encoder." in k for k in ck["model_state_dict"])
    assert ck["config"]["model"]["n_heads"] == 8 and ck["config"]["lora"]["target_modules"] == ["blocks", "pose_head"]
