"""Curation policy: defects are caught, clean clips kept, thresholds monotone, balancing honest."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stickgen_core.annotate import annotate_samples
from stickgen_core.curation import CurationConfig, apply_thresholds
from stickgen_core.curation.balance import water_fill
from stickgen_core.errors import ConfigError
from stickgen_core.synth import SynthConfig, generate_dataset


@pytest.fixture(scope="module")
def corpus():
    samples = generate_dataset(600, seed=11, config=SynthConfig(defect_rate=0.5, max_seconds=10))
    return samples, annotate_samples(samples)


def injected(samples, kind):
    return np.array([any(d["type"] == kind for d in s["meta"]["injected_defects"]) for s in samples])


def test_defects_are_caught_and_clean_clips_kept(corpus):
    samples, table = corpus
    r = apply_thresholds(table, CurationConfig())
    for kind in ("velocity_explosion", "frozen", "ground_penetration"):
        hit = injected(samples, kind)
        assert hit.sum() > 10
        assert not (r.sft & hit).any(), f"SFT kept a clip with injected {kind}"
    jitter = injected(samples, "jitter")
    assert (~r.pretrain[jitter]).mean() >= 0.9
    clean = np.array([not s["meta"]["injected_defects"] for s in samples])
    assert r.pretrain[clean].mean() >= 0.9
    assert r.sft[clean].mean() > 0.5
    too_short = injected(samples, "too_short")
    assert not r.pretrain[too_short].any()


def test_stats_add_up(corpus):
    _, table = corpus
    r = apply_thresholds(table, CurationConfig())
    s = r.stats
    assert s["pretrain"] + s["dropped"] == s["total"] == len(table)
    assert sum(s["dropped_by_reason"].values()) == s["dropped"]
    assert sum(s["not_in_sft_by_reason"].values()) == s["pretrain"] - s["sft"]
    assert sum(v["count"] for v in s["sft_actions"].values()) == s["sft"]
    assert sum(v["count"] for v in s["pretrain_sources"].values()) == s["pretrain"]
    assert not (r.sft & ~r.pretrain).any()
    labels = r.reason_labels()
    assert (labels == "pretrain+sft").sum() == s["sft"]


def test_apply_is_pure(corpus):
    _, table = corpus
    before = table.copy()
    apply_thresholds(table, CurationConfig(min_quality_sft=0.95))
    pd.testing.assert_frame_equal(table, before)


THRESHOLDS = {
    # field: (strategy, +1 when raising it keeps more clips, -1 when it keeps fewer)
    "min_quality_pretrain": (st.floats(0, 1), -1),
    "min_realism_pretrain": (st.floats(0, 1), -1),
    "max_artifact_score": (st.floats(0, 1), +1),
    "min_frames": (st.integers(1, 300), -1),
    "max_frames": (st.integers(300, 600), +1),
}
SFT_THRESHOLDS = {"min_quality_sft": -1, "min_realism_sft": -1, "min_camera_stability_sft": -1}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(sorted(THRESHOLDS)), data=st.data())
def test_every_pretrain_threshold_moves_counts_the_right_way(corpus, field, data):
    _, table = corpus
    strat, direction = THRESHOLDS[field]
    a, b = sorted([data.draw(strat), data.draw(strat)])
    lo = apply_thresholds(table, CurationConfig(**{field: a}))
    hi = apply_thresholds(table, CurationConfig(**{field: b}))
    if direction > 0:
        assert hi.stats["pretrain"] >= lo.stats["pretrain"]
    else:
        assert hi.stats["pretrain"] <= lo.stats["pretrain"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(sorted(SFT_THRESHOLDS)), a=st.floats(0, 1), b=st.floats(0, 1))
def test_every_sft_threshold_moves_candidates_the_right_way(corpus, field, a, b):
    _, table = corpus
    a, b = sorted([a, b])
    cand = lambda r: int((r.sft_reason == -1).sum() + (r.sft_reason >= 4).sum())  # noqa: E731 (before balancing)
    lo = apply_thresholds(table, CurationConfig(**{field: a}))
    hi = apply_thresholds(table, CurationConfig(**{field: b}))
    assert cand(hi) <= cand(lo)


def _table(actions, sources, quality=None, seed=0):
    n = len(actions)
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "clip_id": [f"c{i:06d}" for i in range(n)], "file": "x.pt", "index": np.arange(n),
        "source": pd.Categorical(sources), "dominant_action": pd.Categorical(actions),
        "valid": True, "base_quality": quality if quality is not None else rng.uniform(0.9, 1.0, n),
        "artifact_score": 0.0, "realism_score": 1.0, "camera_stability": 1.0, "n_frames": 100.0,
    })


def _fractions(r, table, col):
    counts = table.loc[r.sft, col].value_counts()
    return (counts / counts.sum()).to_dict()


def test_ninety_ten_source_case_keeps_promise_after_balancing():
    n = 1000
    sources = ["synthetic"] * 900 + ["mocap"] * 100
    actions = [f"a{i % 10}" for i in range(n)]
    table = _table(actions, sources)
    r = apply_thresholds(table, CurationConfig(max_source_fraction=0.4, synthetic_quality_penalty=0.0))
    frac = _fractions(r, table, "source")
    assert frac["synthetic"] <= 0.4 + 1e-9
    assert r.stats["sft"] >= 160  # all 100 mocap + up to 66 synthetic: the most that can hold
    assert r.sft[900:].all()       # prefer_mocap: every mocap clip is kept
    rep = r.stats["balance"]["sources"]
    assert not rep["feasible"] and rep["kept_whole"] == "mocap"  # two sources can't both be under 0.4


def test_single_source_cap_does_not_bind_and_is_reported():
    """The reference removed 60 % of a single-source dataset with its per-source cap."""
    table = _table([f"a{i % 8}" for i in range(500)], ["synthetic"] * 500)
    r = apply_thresholds(table, CurationConfig(synthetic_quality_penalty=0.0))
    assert r.stats["sft"] == 500
    rep = r.stats["balance"]["sources"]
    assert not rep["feasible"] and "only 1 source" in rep["note"] and rep["kept_whole"] == "synthetic"


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(0, 300), min_size=1, max_size=8),
       src=st.lists(st.integers(0, 300), min_size=1, max_size=4),
       f_act=st.floats(0.05, 1.0), f_src=st.floats(0.05, 1.0), seed=st.integers(0, 10))
def test_balancing_invariants(counts, src, f_act, f_src, seed):
    rng = np.random.default_rng(seed)
    n = sum(counts)
    if n == 0:
        return
    actions = np.repeat([f"a{i}" for i in range(len(counts))], counts)
    p = np.array(src, float) + 1
    sources = rng.choice([f"s{i}" for i in range(len(src))], size=n, p=p / p.sum())
    table = _table(list(actions), list(sources), seed=seed)
    cfg = CurationConfig(balance_max_fraction=f_act, max_source_fraction=f_src, seed=seed)
    r = apply_thresholds(table, cfg)
    again = apply_thresholds(table, cfg)
    assert np.array_equal(r.sft, again.sft)  # deterministic for a seed
    if r.stats["sft"] == 0:
        return
    for col, key, f in (("dominant_action", "actions", f_act), ("source", "sources", f_src)):
        whole = r.stats["balance"][key]["kept_whole"]
        fr = _fractions(r, table, col)
        assert all(v <= f + 1e-9 for g, v in fr.items() if g != whole), (fr, whole)
        if whole is None:
            assert r.stats["balance"][key]["feasible"]


def test_balancing_does_not_depend_on_row_order():
    table = _table([f"a{i % 3}" for i in range(300)], ["synthetic"] * 200 + ["mocap_like"] * 100, seed=3)
    cfg = CurationConfig(balance_max_fraction=0.5)
    r1 = apply_thresholds(table, cfg)
    shuffled = table.sample(frac=1.0, random_state=1).reset_index(drop=True)
    r2 = apply_thresholds(shuffled, cfg)
    assert set(table.clip_id[r1.sft]) == set(shuffled.clip_id[r2.sft])


def test_water_fill_is_optimal_on_small_cases():
    for counts, f, fixed in [([90, 10], 0.4, 0), ([5, 5, 5], 0.3, 0), ([100], 0.5, 0), ([3, 1, 1, 1], 0.3, 0),
                             ([90], 0.4, 10), ([7, 9], 0.3, 4), ([12, 3, 5], 0.25, 2)]:
        k = water_fill(np.array(counts), f, fixed)
        assert (k <= counts).all() and k.max() <= f * (fixed + k.sum()) + 1e-9
        best = 0  # brute force over every choice of per-group counts
        for combo in np.ndindex(*[c + 1 for c in counts]):
            c = np.array(combo)
            if c.max() <= f * (fixed + c.sum()) + 1e-9:
                best = max(best, c.sum())
        assert k.sum() == best, (counts, f, fixed)


def test_nan_metrics_and_zero_length_rows_get_a_reason(corpus):
    _, table = corpus
    t = table.head(20).copy()
    t.loc[3, "artifact_score"] = np.nan
    t.loc[4, "n_frames"] = 0
    t.loc[5, "valid"] = False
    r = apply_thresholds(t, CurationConfig())
    labels = r.reason_labels()
    assert labels[3] == "missing_metrics" and labels[4] == "too_short" and labels[5] == "invalid_sample"


def test_every_clip_is_judged_beyond_ten_thousand():
    """The reference only sampled above 10,000 clips, so corrupted clips reached pretraining."""
    n = 12_000
    table = _table([f"a{i % 12}" for i in range(n)], ["mocap_like"] * n)
    bad = np.arange(10_500, 12_000, 7)
    table.loc[bad, "artifact_score"] = 0.9
    r = apply_thresholds(table, CurationConfig())
    assert not r.pretrain[bad].any()
    assert r.stats["dropped_by_reason"]["artifact"] == len(bad)


def test_config_yaml_round_trip_and_errors(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  d_model: 256\n")
    cfg = CurationConfig(min_quality_sft=0.85, source_weights={"synthetic": 0.9})
    cfg.save_to_yaml(path)
    assert "d_model" in path.read_text()  # other sections are kept
    assert CurationConfig.from_yaml(path) == cfg
    path.write_text("data_curation:\n  min_quality_sft: 2\n")
    with pytest.raises(ConfigError, match="min_quality_sft"):
        CurationConfig.from_yaml(path)
    path.write_text("data_curation:\n  min_qualty_sft: 0.8\n")
    with pytest.raises(ConfigError, match="min_qualty_sft: unknown key"):
        CurationConfig.from_yaml(path)
    path.write_text("data_curation: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        CurationConfig.from_yaml(path)
    with pytest.raises(ConfigError, match="source_weights.mocap"):
        CurationConfig(source_weights={"mocap": "high"})
    assert dataclasses.replace(cfg, seed=3).seed == 3


def test_a_repeated_clip_id_is_dropped_once_and_a_shared_key_alone_drops_nothing(corpus):
    _, table = corpus
    valid = table[table["valid"]].reset_index(drop=True)
    t = pd.concat([valid, valid.iloc[:3]], ignore_index=True)  # three clips twice
    reasons = apply_thresholds(t, CurationConfig()).reason_labels()
    assert list(reasons[-3:]) == ["duplicate"] * 3
    assert "duplicate" not in set(reasons[:-3])
    # two different clips whose 64-bit keys collide are still two clips
    t = valid.copy()
    t.loc[1, "clip_key"] = t.loc[0, "clip_key"]
    assert "duplicate" not in set(apply_thresholds(t, CurationConfig()).reason_labels())


def test_a_prepared_table_gives_the_same_splits_for_every_setting(corpus):
    """The Curate page reads its table once (prepare_table); every slider or source setting must
    then give exactly what the plain table gives, also after settings it has seen before."""
    from stickgen_core.curation import prepare_table

    _, table = corpus
    table = pd.concat([table, table.head(20)], ignore_index=True)  # a file added twice: duplicates
    prepared = prepare_table(table)
    sources = sorted(table["source"].astype(str).unique())
    settings_ = [CurationConfig(), CurationConfig(min_quality_pretrain=0.6, min_quality_sft=0.9),
                 CurationConfig(source_weights={sources[0]: 0.0}, balance_max_fraction=0.1),
                 CurationConfig(synthetic_quality_penalty=0.5, seed=3, prefer_mocap=False),
                 CurationConfig(mocap_sources=(sources[-1],), balance_max_fraction=0.07, max_source_fraction=1.0),
                 CurationConfig(synthetic_sources=(sources[-1],)),
                 CurationConfig(default_source_weight=0.2, source_weights={}),
                 CurationConfig(max_source_fraction=0.3), CurationConfig()]  # the last after the memo's 4 were replaced
    for cfg in settings_:
        want, got = apply_thresholds(table, cfg), apply_thresholds(prepared, cfg)
        for field in ("pretrain", "sft", "quality", "pretrain_reason", "sft_reason"):
            assert np.array_equal(getattr(want, field), getattr(got, field), equal_nan=True), (field, cfg)
        assert want.stats == got.stats
    assert apply_thresholds(prepared, settings_[2]).stats != apply_thresholds(prepared, settings_[0]).stats
    with pytest.raises(ValueError):  # what every later result shares cannot be edited through one of them
        apply_thresholds(prepared, settings_[0]).quality *= 0
