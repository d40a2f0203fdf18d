"""Tiny embedded data and a tiny job spec for the jobs tests."""

import json

import pytest
import torch

from stickgen_core.io import atomic_torch_save
from stickgen_core.synth import SynthConfig, generate_dataset
from stickgen_core.jobs import JobSpec

EMB = 16
TINY = {"model": {"d_model": 32, "n_layers": 1, "n_heads": 2, "ffn_dim": 64},
        "training": {"max_frames": 32, "warmup_steps": 2, "log_interval": 1, "val_fraction": 0.25, "seed": 3,
                     "device": "cpu"}}


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    samples = generate_dataset(24, seed=0, config=SynthConfig(multi_actor_rate=0.0, max_seconds=2))
    g = torch.Generator().manual_seed(1)
    for s in samples:
        s["embedding"] = torch.randn(EMB, generator=g)
    path = tmp_path_factory.mktemp("jobsdata") / "pretrain_data_embedded.pt"
    atomic_torch_save({"sequences": samples, "embedding_model": "test", "embedding_dim": EMB}, path)
    return path


@pytest.fixture
def tiny_spec(tiny_data):
    def make(**changes):
        base = dict(stage="pretrain", config="small", data=str(tiny_data), epochs=400, batch_size=4,
                    overrides=json.loads(json.dumps(TINY)), backend_settings={"nice": 15})
        base.update(changes)
        return JobSpec(**base)
    return make


@pytest.fixture(autouse=True)
def _no_parallel_env(monkeypatch):
    monkeypatch.delenv("STICKGEN_MAX_LOCAL_RUNS", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield
