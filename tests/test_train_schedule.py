"""The learning rate is a pure function of the step: warm-up then cosine, set before every optimizer
step, so a resumed run continues the schedule from ``global_step`` alone (no scheduler state to forget)."""

import json
import math

import pytest
import torch

from stickgen_core.train.checkpoint import LATEST, load_checkpoint
from stickgen_core.train.optim import LRSchedule, lr_factor

from .test_train import cfg_with, data_file, run  # noqa: F401 - data_file is a fixture

WARMUP, TOTAL, MIN = 4, 20, 0.1


@pytest.mark.parametrize(("step", "factor"), [
    (0, 1 / WARMUP),            # the first step already learns (a quarter of the peak)
    (WARMUP - 1, 1.0),          # the last warm-up step reaches the peak
    (WARMUP, 1.0),              # the cosine starts at the peak
    (TOTAL, MIN),               # and ends at min_lr_ratio of it
    (TOTAL + 7, MIN),           # past the end it stays there
])
def test_lr_factor_at_its_boundaries(step, factor):
    assert lr_factor(step, WARMUP, TOTAL, MIN) == pytest.approx(factor, abs=1e-12)


def test_lr_factor_between_boundaries():
    assert lr_factor(WARMUP + 1, WARMUP, TOTAL, MIN) < 1.0  # one step past the peak decays
    assert lr_factor(TOTAL - 1, WARMUP, TOTAL, MIN) > MIN  # one step before the end has not reached the floor
    half = (WARMUP + TOTAL) // 2  # cos(pi/2): halfway between peak and floor
    assert lr_factor(half, WARMUP, TOTAL, MIN) == pytest.approx(MIN + (1 - MIN) / 2)


def test_schedule_sets_every_group_from_its_own_peak():
    opt = torch.optim.AdamW([{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": 0.5},
                             {"params": [torch.nn.Parameter(torch.zeros(2))], "lr": 0.5}])
    LRSchedule((1e-3, 4e-4), WARMUP, TOTAL, MIN).apply(opt, WARMUP)
    assert [g["lr"] for g in opt.param_groups] == [1e-3, 4e-4]


def test_logged_lr_follows_the_schedule_of_the_step(tmp_path, data_file):
    """Every step line's lr is peak * lr_factor(step): warm-up to the peak, then cosine down."""
    cfg = cfg_with(training={"epochs": 3, "log_interval": 1, "warmup_steps": 3, "min_lr_ratio": 0.2,
                             "learning_rate": 2e-3})
    run(cfg, data_file, tmp_path / "r")
    runj = json.loads((tmp_path / "r" / "run.json").read_text())
    total = math.ceil(runj["clips"]["train"] / cfg.training.batch_size) * cfg.training.epochs
    lines = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    steps = [x for x in lines if x["type"] == "step"]
    assert [x["step"] for x in steps] == list(range(1, total + 1))
    for x in steps:
        assert x["lr"] == pytest.approx(2e-3 * lr_factor(x["step"], 3, total, 0.2), rel=1e-12), x["step"]
    # the last step was taken at the rate of step total-1; its optimizer state says so
    groups = load_checkpoint(tmp_path / "r" / "checkpoints" / LATEST)["optimizer_state_dict"]["param_groups"]
    assert groups[0]["lr"] == pytest.approx(2e-3 * lr_factor(total - 1, 3, total, 0.2), rel=1e-12)


def test_resume_ignores_a_stale_schedule_state(tmp_path, data_file):
    """A checkpoint whose scheduler_state_dict and optimizer learning rates are wrong (a schedule at
    step 0, a rate of 123) still resumes exactly like a straight run: the rate comes from global_step."""
    cfg = cfg_with()
    run(cfg, data_file, tmp_path / "straight")
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] >= 5  # inside epoch 1

    assert run(cfg, data_file, tmp_path / "split", stop=stop)["stopped"]
    latest = tmp_path / "split" / "checkpoints" / LATEST
    ck = torch.load(latest, weights_only=True)
    assert ck["global_step"] == 5 and ck["scheduler_state_dict"]["last_epoch"] == 5
    ck["scheduler_state_dict"] = {"last_epoch": 0, "base_lrs": [123.0], "_step_count": 1}
    for group in ck["optimizer_state_dict"]["param_groups"]:
        group["lr"] = 123.0
    torch.save(ck, latest)
    run(cfg_with(), data_file, tmp_path / "split", resume=str(latest))
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / LATEST)["model_state_dict"]
    b = load_checkpoint(latest)["model_state_dict"]
    assert max((a[k] - b[k]).abs().max().item() for k in a) <= 1e-6
