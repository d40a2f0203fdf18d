import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch

from stickgen_core.synth import SynthConfig, generate_dataset, generate_sample


@pytest.fixture
def clean_sample():
    """One valid single-actor synthetic sample."""
    cfg = SynthConfig(multi_actor_rate=0.0, actions=("walk",), min_seconds=3, max_seconds=4)
    return generate_sample(0, seed=1, config=cfg)


@pytest.fixture(scope="session")
def small_dataset():
    """40 clean clips and 40 with defects, generated once."""
    return generate_dataset(80, seed=7, config=SynthConfig(defect_rate=0.5, max_seconds=8))


@pytest.fixture
def dataset_file(tmp_path, small_dataset):
    path = tmp_path / "data.pt"
    torch.save(small_dataset, path)
    return path
