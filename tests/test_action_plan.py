"""The text -> action plan: fitted with training, fed to generation in place of the model's guesses."""

import numpy as np
import pytest
import torch

from stickgen_core.config import load_config, resolve_sources
from stickgen_core.inference import InferenceGenerator
from stickgen_core.io import atomic_torch_save
from stickgen_core.model.action_plan import CHECKPOINT_KEY, bin_targets, fit_action_planner
from stickgen_core.schema import NUM_ACTIONS, action_index
from stickgen_core.synth import SynthConfig, generate_dataset
from stickgen_core.train import train
from stickgen_core.train.checkpoint import BEST, load_checkpoint, save_checkpoint
from tests.test_motion_eval import WordsEncoder, embedded

ONE_ACTION = SynthConfig(multi_actor_rate=0.0, actions=("jump", "sit", "wave", "walk"), min_seconds=3, max_seconds=4)


def _single(samples):
    return [s for s in samples if len(set(s["actions"].tolist())) == 1]


def test_the_planner_names_the_action_of_unseen_texts():
    train_set = embedded(_single(generate_dataset(100, seed=21, config=ONE_ACTION)))
    held = embedded(_single(generate_dataset(40, seed=22, config=ONE_ACTION)))
    planner, acc = fit_action_planner(torch.stack([s["embedding"] for s in train_set]),
                                      [s["actions"] for s in train_set], NUM_ACTIONS)
    assert acc > 0.95
    plan = planner.plan(torch.stack([s["embedding"] for s in held]), [75] * len(held))
    truth = torch.tensor([int(s["actions"][0]) for s in held])
    majority = torch.bincount(truth).max().item() / len(truth)
    right = (plan == truth[:, None]).float().mean().item()
    assert right > 0.9 > majority + 0.3, (right, majority)


def test_plans_follow_each_rows_length_and_the_order_of_its_actions():
    a = torch.tensor([action_index("walk")] * 40 + [action_index("sit")] * 60)
    targets = bin_targets([a], 8)
    assert targets[0, :3].eq(action_index("walk")).all() and targets[0, 4:].eq(action_index("sit")).all()
    text = torch.randn(1, 16)
    planner, _ = fit_action_planner(text, [a], NUM_ACTIONS, steps=200)
    plan = planner.plan(text.repeat(2, 1), [100, 20])
    assert plan.shape == (2, 100)
    assert plan[0, :30].eq(action_index("walk")).all() and plan[0, 60:].eq(action_index("sit")).all()
    assert plan[1, :6].eq(action_index("walk")).all() and plan[1, 12:20].eq(action_index("sit")).all()


def test_fitting_leaves_the_global_random_stream_alone():
    text, actions = torch.randn(8, 16), [torch.zeros(10, dtype=torch.long)] * 8
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    fit_action_planner(text, actions, NUM_ACTIONS, steps=5)
    assert torch.equal(torch.rand(4), expected)


@pytest.fixture(scope="module")
def planned_checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("plan")
    samples = embedded(_single(generate_dataset(64, seed=5, config=ONE_ACTION)))
    atomic_torch_save({"sequences": samples}, root / "d.pt")
    cfg = load_config("configs/small.yaml", overrides={
        "model": {"d_model": 32, "n_layers": 1, "n_heads": 2, "ffn_dim": 64, "dropout": 0.0},
        "training": {"epochs": 2, "batch_size": 8, "max_frames": 50, "warmup_steps": 2}})
    train(cfg, resolve_sources(cfg, str(root / "d.pt"), env={}), root / "run")
    return root / "run" / "checkpoints" / BEST, root / "d.pt"


def test_generation_follows_the_plan_and_without_one_is_as_before(planned_checkpoint, tmp_path):
    ck_path, _ = planned_checkpoint
    ck = load_checkpoint(ck_path)
    assert CHECKPOINT_KEY in ck  # training fitted it
    planned = InferenceGenerator(ck_path, encoder=WordsEncoder())
    unplanned = InferenceGenerator(ck_path, encoder=WordsEncoder(), plan_actions=False)
    save_checkpoint(tmp_path / "old.pth", {k: v for k, v in ck.items() if k != CHECKPOINT_KEY})
    old = InferenceGenerator(tmp_path / "old.pth", encoder=WordsEncoder())
    assert planned.planner is not None and unplanned.planner is None and old.planner is None
    prompts = ["A person jumps.", "A person waves."]
    a, b = (g.generate_many(prompts, [40, 40]) for g in (unplanned, old))
    assert all(torch.equal(x, y) for x, y in zip(a, b))  # no plan: exactly today's generation
    seen = []
    model = planned.model
    hook = model.action_emb.register_forward_hook(lambda _m, inp, _out: seen.append(inp[0].flatten().tolist()))
    planned.generate_many(prompts, [40, 40])
    hook.remove()
    fed = np.array([x for step in seen for x in step])
    named = {action_index("jump"), action_index("wave")}
    assert set(fed.tolist()) <= named  # the plan, not the model's guesses, is its action input


def test_fit_planner_adds_a_plan_to_a_checkpoint_trained_without_one(planned_checkpoint, tmp_path):
    from stickgen_core.cli import main

    ck_path, data = planned_checkpoint
    ck = load_checkpoint(ck_path)
    save_checkpoint(tmp_path / "old.pth", {k: v for k, v in ck.items() if k != CHECKPOINT_KEY})
    assert main(["fit-planner", str(tmp_path / "old.pth"), "--data", str(data)]) == 0
    refit = load_checkpoint(tmp_path / "old.pth")
    assert CHECKPOINT_KEY in refit
    assert InferenceGenerator(tmp_path / "old.pth", encoder=WordsEncoder()).planner is not None
    assert main(["fit-planner", str(tmp_path / "old.pth"), "--data", str(tmp_path / "missing.pt")]) == 2
