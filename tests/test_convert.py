"""Converters on the real fixtures (BVH captures and reference Stick-Gen clips in ../shared/data, when
present) and on generated ones (everything else runs on a fresh clone); import_paths."""

from pathlib import Path

import numpy as np
import pytest

from stickgen_core.annotate import annotate_samples
from stickgen_core.convert import convert_file, import_paths
from stickgen_core.curation import CurationConfig, apply_thresholds
from stickgen_core.errors import DatasetError
from stickgen_core.schema import ACTION_INDEX
from tests.bvh_fixtures import write_bvh

DATA = Path(__file__).parents[2] / "shared" / "data"
# the real captures by name: a fresh clone skips them (marked), CI with ../shared fails if one went missing
BVH = ("cmu_131_01_walk", "cmu_131_02_walk", "mocapbank_sample", "walk01")


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.shared_data(f"bvh/{n}.bvh")) for n in BVH])
def test_bvh_converts_stands_on_the_floor_and_is_kept(name):
    path = DATA / "bvh" / f"{name}.bvh"
    (s,) = convert_file(path, "bvh")
    t = annotate_samples([s])
    assert t.valid[0] and t.fps[0] == 25
    assert abs(t.ground_y[0]) <= 0.02
    assert 1.5 <= t.figure_height[0] / 0.93 <= 1.9
    assert apply_thresholds(t, CurationConfig()).pretrain[0]
    if "walk" in path.stem:
        assert s["actions"][0] == ACTION_INDEX["walk"]


def test_bvh_joint_with_an_unknown_name_is_placed_by_the_topology(tmp_path):
    text = write_bvh(tmp_path / "w.bvh", "mixamo", frames=30).read_text().replace("mixamorig:LeftUpLeg", "Thing1")
    (tmp_path / "odd.bvh").write_text(text)
    (s,) = convert_file(tmp_path / "odd.bvh", "bvh")
    assert s["meta"]["rig_joints"]["l_hip"] == "Thing1" and s["meta"]["rig_placed_by"]["l_hip"] == "topology"
    with pytest.raises(DatasetError, match=r"broken.bvh: MOTION holds"):
        (tmp_path / "broken.bvh").write_text(text.rsplit("\n", 3)[0])
        convert_file(tmp_path / "broken.bvh", "bvh")


def test_humanml3d_joints_convert(tmp_path):
    (j := tmp_path / "new_joints").mkdir()
    (tmp_path / "texts").mkdir()
    walk = write_bvh(tmp_path / "walk.bvh", "cmu", frames=120, fps=120, units="m")
    s = convert_file(walk, "bvh", target_height=None)[0]
    # a HumanML3D-shaped file from the walk: SMPL slots filled from the BVH's joints
    from stickgen_core.convert.bvh import read_bvh
    from stickgen_core.convert.humanml3d import SMPL22
    from stickgen_core.schema import JOINT_NAMES
    tr = read_bvh(walk)
    arr = np.zeros((len(tr.joints), 22, 3))
    for k, n in enumerate(JOINT_NAMES):
        arr[:, SMPL22[n]] = tr.joints[:, k]
    np.save(j / "000001.npy", arr[::6])
    (tmp_path / "texts" / "000001.txt").write_text("a person walks forward#a/DET#0.0#0.0\n")
    (out,) = convert_file(j / "000001.npy", "humanml3d")
    assert out["description"] == "a person walks forward" and out["meta"]["source_fps"] == 20
    assert s["motion"].shape[1] == 48


def test_import_paths_reports_bad_files_and_keeps_good_ones(tmp_path):
    (tmp_path / "broken.bvh").write_text("HIERARCHY\nROOT Hips\n{\nMOTION\n")
    good = write_bvh(tmp_path / "good.bvh", "rokoko", frames=40)
    res = import_paths([good, tmp_path / "broken.bvh", tmp_path / "missing.bvh"], tmp_path / "cache")
    assert len(res.samples_files) == 1 and len(res.problems) == 2
    assert sorted(Path(f).name for f, _ in res.problems) == ["broken.bvh", "missing.bvh"]
    assert all(Path(f).name in msg for f, msg in res.problems)  # each message names its file
    again = import_paths([good], tmp_path / "cache")  # cached: same file, not rewritten
    assert again.samples_files == res.samples_files


@pytest.mark.shared_data("reference/ref_sample_60.pt")
def test_every_moving_reference_clip_reaches_pretraining():
    from stickgen_core.annotate import annotate
    t = annotate(DATA / "reference" / "ref_sample_60.pt", use_cache=False)
    r = apply_thresholds(t, CurationConfig())
    static = t.padded_frames.to_numpy() == 0  # exact repeats from frame 0 keep their full length
    import torch
    raw = torch.load(DATA / "reference" / "ref_sample_60.pt", weights_only=True)
    frozen_from_start = np.array([bool((s["motion"] == s["motion"][0]).all()) for s in raw])
    assert r.pretrain[~frozen_from_start].all()
    assert not r.pretrain[frozen_from_start].any()
    assert (t.padded_frames[~frozen_from_start] > 0).any() and static[frozen_from_start].all()


@pytest.mark.shared_data("reference/ref_sample_60.pt")
def test_exported_reference_clips_stand_on_y_zero_without_padding(tmp_path):
    import torch

    from stickgen_core.annotate import annotate
    from stickgen_core.curation import export_splits
    from stickgen_core.metrics import ClipInput, compute_metrics
    t = annotate(DATA / "reference" / "ref_sample_60.pt", use_cache=False)
    assert (t.ground_y < -0.2).all()  # its floor sits well below y = 0
    r = apply_thresholds(t, CurationConfig())
    paths = export_splits(t, r, tmp_path / "out", CurationConfig())
    out = torch.load(paths["pretrain"], weights_only=True)
    out = out["samples"] if isinstance(out, dict) else out
    assert len(out) == int(r.pretrain.sum()) > 0
    floors = compute_metrics([ClipInput(s["motion"].numpy(), ground=None) for s in out])["ground_y"]
    assert np.abs(floors).max() < 0.02  # the data contract's floor: y = 0
    assert all(s["meta"]["floor_moved_to_zero_from"] < -0.2 for s in out)
    assert all(not bool((s["motion"][-1] == s["motion"][-2]).all()) for s in out)  # padding trimmed


@pytest.mark.shared_data("reference/ref_sample_60.pt", "reference/ref_sample_60_v1.pt")
def test_reference_v1_scenes_convert_as_its_own_pipeline_does():
    import torch
    v1 = convert_file(DATA / "reference" / "ref_sample_60_v1.pt", "reference")
    v3 = torch.load(DATA / "reference" / "ref_sample_60.pt", weights_only=True)  # the reference's own v1 -> v3
    assert len(v1) == len(v3) == 60
    for ours, theirs in zip(v1, v3):
        assert ours["motion"].shape == theirs["motion"].shape == (250, 48)
        assert torch.allclose(ours["motion"], theirs["motion"], atol=1e-5)  # actor 0, segment for segment
        assert torch.equal(ours["actions"], theirs["actions"])
        assert ours["meta"]["actors_in_file"] == 3 and ours["meta"]["origin_format"] == "reference v1"
    kept = apply_thresholds(annotate_samples(v1), CurationConfig()).pretrain
    moving = np.array([not bool((s["motion"] == s["motion"][0]).all()) for s in v3])
    assert (kept == moving).all()  # the same 45 clips reach pretraining as from the reference's v3 file
