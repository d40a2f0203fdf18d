"""Schema versions: old files and checkpoints of ours and reference files load with the right labels."""

from pathlib import Path

import pytest
import torch

from stickgen_core.errors import SampleValidationError
from stickgen_core.io import load_dataset, save_dataset
from stickgen_core.schema import ACTION_INDEX, ACTIONS, SCHEMA_VERSION
from stickgen_core.train.checkpoint import load_checkpoint
from stickgen_core.model.loading import model_from_checkpoint

LEGACY = Path(__file__).parent / "fixtures" / "legacy_v1"  # written by this project's code of 2b6ebd0
REFERENCE = Path(__file__).parents[2] / "shared" / "data" / "reference" / "ref_sample_60.pt"


def test_old_dataset_of_ours_is_migrated_by_name():
    ds = load_dataset(LEGACY / "dataset_v1.pt")
    for s in ds:
        first = s["meta"]["timeline"][0]["action"]
        want = {"climb": "climbing", "throw": "throwing"}.get(first, first)
        assert ACTIONS[int(s["actions"][0])] == want
        assert s["schema_version"] == SCHEMA_VERSION


def test_migrated_file_saved_again_is_not_migrated_twice(tmp_path):
    ds = load_dataset(LEGACY / "dataset_v1.pt")
    save_dataset(ds.samples, tmp_path / "v2.pt")
    again = load_dataset(tmp_path / "v2.pt")
    assert [int(s["actions"][0]) for s in again] == [int(s["actions"][0]) for s in ds]


def test_old_checkpoint_is_migrated_and_predicts_the_same_actions():
    raw = torch.load(LEGACY / "checkpoint_v1.pth", weights_only=True)
    ck = load_checkpoint(LEGACY / "checkpoint_v1.pth")
    assert ck["schema_version"] == SCHEMA_VERSION and ck["config"]["model"]["num_actions"] == 64
    old_w = raw["model_state_dict"]["action_head.weight"]
    new_w = ck["model_state_dict"]["action_head.weight"]
    assert torch.equal(new_w[ACTION_INDEX["walk"]], old_w[2])
    assert torch.equal(new_w[ACTION_INDEX["throwing"]], old_w[15])
    model, cfg = model_from_checkpoint(ck)
    assert model.action_head.out_features == 64


@pytest.mark.shared_data("reference/ref_sample_60.pt")
def test_reference_file_keeps_its_indices_and_names_agree():
    ds = load_dataset(REFERENCE)
    for s in ds:
        names = set(s["annotations"]["action_summary"]["distribution"])
        assert {ACTIONS[int(i)] for i in torch.unique(s["actions"])} == names


def test_names_that_disagree_with_indices_are_an_error_naming_the_sample(tmp_path, clean_sample):
    s = dict(clean_sample)
    del s["schema_version"]
    s["annotations"] = {"action_summary": {"distribution": {"dance": 1.0}}}
    torch.save([clean_sample, s], tmp_path / "bad.pt")
    with pytest.raises(SampleValidationError, match=r"bad.pt sample 1: .*do not match.*dance"):
        load_dataset(tmp_path / "bad.pt")


def test_unversioned_unnamed_index_beyond_16_is_an_error(tmp_path, clean_sample):
    s = dict(clean_sample)
    del s["schema_version"]
    s["actions"] = torch.full_like(s["actions"], 30)
    torch.save([s], tmp_path / "old.pt")
    with pytest.raises(SampleValidationError, match=r"old.pt sample 0: action index 30 is outside"):
        load_dataset(tmp_path / "old.pt")
