"""CurationSession: the Curate page's state without Qt. A threshold move gives the counts a fresh
``apply_thresholds`` gives (only the moved rule recomputed), events fire once per change, bad values
leave the session as it was, and a script drives a whole curation through it."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stickgen_core.curation import CurationConfig, apply_thresholds
from stickgen_core.curation.session import PRETRAIN_ONLY, SFT, CurationSession
from stickgen_core.errors import ConfigError
from stickgen_core.workspace import Workspace

SOURCES = ("synthetic", "mocap", "video_estimate", "mocap_like")


def metrics_table(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """A metrics table as ``annotate`` makes one (the columns curation reads), without any clip file."""
    rng = np.random.default_rng(seed)
    t = pd.DataFrame({
        "clip_id": [f"c{i}" for i in range(n)],
        "source": pd.Categorical(rng.choice(SOURCES, n)),
        "dominant_action": pd.Categorical(rng.choice([f"a{i}" for i in range(8)], n)),
        "valid": rng.random(n) > 0.02,
        "n_frames": rng.integers(10, 600, n).astype(float),
        "artifact_score": rng.random(n), "realism_score": rng.random(n), "camera_stability": rng.random(n),
        "base_quality": rng.random(n),
    })
    t.loc[rng.choice(n, 20, replace=False), "realism_score"] = np.nan  # missing metrics
    t.loc[5, "clip_id"] = t.loc[4, "clip_id"]                          # a duplicate
    return t


def same_result(a, b) -> None:
    for name in ("pretrain", "sft", "pretrain_reason", "sft_reason", "quality"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.stats == b.stats


@pytest.fixture
def session() -> CurationSession:
    s = CurationSession()
    s.set_table(metrics_table(), ["(generated)"])
    return s


def test_a_threshold_move_gives_the_counts_of_a_fresh_apply_thresholds(session):
    seen = []
    session.result_changed.connect(seen.append)
    session.set_threshold("min_quality_pretrain", 0.7)
    fresh = apply_thresholds(session.table, CurationConfig(min_quality_pretrain=0.7))
    assert len(seen) == 1 and seen[0] is session.result
    same_result(session.result, fresh)
    assert session.counts() == {k: fresh.stats[k] for k in ("total", "pretrain", "sft", "dropped")}
    codes = session.status_codes()
    assert (codes == SFT).sum() == fresh.stats["sft"]
    assert (codes == PRETRAIN_ONLY).sum() == fresh.stats["pretrain"] - fresh.stats["sft"]


@pytest.mark.parametrize("field, column, keeps_at_value", [
    ("min_frames", "n_frames", True), ("max_frames", "n_frames", True),
    ("max_artifact_score", "artifact_score", True), ("min_realism_pretrain", "realism_score", True)])
def test_a_clip_exactly_at_a_threshold_is_kept_and_one_step_past_is_dropped(field, column, keeps_at_value):
    """The session's kept masks follow the boundary both ways (a mask computed for one value is never
    reused for the next)."""
    table = metrics_table(50)
    table["valid"] = True
    table[["artifact_score", "realism_score", "base_quality"]] = [0.1, 0.9, 1.0]
    table["n_frames"] = 100.0
    value = float(table.loc[0, column] if field not in ("min_frames", "max_frames") else 100)
    s = CurationSession(config=CurationConfig(min_quality_pretrain=0.0))
    s.set_table(table, ["t"])
    if field in ("min_frames", "max_frames"):
        s.set_config(dataclasses.replace(s.config, min_frames=1, max_frames=1000))
        s.set_threshold(field, int(value))
        assert s.result.pretrain[0], f"{field} = {value}: the clip at the value was dropped"
        s.set_threshold(field, int(value) + (1 if field == "min_frames" else -1))
    else:
        s.set_threshold(field, value)
        assert s.result.pretrain[0], f"{field} = {value}: the clip at the value was dropped"
        past = np.nextafter(value, 0.0 if field == "max_artifact_score" else 1.0)
        s.set_threshold(field, float(past))
    assert not s.result.pretrain[0], f"{field} one step past the clip's {value}: the clip was kept"


def test_a_move_recomputes_only_the_rule_it_moved(session):
    masks = session.prepared.pretrain_masks
    before = dict(masks.computed)
    session.set_threshold("min_frames", 40)
    changed = {k: v - before.get(k, 0) for k, v in masks.computed.items() if v != before.get(k, 0)}
    assert changed == {"too_short": 1}
    before = dict(masks.computed)
    session.set_threshold("synthetic_quality_penalty", 0.3)  # quality moves: the two rules that read it
    changed = {k: v - before.get(k, 0) for k, v in masks.computed.items() if v != before.get(k, 0)}
    assert changed == {"missing_metrics": 1, "low_quality": 1}


def test_any_sequence_of_moves_equals_a_fresh_apply_thresholds_each_time():
    """The kept masks and balancing never go stale: 60 random moves over every setting that changes the
    splits, each compared with a table prepared afresh."""
    rng = random.Random(3)
    table = metrics_table(1500, seed=1)
    s = CurationSession()
    s.set_table(table, ["t"])
    moves = {
        "min_quality_pretrain": lambda: round(rng.uniform(0, 1), 2), "min_quality_sft": lambda: round(rng.uniform(0, 1), 2),
        "min_realism_pretrain": lambda: round(rng.uniform(0, 1), 2), "min_realism_sft": lambda: round(rng.uniform(0, 1), 2),
        "max_artifact_score": lambda: round(rng.uniform(0, 1), 2),
        "min_camera_stability_sft": lambda: round(rng.uniform(0, 1), 2),
        "min_frames": lambda: rng.randint(1, 200), "max_frames": lambda: rng.randint(300, 700),
        "balance_max_fraction": lambda: round(rng.uniform(0.05, 1), 2),
        "max_source_fraction": lambda: round(rng.uniform(0.05, 1), 2),
        "synthetic_quality_penalty": lambda: round(rng.uniform(0, 1), 2),
        "default_source_weight": lambda: round(rng.uniform(0, 1), 2),
        "balance_by_source": lambda: rng.random() < 0.5, "prefer_mocap": lambda: rng.random() < 0.5,
        "seed": lambda: rng.randint(0, 5),
        "source_weights": lambda: {"mocap": round(rng.uniform(0, 1), 2), "synthetic": 1.0},
    }
    for _ in range(60):
        name = rng.choice(sorted(moves))
        s.set_threshold(name, moves[name]())
        same_result(s.result, apply_thresholds(table, s.config))


def test_a_bad_value_raises_naming_the_key_and_changes_nothing(session):
    events, result, config = [], session.result, session.config
    session.result_changed.connect(events.append)
    session.config_changed.connect(events.append)
    with pytest.raises(ConfigError, match=r"data_curation\.min_quality_sft: .*\[0, 1\], got 1\.5"):
        session.set_threshold("min_quality_sft", 1.5)
    with pytest.raises(ConfigError, match="data_curation.min_quality: unknown setting"):
        session.set_threshold("min_quality", 0.5)
    assert events == [] and session.result is result and session.config is config


def test_events_follow_the_table_the_selection_and_forgetting_the_last_file(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    s = CurationSession(ws)
    got: list[tuple[str, object]] = []
    for name in ("table_changed", "result_changed", "selection_changed", "files_changed"):
        getattr(s, name).connect(lambda *a, n=name: got.append((n, a[0] if a else None)))
    outside = tmp_path / "elsewhere.pt"
    s.want([str(outside)])
    s.set_table(metrics_table(30), [str(outside)])
    assert [n for n, _ in got] == ["files_changed", "table_changed", "files_changed", "result_changed"]
    got.clear()
    s.select(3)
    s.select(3)  # the same row again: no event
    assert got == [("selection_changed", 3)] and s.selected_clip()["clip_id"] == "c3"
    with pytest.raises(IndexError, match="clip row 30: the table has 30 rows"):
        s.select(30)
    got.clear()
    s.forget(str(outside))
    assert s.table is None and s.result is None and s.selected is None
    assert ("table_changed", None) in got and ("result_changed", None) in got
    assert ws.manifest() == {"external": [], "hidden": []}  # remembered on want, let go on forget


def test_the_workspace_layout_lives_in_the_core(tmp_path):
    ws = Workspace.open(tmp_path / "ws")
    assert {p.name for p in ws.root.iterdir()} >= {"datasets", "curated", "runs", "reports"}
    assert (ws.runs_dir, ws.reports_dir, ws.curated_dir, ws.datasets_dir) == tuple(
        ws.root / n for n in ("runs", "reports", "curated", "datasets"))
    assert ws.thresholds_path == ws.root / "curation.yaml" and ws.manifest_path == ws.root / "workspace.json"


def test_thresholds_save_into_the_workspace_and_load_back(tmp_path):
    s = CurationSession(Workspace.open(tmp_path / "ws"))
    s.set_threshold("min_realism_sft", 0.72)
    path = s.save_thresholds()
    assert path == s.workspace.thresholds_path
    other = CurationSession()
    events = []
    other.config_changed.connect(events.append)
    assert other.load_thresholds(path).min_realism_sft == 0.72
    assert events == [other.config] and other.config == s.config
    with pytest.raises(ConfigError, match="no path given and the session has no workspace"):
        other.save_thresholds()


def test_a_script_curates_a_workspace_end_to_end(tmp_path):
    from stickgen_core.io import load_dataset, save_dataset
    from stickgen_core.synth import SynthConfig, generate_dataset

    ws = Workspace.open(tmp_path / "ws")
    path = ws.datasets_dir / "clips.pt"
    save_dataset(generate_dataset(40, seed=2, config=SynthConfig(defect_rate=0.3, max_seconds=4)), path)
    s = CurationSession(ws)
    written = []
    s.exported.connect(written.append)
    s.load_datasets([str(path)])
    s.set_threshold("min_quality_pretrain", 0.6)
    counts = s.counts()
    assert counts["total"] == 40 and 0 < counts["sft"] <= counts["pretrain"] < 40
    paths = s.export()
    assert written == [paths] and s.last_export == paths
    assert len(load_dataset(paths["pretrain"])) == counts["pretrain"]
    assert len(load_dataset(paths["sft"])) == counts["sft"]
    assert set(s.existing_exports()) >= {"pretrain_data.pt", "sft_data.pt", "curation_stats.json"}
    assert Path(paths["sft"]).parent == ws.curated_dir          # no folder given: the workspace's curated/
    s.export(tmp_path / "elsewhere")
    assert s.export_dir() == tmp_path / "elsewhere"             # the next export's default: the last target
