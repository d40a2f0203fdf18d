"""Annotation table and cache; export of the splits; the `stickgen curate` command."""

import json

import numpy as np
import pytest
import torch
import yaml

import stickgen_core.annotate as annotate_mod
from stickgen_core.annotate import AnnotateOptions, annotate, annotate_samples
from stickgen_core.cli import main
from stickgen_core.curation import CurationConfig, apply_thresholds, export_splits
from stickgen_core.errors import DatasetError
from stickgen_core.io import load_dataset, save_dataset
from stickgen_core.synth import SynthConfig, generate_dataset


@pytest.fixture(scope="module")
def samples():
    return generate_dataset(60, seed=2, config=SynthConfig(defect_rate=0.4, max_seconds=6))


def test_table_has_one_row_per_clip_with_identity_and_metrics(samples):
    t = annotate_samples(samples, file="f.pt")
    assert len(t) == len(samples)
    for col in ("clip_id", "file", "index", "source", "description", "n_frames", "dominant_action",
                "frozen_ratio", "jitter_ratio", "mean_jerk", "explosion_frames", "foot_sliding_ratio",
                "min_y", "penetration_frames", "limb_length_cv", "max_velocity", "max_acceleration",
                "camera_stability", "n_actions", "artifact_score", "realism_score", "base_quality"):
        assert col in t, col
    assert t["n_frames"].tolist() == [len(s["motion"]) for s in samples]
    assert set(t["dominant_action"]) <= set(annotate_mod.ACTIONS)


def test_invalid_samples_become_rows_with_problems_and_inputs_stay_untouched(samples):
    data = [dict(s) for s in samples[:5]]
    data[2] = dict(data[2], motion=data[2]["motion"][:, :40])
    data.append({"description": "no motion"})
    keys = [set(d) for d in data]
    t = annotate_samples(data)
    assert t["valid"].tolist() == [True, True, False, True, True, False]
    assert "[T, 48]" in t.loc[2, "problems"] and "motion" in t.loc[5, "problems"]
    assert np.isnan(t.loc[2, "artifact_score"])
    assert [set(d) for d in data] == keys
    r = apply_thresholds(t, CurationConfig())
    assert r.reason_labels()[2] == "invalid_sample"


def test_base_quality_from_sample_or_annotations(samples):
    data = [dict(samples[0], quality_score=0.4), dict(samples[1], annotations={"quality_score": 0.7}), samples[2]]
    t = annotate_samples(data)
    assert t["base_quality"].tolist()[:2] == [0.4, 0.7] and np.isnan(t["base_quality"][2])
    r = apply_thresholds(t, CurationConfig())
    assert r.quality[0] < 0.45 and r.quality[1] < 0.75


def test_cache_hit_for_unchanged_file_and_recompute_for_changed(tmp_path, samples, monkeypatch):
    path = tmp_path / "d.pt"
    save_dataset(samples, path)
    calls = []
    real = annotate_mod.compute_metrics
    monkeypatch.setattr(annotate_mod, "compute_metrics", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = annotate(path)
    n_calls = len(calls)
    assert n_calls > 0
    again = annotate(path)
    assert len(calls) == n_calls  # nothing recomputed
    assert again.drop(columns="file").equals(first.drop(columns="file"))
    save_dataset(samples[:30], path)  # the file changes
    changed = annotate(path)
    assert len(calls) > n_calls and len(changed) == 30
    other = annotate(path, options=AnnotateOptions(ground="estimate"))  # other settings, other cache
    assert len(other) == 30


def test_export_writes_splits_stats_and_thresholds(tmp_path, samples):
    src = tmp_path / "src.pt"
    save_dataset(samples, src)
    table = annotate(src)
    cfg = CurationConfig(normalize_height=True, smooth=True)
    r = apply_thresholds(table, cfg)
    paths = export_splits(table, r, tmp_path / "out", cfg)
    pre = load_dataset(paths["pretrain"])
    sft = load_dataset(paths["sft"])
    assert len(pre) == r.stats["pretrain"] and len(sft) == r.stats["sft"]
    assert "curation" in pre[0]["annotations"]
    stats = json.loads(paths["stats"].read_text())
    assert stats["config"]["normalize_height"] is True and stats["pretrain"] == len(pre)
    assert yaml.safe_load(paths["thresholds"].read_text())["data_curation"]["min_quality_sft"] == 0.8
    original = load_dataset(src)
    assert torch.equal(original[0]["motion"], samples[0]["motion"])  # the source was not touched


def test_export_refuses_a_file_changed_since_annotation(tmp_path, samples):
    src = tmp_path / "src.pt"
    save_dataset(samples, src)
    table = annotate(src)
    r = apply_thresholds(table, CurationConfig())
    save_dataset(samples[::-1], src)
    with pytest.raises(DatasetError, match="changed since it was annotated"):
        export_splits(table, r, tmp_path / "out", CurationConfig())
    assert not (tmp_path / "out" / "pretrain_data.pt").exists()


def test_export_of_samples_annotated_in_this_process_equals_a_fresh_read(tmp_path, samples, monkeypatch):
    """The CLI hands export the samples annotate read: the splits are the same as from reading the file again,
    the file is not read a second time, and a file rewritten in between is read and checked as before."""
    import stickgen_core.curation.export as export_mod

    src = tmp_path / "src.pt"
    save_dataset(samples, src)
    loaded = {}
    table = annotate(src, use_cache=False, loaded=loaded)
    assert list(loaded) == [str(src)] and len(loaded[str(src)][1]) == len(samples)
    r = apply_thresholds(table, CurationConfig())
    export_splits(table, r, tmp_path / "fresh", CurationConfig())
    reads = []
    monkeypatch.setattr(export_mod, "load_torch_file", lambda f: reads.append(f))
    export_splits(table, r, tmp_path / "kept", CurationConfig(), loaded=loaded)
    assert reads == []
    for name in ("pretrain_data.pt", "sft_data.pt"):
        a, b = load_dataset(tmp_path / "fresh" / name), load_dataset(tmp_path / "kept" / name)
        assert len(a) == len(b) > 0
        assert all(x["description"] == y["description"] and torch.equal(x["motion"], y["motion"])
                   and x["annotations"] == y["annotations"] for x, y in zip(a, b))
    monkeypatch.undo()
    save_dataset(samples[::-1], src)   # rewritten after annotation: the kept copy is stale
    with pytest.raises(DatasetError, match="changed since it was annotated"):
        export_splits(table, r, tmp_path / "stale", CurationConfig(), loaded=loaded)


def test_curate_command(tmp_path, samples, capsys):
    src = tmp_path / "a.pt"
    save_dataset(samples, src)
    cfg = tmp_path / "c.yaml"
    CurationConfig(min_quality_sft=0.9).save_to_yaml(cfg)
    out = tmp_path / "cur"
    assert main(["curate", "--inputs", str(src), "--output-dir", str(out), "--config", str(cfg),
                 "--min-quality-pretrain", "0.6", "--no-prefer-mocap", "--source-weight", "synthetic=0.9"]) == 0
    text = capsys.readouterr().out
    assert "pretrain" in text and "dropped (first rule failed)" in text
    stats = json.loads((out / "curation_stats.json").read_text())
    assert stats["config"]["min_quality_pretrain"] == 0.6 and stats["config"]["min_quality_sft"] == 0.9
    assert stats["config"]["prefer_mocap"] is False and stats["config"]["source_weights"]["synthetic"] == 0.9
    assert main(["curate", "--inputs", str(src), "--output-dir", str(out), "--min-quality-sft", "3"]) == 2
    assert "min_quality_sft" in capsys.readouterr().err
