"""Errors that say what failed: a bad checkpoint is a CheckpointError, a path that leaves its folder a
PathEscapeError; both stay DatasetErrors, so code that catches those still catches them."""

from __future__ import annotations

import pytest
import torch

from stickgen_core.errors import CheckpointError, DatasetError, PathEscapeError
from stickgen_core.paths import inside
from stickgen_core.train.checkpoint import load_checkpoint

GOOD = {"epoch": 0, "global_step": 1, "model_state_dict": {"w": torch.zeros(2)}, "config": {}}


@pytest.mark.parametrize("payload,needle", [
    ([1, 2], "expected a checkpoint dict"),
    ({"epoch": 0}, "not a Stick-Gen checkpoint"),
    ({**GOOD, "epoch": "three"}, "'epoch' should be a whole number"),
    ({**GOOD, "model_state_dict": {"w": torch.tensor([float("nan")])}}, "NaN/inf"),
    ({**GOOD, "schema_version": 99}, "newer than this stickgen reads"),
])
def test_a_bad_checkpoint_is_a_checkpoint_error_naming_the_file(tmp_path, payload, needle):
    path = tmp_path / "model_checkpoint_best.pth"
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=needle) as err:
        load_checkpoint(path)
    assert isinstance(err.value, DatasetError) and str(path) in str(err.value)


def test_a_weights_only_checkpoint_cannot_resume(tmp_path):
    path = tmp_path / "merged.pth"
    torch.save(GOOD, path)
    with pytest.raises(CheckpointError, match="cannot resume from it"):
        load_checkpoint(path, for_resume=True)


def test_a_stored_config_that_is_not_valid_is_a_checkpoint_error():
    from stickgen_core.model.loading import load_config_from_checkpoint

    with pytest.raises(CheckpointError, match="the config stored in it is not valid"):
        load_config_from_checkpoint({**GOOD, "config": {"model": {"d_model": "wide"}}}, "x.pth")


def test_a_path_out_of_its_folder_is_a_path_escape_error(tmp_path):
    with pytest.raises(PathEscapeError, match="resolves outside") as err:
        inside(tmp_path / "out", "..", "out2", "a.pt")
    assert isinstance(err.value, DatasetError)


def test_a_file_that_is_not_a_motion_evaluator_is_a_checkpoint_error(tmp_path):
    from stickgen_core.evaluation.evaluator import load_evaluator

    path = tmp_path / "evaluator.pth"
    torch.save(GOOD, path)
    with pytest.raises(CheckpointError, match="not a motion evaluator file"):
        load_evaluator(path)
