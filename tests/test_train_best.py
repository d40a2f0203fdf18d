"""After a resume or a container restart the trainer never replaces a better best checkpoint with a
worse one: the best val loss is stored in every checkpoint, restored, and compared at the boundary
(equal is not better; one ulp lower is)."""

import json
import math
import shutil

import pytest
import torch

from stickgen_core.io import atomic_torch_save
from stickgen_core.train.checkpoint import BEST, LATEST, recorded_best

from .test_train import cfg_with, data_file, run  # noqa: F401 - data_file is a fixture


def patch(path, **changes):
    ck = torch.load(path, weights_only=True)
    ck.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del ck[key]
    atomic_torch_save(ck, path)


def epoch_val(folder, epoch):
    rows = [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines()]
    return [r["val_total"] for r in rows if r["type"] == "epoch" and r["epoch"] == epoch][-1]


@pytest.fixture(scope="module")
def stopped(tmp_path_factory, data_file):  # noqa: F811
    """A run stopped inside epoch 1 (epoch 0 validated, its best written), and what epoch 1 scores on resume."""
    base = tmp_path_factory.mktemp("best") / "stopped"
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] >= 7  # 5 batches an epoch: inside epoch 1

    run(cfg_with(), data_file, base, stop=stop)
    assert torch.load(base / "checkpoints" / BEST, weights_only=True)["epoch"] == 0
    control = base.parent / "control"
    shutil.copytree(base, control)
    patch(control / "checkpoints" / LATEST, best_val_loss=float("inf"))
    patch(control / "checkpoints" / BEST, best_val_loss=float("inf"), val_loss=float("inf"))
    run(cfg_with(), data_file, control, resume=str(control / "checkpoints" / LATEST))
    return base, epoch_val(control, 1)


def resumed_best_epoch(stopped, tmp_path, data_file, latest_best, file_best):  # noqa: F811
    base, _ = stopped
    folder = tmp_path / "r"
    shutil.copytree(base, folder)
    patch(folder / "checkpoints" / LATEST, best_val_loss=latest_best)
    patch(folder / "checkpoints" / BEST, best_val_loss=file_best, val_loss=file_best)
    run(cfg_with(), data_file, folder, resume=str(folder / "checkpoints" / LATEST))
    return torch.load(folder / "checkpoints" / BEST, weights_only=True)["epoch"]


def test_the_stored_best_is_restored_at_the_boundary(stopped, tmp_path, data_file):  # noqa: F811
    _, v1 = stopped
    inf = float("inf")
    assert resumed_best_epoch(stopped, tmp_path / "equal", data_file, v1, inf) == 0  # equal: not better, kept
    assert resumed_best_epoch(stopped, tmp_path / "past", data_file, math.nextafter(v1, inf), inf) == 1  # one ulp worse best: replaced


def test_a_better_best_file_wins_over_the_latests_record(stopped, tmp_path, data_file):  # noqa: F811
    """A latest without the key (or written before a crash) must not let epoch 1 overwrite a better best file."""
    _, v1 = stopped
    assert resumed_best_epoch(stopped, tmp_path / "file", data_file, None, v1) == 0
    assert resumed_best_epoch(stopped, tmp_path / "file-past", data_file, None, math.nextafter(v1, float("inf"))) == 1


def test_recorded_best_reads_what_is_usable(tmp_path):
    assert recorded_best(tmp_path / "none.pth") == float("inf")
    atomic_torch_save({"best_val_loss": float("nan"), "val_loss": 0.5}, tmp_path / "b.pth")
    assert recorded_best(tmp_path / "b.pth") == 0.5
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    assert recorded_best(tmp_path / "junk.pth") == float("inf")
