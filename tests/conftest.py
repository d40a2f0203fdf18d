import os
from pathlib import Path

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


# ../shared/data beside the checkout: real captures and the reference clips. A fresh clone has none, so a
# test that truly needs one of its files says so with @pytest.mark.shared_data("bvh/walk01.bvh", ...) and
# is skipped there; CI has ../shared and sets STICKGEN_REQUIRE_SHARED_DATA=1 (.ci/run), so a file gone
# missing there fails the test instead of quietly skipping it.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
REQUIRE_SHARED_DATA = "STICKGEN_REQUIRE_SHARED_DATA"


def pytest_configure(config):
    config.addinivalue_line("markers", "shared_data(*paths): needs these files under ../shared/data (skipped "
                            f"without them; an error when {REQUIRE_SHARED_DATA}=1)")


def pytest_runtest_setup(item):
    for mark in item.iter_markers("shared_data"):
        missing = [p for p in (mark.args or ("",)) if not (SHARED_DATA / p).exists()]
        if missing:
            what = "needs " + ", ".join(f"../shared/data/{p}" for p in missing)
            if os.environ.get(REQUIRE_SHARED_DATA) == "1":
                pytest.fail(f"{what}, missing although {REQUIRE_SHARED_DATA}=1 (this machine should have it)",
                            pytrace=False)
            pytest.skip(what)
