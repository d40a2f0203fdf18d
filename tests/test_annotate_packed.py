"""Annotation of a packed file from its columns equals the per-clip path, row for row (issue 33)."""

import numpy as np
import pandas as pd
import pytest
import torch

import stickgen_core.packed as packed
from stickgen_core.annotate import AnnotateOptions, annotate, annotate_samples
from stickgen_core.annotate_packed import annotate_packed_file
from stickgen_core.errors import SampleValidationError
from stickgen_core.io import clip_id, load_torch_file, samples_from_object
from stickgen_core.packed import write_packed
from stickgen_core.schema import NUM_ACTIONS, SCHEMA_VERSION
from stickgen_core.synth import SynthConfig, generate_dataset


def _padded(s: dict, moving: int, total: int) -> dict:
    """``s`` moving for ``moving`` frames, then its last moving frame repeated up to ``total``."""
    out = dict(s)
    for k in ("motion", "actions", "physics", "camera"):
        v = s[k][:moving]
        out[k] = torch.cat([v, v[-1:].expand(total - moving, *v.shape[1:])])
    return out


def _varied() -> list[dict]:
    """Clips of many lengths (1, 2, at and one step past the 25-frame motion boundary), frame rates,
    rigs (metres, centimetres, the reference's ~3-unit figure, two actors), missing fields, an old
    schema version, and invalid ones of every kind."""
    base = generate_dataset(30, seed=7, config=SynthConfig(defect_rate=0.5, multi_actor_rate=0.3, min_seconds=1.1,
                                                           max_seconds=4))
    out = []
    for i, s in enumerate(base):
        s = dict(s)
        if i % 5 == 1:
            s["fps"] = 30
        if i % 5 == 2:
            s["meta"] = dict(s["meta"], fps=60)
            s.pop("fps", None)
        if i % 7 == 3:
            s["motion"] = s["motion"] * 100.0  # centimetres
            s["physics"] = s["physics"] * 100.0
        if i % 7 == 4:
            s["motion"] = s["motion"] * 1.7  # the reference's ~3-unit figure
        if i % 6 == 5:
            for k in ("physics", "camera"):
                s.pop(k)
        if i % 8 == 6:
            s["actions"] = None
        if i % 9 == 2:
            s["quality_score"] = 0.25 + 0.01 * i
        out.append(s)
    one = base[0]
    lengths = [1, 2, 3]
    for n in lengths:  # edge lengths
        out.append({k: (v[:n] if k in ("motion", "actions", "physics", "camera") else v) for k, v in one.items()})
    for moving in (23, 24, 25, 26):  # content_length's min_motion (25 fps) boundary: trimmed or kept whole
        out.append(_padded(one, moving, 60))
    out.append(dict(base[1], embedding=torch.randn(8)))
    # schema 1 (the 16-action vocabulary): migrated, so measured from its decoded dict
    out.append(dict(base[2], schema_version=1, actions=base[2]["actions"] % 16))
    bad = []
    nan = base[3]["motion"].clone()
    nan[5, ..., 7] = float("nan")
    bad.append(dict(base[3], motion=nan))
    loose = base[4]["motion"].clone()
    loose[..., 12:16] += 0.5  # the upper arm off its elbow: not connected
    bad.append(dict(base[4], motion=loose))
    bad.append(dict(base[5], motion=base[5]["motion"][:, :40]))
    bad.append(dict(base[6], actions=torch.full_like(base[6]["actions"], NUM_ACTIONS)))
    bad.append(dict(base[7], physics=base[7]["physics"][:-1]))
    cam = base[8]["camera"].clone()
    cam[0, 0] = float("inf")
    bad.append(dict(base[8], camera=cam))
    bad.append(dict(base[9], fps=2000))
    bad.append(dict(base[10], meta=dict(base[10]["meta"], injected_defects="jitter")))
    bad.append(dict(base[11], description=None))
    bad.append(dict(base[12], embedding=torch.full((4,), float("nan"))))
    out += bad
    return out


def _ids(samples: list[dict]) -> list[str]:
    return [clip_id(s) if s.get("motion") is not None and s["motion"].shape[-1] == 48 else f"x{i}"
            for i, s in enumerate(samples)]


@pytest.fixture(scope="module")
def varied() -> list[dict]:
    return _varied()


def _both(path, options=AnnotateOptions()) -> tuple[pd.DataFrame, pd.DataFrame]:
    per_clip = annotate_samples(samples_from_object(load_torch_file(path), path), file=str(path), options=options)
    return per_clip, annotate_packed_file(path, options)


