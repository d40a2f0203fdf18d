"""Non-finite values in training and judging, and checkpoint checks on load (the logged loss after a
resume is checked in test_train.test_resume_equals_straight_run)."""

import argparse
import json

import numpy as np
import pytest
import torch
import yaml

from stickgen_core.critic import SafetyCritic
from stickgen_core.errors import DatasetError, TrainingDivergedError
from stickgen_core.train import trainer as trainer_module
from stickgen_core.train.__main__ import run as train_cli_run
from stickgen_core.train.checkpoint import LATEST, load_checkpoint
from tests.test_train import cfg_with, data_file, run  # noqa: F401 - data_file is a fixture



def _nan_after(n_calls, monkeypatch):
    real = trainer_module.compute_losses
    calls = {"n": 0}

    def losses(model, batch, weights, tc=None):
        calls["n"] += 1
        terms = real(model, batch, weights, tc)
        if calls["n"] > n_calls:
            terms["total"] = terms["total"] * float("nan")
        return terms

    monkeypatch.setattr(trainer_module, "compute_losses", losses)


def test_non_finite_loss_fails_the_run_and_keeps_the_good_checkpoint(tmp_path, data_file, monkeypatch):
    cfg = tmp_path / "tiny.yaml"
    doc = cfg_with().to_dict()
    cfg.write_text(yaml.safe_dump(doc))
    args = argparse.Namespace(config=str(cfg), data_path=str(data_file), run_dir=str(tmp_path / "run"),
                              checkpoint_dir=None, resume_from=None, init_from=None)
    assert train_cli_run(args) == 0
    latest = tmp_path / "run" / "checkpoints" / LATEST
    good = latest.read_bytes()
    _nan_after(2, monkeypatch)  # the resumed run's third batch turns NaN
    args.resume_from = str(latest)
    doc["training"]["epochs"] = 4
    cfg.write_text(yaml.safe_dump(doc))
    with pytest.raises(TrainingDivergedError) as err:
        train_cli_run(args)
    msg = str(err.value)
    assert "non-finite loss" in msg and "epoch 2" in msg and "step" in msg and "clips " in msg
    ids = msg.split("clips ")[1].split(")")[0].split(", ")
    assert len(ids) >= 1 and all(len(i) == 16 for i in ids if i != "...")
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["state"] == "failed" and "non-finite loss" in status["error"]
    assert latest.read_bytes() == good  # never saved over the good checkpoint


def test_nan_checkpoint_is_refused_on_load(tmp_path, data_file):
    run(cfg_with(training={"epochs": 1}), data_file, tmp_path / "r")
    ck = torch.load(tmp_path / "r" / "checkpoints" / LATEST, weights_only=True)
    name = next(iter(ck["model_state_dict"]))
    ck["model_state_dict"][name] = ck["model_state_dict"][name] * float("inf")
    torch.save(ck, tmp_path / "inf.pth")
    with pytest.raises(DatasetError, match=f"inf.pth: weight '{name}' holds NaN/inf"):
        load_checkpoint(tmp_path / "inf.pth")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_critic_rejects_non_finite_motion(clean_sample, value):
    m = clean_sample["motion"].clone()
    m[5:9, 3] = value
    r = SafetyCritic().evaluate(m)
    assert not r.is_safe and r.overall_score == 0.0
    assert r.issues[0].type == "non_finite" and r.issues[0].frame_ranges == [(5, 9)]
    everything = SafetyCritic().evaluate(np.full((40, 48), value, dtype=np.float32))
    assert not everything.is_safe
