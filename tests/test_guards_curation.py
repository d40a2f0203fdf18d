"""Boundaries of every curation rule, and balancing with a group kept whole.

The README and the threshold help say a clip *at* a threshold is kept (``>=`` a minimum,
``<=`` a maximum): each rule is checked at its threshold and one ``np.nextafter`` step past
it. Balancing: when a cap cannot hold for every group, the smallest group is kept whole;
random small cases check that it loses nothing and that the others keep the most the cap allows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from stickgen_core.curation import PRETRAIN_RULES, SFT_RULES, CurationConfig, apply_thresholds, prepare_table
from stickgen_core.curation.balance import Grouping, water_fill

# Every setting that moves a clip in or out, with the column it is compared with, which side
# drops (-1: below a minimum, +1: above a maximum), the reason named, and the split it guards.
RULES = {
    "min_frames": ("n_frames", -1, "too_short", "pretrain"),
    "max_frames": ("n_frames", +1, "too_long", "pretrain"),
    "max_artifact_score": ("artifact_score", +1, "artifact", "pretrain"),
    "min_realism_pretrain": ("realism_score", -1, "low_realism", "pretrain"),
    "min_quality_pretrain": ("base_quality", -1, "low_quality", "pretrain"),
    "min_quality_sft": ("base_quality", -1, "sft_low_quality", "sft"),
    "min_realism_sft": ("realism_score", -1, "sft_low_realism", "sft"),
    "min_camera_stability_sft": ("camera_stability", -1, "sft_camera_unstable", "sft"),
}
# Everything open, so that only the rule under test can drop a clip. A source whose realism
# weight is 0 and that is not synthetic: combined quality == base_quality, bit for bit.
OPEN = dict(min_quality_pretrain=0.0, min_quality_sft=0.0, min_camera_stability_sft=0.0, min_realism_pretrain=0.0,
            min_realism_sft=0.0, max_artifact_score=1.0, min_frames=1, max_frames=100_000, balance_max_fraction=1.0,
            max_source_fraction=1.0, source_weights={"cam": 0.0}, synthetic_sources=(), synthetic_quality_penalty=0.0)
CLEAN = {"n_frames": 100.0, "artifact_score": 0.0, "realism_score": 1.0, "camera_stability": 1.0, "base_quality": 1.0}


def test_the_rule_table_covers_every_rule_with_a_threshold():
    """A new rule must join RULES (and so get its boundary test)."""
    named = {reason for *_, reason, _ in RULES.values()}
    untested = {"invalid_sample", "duplicate", "missing_metrics", "not_in_pretrain", "sft_action_balance",
                "sft_source_balance"}  # no threshold: tested in test_curation
    assert named | untested == set(PRETRAIN_RULES) | set(SFT_RULES)


def _table(rows: list[dict]) -> pd.DataFrame:
    n = len(rows)
    cols = {k: np.array([r.get(k, CLEAN[k]) for r in rows], dtype=np.float64) for k in CLEAN}
    return pd.DataFrame({"clip_id": [f"c{i}" for i in range(n)], "source": pd.Categorical(["cam"] * n),
                         "dominant_action": pd.Categorical(["walk"] * n), "valid": True, **cols})


def _values(field: str) -> list[float]:
    default = getattr(CurationConfig(), field)
    return [float(default), 0.123456789 if field not in ("min_frames", "max_frames") else 37.0]


@pytest.mark.parametrize("field,value", [(f, v) for f in RULES for v in _values(f)])
def test_a_clip_at_the_threshold_is_kept_one_step_past_is_dropped(field, value):
    column, side, reason, split = RULES[field]
    past = float(np.nextafter(value, side * np.inf))
    cfg = CurationConfig(**{**OPEN, field: int(value) if field.endswith("frames") else value})
    r = apply_thresholds(_table([{column: value}, {column: past}]), cfg)
    member = r.pretrain if split == "pretrain" else r.sft
    assert member.tolist() == [True, False], (field, value, past, r.reason_labels().tolist())
    if split == "pretrain":
        assert PRETRAIN_RULES[r.pretrain_reason[1]] == reason
    else:
        assert r.pretrain.all() and SFT_RULES[r.sft_reason[1]] == reason
    if field.endswith("frames"):  # whole frames too: one frame past the threshold is dropped
        r = apply_thresholds(_table([{column: value}, {column: value + side}]), cfg)
        assert r.pretrain.tolist() == [True, False]


# ------------------------------------------------------------------ balancing with a group kept whole
def _brute_force_best(counts: list[int], fraction: float, fixed: int) -> int:
    """The most clips any per-group choice keeps with max <= fraction * (fixed + total)."""
    grid = np.indices([c + 1 for c in counts]).reshape(len(counts), -1)
    ok = grid.max(0) <= fraction * (fixed + grid.sum(0)) + 1e-9
    return int(grid.sum(0)[ok].max())


FRACTIONS = st.sampled_from([0.1, 0.2, 0.25, 0.3, 1 / 3, 0.4, 0.5, 0.6, 0.75, 1.0])


@settings(max_examples=300, deadline=None)
@given(counts=st.lists(st.integers(0, 8), min_size=1, max_size=4), fraction=FRACTIONS, fixed=st.integers(0, 12))
def test_water_fill_counts_the_whole_group_and_keeps_the_most(counts, fraction, fixed):
    k = water_fill(np.array(counts), fraction, fixed)
    assert (k <= counts).all() and (k >= 0).all()
    assert k.max() <= fraction * (fixed + k.sum()) + 1e-9, (counts, fraction, fixed, k)
    assert k.sum() == _brute_force_best(counts, fraction, fixed), (counts, fraction, fixed, k)


@settings(max_examples=300, deadline=None)
@given(counts=st.lists(st.integers(0, 8), min_size=2, max_size=4), fraction=FRACTIONS,
       whole=st.integers(0, 3), seed=st.integers(0, 5))
def test_a_group_kept_whole_loses_no_clip_in_a_cut(counts, fraction, whole, seed):
    whole %= len(counts)
    groups = np.repeat(np.arange(len(counts)), counts)
    order = np.random.default_rng(seed).permutation(len(groups))
    alive = np.ones(len(groups), bool)
    drop = Grouping(groups, order).cut(alive, fraction, whole)
    kept = np.bincount(groups[~drop], minlength=len(counts))
    assert kept[whole] == counts[whole], (counts, fraction, whole, kept)
    others = [g for g in range(len(counts)) if g != whole]
    assert all(kept[g] <= fraction * kept.sum() + 1e-9 for g in others), (counts, fraction, whole, kept)
    assert kept.sum() - counts[whole] == _brute_force_best([counts[g] for g in others], fraction, counts[whole])


@settings(max_examples=150, deadline=None)
@given(counts=st.lists(st.integers(1, 12), min_size=1, max_size=3), fraction=st.sampled_from([0.2, 0.25, 0.3, 0.4]),
       seed=st.integers(0, 5))
def test_the_smallest_action_kept_whole_keeps_every_clip_in_sft(counts, fraction, seed):
    """Fewer actions than 1 / fraction: no split holds every action under the cap; the smallest is
    kept whole (all its clips in SFT) and the cap holds for the others."""
    assume(len(counts) * fraction < 1.0)
    actions = np.repeat([f"a{i}" for i in range(len(counts))], counts)
    n = len(actions)
    quality = np.random.default_rng(seed).uniform(0.85, 1.0, n)
    table = pd.DataFrame({"clip_id": [f"c{i}" for i in range(n)], "source": pd.Categorical(["cam"] * n),
                          "dominant_action": pd.Categorical(actions), "valid": True, "base_quality": quality,
                          "artifact_score": 0.0, "realism_score": 1.0, "camera_stability": 1.0, "n_frames": 100.0})
    cfg = CurationConfig(**{**OPEN, "balance_max_fraction": fraction, "balance_by_source": False, "seed": seed})
    r = apply_thresholds(table, cfg)
    rep = r.stats["balance"]["actions"]
    assert not rep["feasible"]
    whole = rep["kept_whole"]
    assert whole == f"a{int(np.argmin(counts))}"
    in_sft = pd.Series(actions[r.sft]).value_counts().reindex([f"a{i}" for i in range(len(counts))], fill_value=0)
    assert in_sft[whole] == counts[int(np.argmin(counts))], (counts, fraction, in_sft.to_dict())
    assert all(v <= fraction * r.sft.sum() + 1e-9 for a, v in in_sft.items() if a != whole)
    others = [c for i, c in enumerate(counts) if i != int(np.argmin(counts))]
    assert r.sft.sum() == min(counts) + (_brute_force_best(others, fraction, min(counts)) if others else 0)


# ------------------------------------------------------------------ every setting changes a verdict
def _clips(groups: list[tuple[int, str, str, float]], **cols) -> pd.DataFrame:
    """``(count, action, source, base_quality)`` groups of clean clips; ``cols`` override columns."""
    rows = [(a, s, q) for n, a, s, q in groups for _ in range(n)]
    n = len(rows)
    data = {"clip_id": [f"c{i}" for i in range(n)], "source": pd.Categorical([r[1] for r in rows]),
            "dominant_action": pd.Categorical([r[0] for r in rows]), "valid": True,
            "base_quality": [r[2] for r in rows], "artifact_score": 0.0, "realism_score": 1.0,
            "camera_stability": 1.0, "n_frames": 100.0}
    data.update(cols)
    return pd.DataFrame(data)


SKEWED = [(8, "a0", "cam", 0.9), (2, "a1", "cam", 0.9)]
TWO_SOURCES = [(8, "a0", "s0", 0.9), (2, "a1", "s1", 0.9)]
MOCAP_VS_BETTER = [(2, "a0", "m", 0.85), (2, "a0", "v", 0.95), (2, "a1", "m", 0.9)]
TIES = [(10, "a0", "cam", 0.9), (2, "a1", "cam", 0.9)]
HALF_REAL = dict(realism_score=0.5)
# setting -> (clips, other columns, other settings, one value, another value): the splits differ
VERDICTS = {
    "balance_max_fraction": (SKEWED, {}, {}, 1.0, 0.5),
    "balance_by_source": (TWO_SOURCES, {}, {"max_source_fraction": 0.5}, False, True),
    "max_source_fraction": (TWO_SOURCES, {}, {}, 1.0, 0.5),
    "synthetic_quality_penalty": (SKEWED, {}, {"synthetic_sources": ("cam",), "min_quality_pretrain": 0.85}, 0.0, 0.1),
    "prefer_mocap": (MOCAP_VS_BETTER, {}, {"balance_max_fraction": 0.5, "mocap_sources": ("m",)}, True, False),
    "mocap_sources": (MOCAP_VS_BETTER, {}, {"balance_max_fraction": 0.5}, ("m",), ()),
    "source_weights": (SKEWED, HALF_REAL, {"min_quality_pretrain": 0.8}, {"cam": 0.0}, {"cam": 1.0}),
    "default_source_weight": (SKEWED, HALF_REAL, {"min_quality_pretrain": 0.8, "source_weights": {}}, 0.0, 1.0),
    "synthetic_sources": (SKEWED, {}, {"synthetic_quality_penalty": 0.5, "min_quality_pretrain": 0.8}, (), ("cam",)),
    "seed": (TIES, {}, {"balance_max_fraction": 0.5}, 0, 1),
}


def test_every_curation_setting_is_in_a_verdict_table():
    """A setting that moves clips is in RULES (boundaries) or VERDICTS; the rest only shape the export."""
    from dataclasses import fields

    from stickgen_core.curation.config import EXPORT_ONLY_FIELDS

    assert {f.name for f in fields(CurationConfig)} - set(RULES) - set(VERDICTS) == set(EXPORT_ONLY_FIELDS)


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_every_curation_setting_changes_the_splits(name):
    groups, cols, others, one, another = VERDICTS[name]
    table = prepare_table(_clips(groups, **cols))  # one prepared table, as the studio's sliders use it
    splits = []
    for value in (one, another):
        cfg = CurationConfig(**{**OPEN, "source_weights": {"cam": 0.0, "s0": 0.0, "s1": 0.0, "m": 0.0, "v": 0.0},
                                **others, name: value})
        r = apply_thresholds(table, cfg)
        splits.append((r.pretrain.tolist(), r.sft.tolist()))
    assert splits[0] != splits[1], (name, splits)


@pytest.mark.parametrize("name,value", [("normalize_height", True), ("target_height", 1.2), ("smooth", True),
                                        ("smooth_sigma", 3.0)])
def test_export_only_settings_leave_the_splits_alone(name, value):
    table = _clips(TIES)
    base = apply_thresholds(table, CurationConfig(**{**OPEN, "balance_max_fraction": 0.5}))
    moved = apply_thresholds(table, CurationConfig(**{**OPEN, "balance_max_fraction": 0.5, name: value}))
    assert base.sft.tolist() == moved.sft.tolist() and base.pretrain.tolist() == moved.pretrain.tolist()