@pytest.mark.parametrize("ground", ["auto", "zero", "estimate"])
def test_columns_equal_the_per_clip_path_over_batches_and_chunks(tmp_path, varied, monkeypatch, ground):
    monkeypatch.setattr(packed, "ROWS_PER_BATCH", 7)  # many record batches, a short last one
    path = write_packed(varied, _ids(varied), tmp_path / "v.arrow")
    options = AnnotateOptions(ground=ground, chunk_frames=300)  # several metric chunks per batch
    per_clip, columnar = _both(path, options)
    pd.testing.assert_frame_equal(columnar, per_clip)
    assert (~per_clip["valid"]).sum() == 10 and per_clip["valid"].sum() == len(varied) - 10
    assert set(per_clip["n_frames"][:35]) >= {1, 2, 3}
    assert per_clip["padded_frames"].gt(0).any()  # the boundary clips were trimmed (or not) the same


def test_annotate_of_a_packed_file_and_of_its_pt_agree(tmp_path, varied):
    """The public entry point takes the columnar path for packed files; the ``.pt`` of the same clips
    (ids computed, not stored) gives the same numbers."""
    good = [s for s in varied[:37]]
    pt, arrow = tmp_path / "g.pt", tmp_path / "g.arrow"
    torch.save(good, pt)
    write_packed(good, _ids(good), arrow)
    a, b = annotate(pt, use_cache=False), annotate(arrow, use_cache=False)
    pd.testing.assert_frame_equal(a.drop(columns="file"), b.drop(columns="file"))


def test_an_unreadable_old_version_refuses_the_file_as_the_dict_path_does(tmp_path, varied):
    s = dict(varied[0], schema_version=SCHEMA_VERSION + 5)
    path = write_packed([varied[1], s], _ids([varied[1], s]), tmp_path / "new.arrow")
    with pytest.raises(SampleValidationError, match="sample 1: schema_version"):
        annotate(path, use_cache=False)


def test_a_sharded_set_is_annotated_per_shard_from_its_columns(tmp_path, varied):
    good = varied[:12]
    path = write_packed(good, _ids(good), tmp_path / "set", shard_size=5)
    t = annotate(path, use_cache=False)
    assert len(t) == 12 and t["file"].nunique() == 3 and t["index"].tolist() == [0, 1, 2, 3, 4] * 2 + [0, 1]
    whole = annotate_samples(good)
    cols = [c for c in whole.columns if c not in ("file", "index")]
    as_text = {"source": str, "dominant_action": str}  # concatenated shards' categories are their union
    pd.testing.assert_frame_equal(t[cols].reset_index(drop=True).astype(as_text), whole[cols].astype(as_text))
    assert np.isfinite(t["artifact_score"]).all()


def _curate(path, out, loaded):
    from stickgen_core.curation import CurationConfig, apply_thresholds, export_splits

    table = annotate(path, use_cache=False, loaded=loaded)
    cfg = CurationConfig()
    result = apply_thresholds(table, cfg)
    return export_splits(table, result, out, cfg, loaded=loaded), int((result.pretrain | result.sft).sum())


def test_export_of_a_packed_file_annotated_here_is_not_checked_twice_and_equals_the_pt_export(tmp_path, varied,
                                                                                               monkeypatch):
    import stickgen_core.curation.export as export_mod

    good = varied[:37]
    pt, arrow = tmp_path / "g.pt", tmp_path / "g.arrow"
    torch.save(good, pt)
    write_packed(good, _ids(good), arrow)
    a, _ = _curate(pt, tmp_path / "from-pt", {})
    checks = []
    real = export_mod.validate_sample
    monkeypatch.setattr(export_mod, "validate_sample", lambda s: checks.append(1) or real(s))
    b, chosen = _curate(arrow, tmp_path / "from-arrow", {})
    assert checks == []  # annotation checked every clip from the columns; the export trusts that
    for split in ("pretrain", "sft"):
        x, y = torch.load(a[split], weights_only=True), torch.load(b[split], weights_only=True)
        assert len(x) == len(y) > 0
        assert all(torch.equal(p["motion"], q["motion"]) and p["annotations"] == q["annotations"] for p, q in zip(x, y))
    _curate(arrow, tmp_path / "again", None)  # without ``loaded`` (a cached table) every chosen clip is checked
    assert len(checks) == chosen > 0


def test_a_packed_file_replaced_after_annotation_is_refused_by_the_export(tmp_path, varied):
    from stickgen_core.curation import CurationConfig, apply_thresholds, export_splits
    from stickgen_core.errors import DatasetError

    good = varied[:20]
    arrow = write_packed(good, _ids(good), tmp_path / "g.arrow")
    loaded: dict = {}
    table = annotate(arrow, use_cache=False, loaded=loaded)
    assert loaded[str(arrow)][1] is None
    changed = [dict(s, description=s["description"] + " (edited)") for s in good]
    write_packed(changed, _ids(changed), arrow, overwrite=True)  # a new file under the same name
    cfg = CurationConfig()
    with pytest.raises(DatasetError, match="changed since it was annotated"):
        export_splits(table, apply_thresholds(table, cfg), tmp_path / "out", cfg, loaded=loaded)
