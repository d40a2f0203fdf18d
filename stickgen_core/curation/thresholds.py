"""``apply_thresholds``: a pure, fast function from a metrics table to split membership.

It runs on every slider move in the studio, so it works on numpy columns, never on rows.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from .balance import Grouping, _keys_of, balance, priority_order
from .config import CurationConfig

#: Reasons a clip leaves pretraining, in the order the rules are tried.
PRETRAIN_RULES = ("invalid_sample", "duplicate", "missing_metrics", "too_short", "too_long", "artifact",
                  "low_realism", "low_quality")
#: Reasons a pretraining clip is not in SFT, in order.
SFT_RULES = ("not_in_pretrain", "sft_low_quality", "sft_low_realism", "sft_camera_unstable",
             "sft_action_balance", "sft_source_balance")
KEPT = -1
_UNSET = object()
_REQUIRED = ("artifact_score", "realism_score", "camera_stability", "n_frames")


@dataclass
class CurationResult:
    """Membership, reasons and statistics of one threshold setting (arrays align with the table)."""

    pretrain: np.ndarray            # bool [N]
    sft: np.ndarray                 # bool [N]
    quality: np.ndarray             # float [N], the policy's combined quality
    pretrain_reason: np.ndarray     # int8 [N]: index into PRETRAIN_RULES, or -1 when kept
    sft_reason: np.ndarray          # int8 [N]: index into SFT_RULES, or -1 when in SFT
    stats: dict[str, Any] = field(default_factory=dict)

    def reason_labels(self) -> np.ndarray:
        """One string per clip: 'pretrain+sft', 'pretrain' (with why not SFT) or the drop reason."""
        out = np.where(self.sft, "pretrain+sft", "pretrain").astype(object)
        r = self.pretrain_reason
        out[r >= 0] = np.array(PRETRAIN_RULES, dtype=object)[r[r >= 0]]
        return out


def _codes(col: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes and names of a categorical-like column (cheap when already categorical)."""
    if not isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype("category")
    return col.cat.codes.to_numpy(), [str(c) for c in col.cat.categories]


def combined_quality(table: PreparedTable, cfg: CurationConfig) -> np.ndarray:
    """quality = base * (1 - artifact) * (1 - w_source * (1 - realism)) * (1 - penalty if synthetic).

    base is the sample's own quality_score (1 when it has none); w_source is
    ``source_weights[source]`` (how much that source's realism counts); the synthetic
    penalty applies to ``synthetic_sources``.
    """
    names, codes = table.src_names, table.src_codes
    w = np.array([cfg.source_weights.get(s, cfg.default_source_weight) for s in names] + [cfg.default_source_weight])
    syn = np.array([s in cfg.synthetic_sources for s in names] + [False])
    return (table.base * (1 - table.art) * (1 - w[codes] * (1 - table.real))
            * (1 - cfg.synthetic_quality_penalty * syn[codes]))


# the index of the lowest set bit of every 8-bit pattern (-1 for none): a rule list of up to 8 rules,
# packed one bit a rule, gives each row's first failed rule in one table look-up
_LOWEST_BIT = np.array([KEPT] + [(b & -b).bit_length() - 1 for b in range(1, 256)], dtype=np.int8)


class RuleMasks:
    """One rule list's masks (up to 8), packed one bit a rule per row and kept between calls.

    A slider move changes one threshold, so only that rule's comparison runs again (``computed``
    counts them); each row's first failed rule is then one look-up of its bit pattern.
    """

    def __init__(self, n: int, rules: tuple[str, ...]) -> None:
        self.rules = rules
        self.bits = np.zeros(n, dtype=np.uint8)
        self.keys: list[object] = [_UNSET] * len(rules)  # the inputs each mask was computed from
        self.computed: Counter[str] = Counter()

    def update(self, k: int, key: object, mask: Callable[[], np.ndarray]) -> None:
        """Rule ``k``'s mask as ``mask()`` computes it, unless ``key`` (its inputs) is the one last used."""
        if self.keys[k] == key:
            return
        m = mask()
        self.bits &= np.uint8(~(1 << k) & 0xFF)
        self.bits |= np.asarray(m, dtype=bool).view(np.uint8) << np.uint8(k)
        self.keys[k] = key
        self.computed[self.rules[k]] += 1

    def first_failed(self) -> np.ndarray:
        """int8 per row: index of the first rule it fails, -1 when it passes all (a new array)."""
        return _LOWEST_BIT[self.bits]


def _distribution(slots: np.ndarray, names: list[str], mask: np.ndarray) -> dict[str, dict[str, float]]:
    """Count and share of each name among the ``mask`` rows; ``slots``: category code + 1 (intp)."""
    counts = np.bincount(slots, weights=mask, minlength=len(names) + 1)[1:].astype(np.int64)
    total = max(int(counts.sum()), 1)
    return {n: {"count": int(c), "fraction": round(float(c) / total, 6)} for n, c in zip(names, counts) if c}


def _duplicated_ids(table: pd.DataFrame) -> np.ndarray:
    """Rows whose clip_id appeared on an earlier row.

    Hashing 100,000 strings costs more than the rest of ``apply_thresholds``, so the
    64-bit ``clip_key`` finds the candidates and only those are compared as strings
    (a key collision never drops a clip).
    """
    ids = table["clip_id"]
    if "clip_key" not in table:
        return ids.duplicated(keep="first").to_numpy()
    dup = pd.Series(table["clip_key"].to_numpy()).duplicated(keep=False).to_numpy().copy()
    if dup.any():
        rows = np.nonzero(dup)[0]
        dup[rows] = ids.iloc[rows].duplicated(keep="first").to_numpy()
    return dup


class PreparedTable:
    """The parts of a metrics table that no threshold moves, read once (``prepare_table``).

    A slider move re-runs ``apply_thresholds`` on 100,000 rows; reading columns out of the
    DataFrame, finding duplicate ids and ordering clips for SFT balancing do not depend on
    the thresholds, so a prepared table does them once. Treat the table as frozen after. It also keeps
    the last setting's rule masks and balancing, so a move recomputes only what it changed: one
    thread at a time may use it.
    """

    def __init__(self, table: pd.DataFrame) -> None:
        self.table = table
        self.n = n = len(table)
        self.src_codes, self.src_names = _codes(table["source"])
        self.act_codes, self.act_names = _codes(table["dominant_action"])
        # code + 1 as the index type: bincount then counts without a conversion per call
        self.src_slots, self.act_slots = self.src_codes.astype(np.intp) + 1, self.act_codes.astype(np.intp) + 1
        base = table["base_quality"].to_numpy(dtype=np.float64) if "base_quality" in table else np.ones(n)
        self.base = np.where(np.isnan(base), 1.0, base)
        self.valid = table["valid"].to_numpy(dtype=bool) if "valid" in table else np.ones(n, bool)
        self.frames = table["n_frames"].to_numpy(dtype=np.float64)
        self.art = table["artifact_score"].to_numpy(dtype=np.float64)
        self.real = table["realism_score"].to_numpy(dtype=np.float64)
        self.cam = table["camera_stability"].to_numpy(dtype=np.float64)
        self.missing = np.isnan(self.art) | np.isnan(self.real) | np.isnan(self.cam) | np.isnan(self.frames)
        # the same clip twice (a folder curated into itself, a file added twice): the first one counts
        self.dup = self.valid & _duplicated_ids(table)
        self.keys = table["clip_key"].to_numpy() if "clip_key" in table else _keys_of(table["clip_id"])
        self._by_config: dict[tuple, tuple[np.ndarray, Grouping, Grouping]] = {}
        # the last setting's rule masks: apply_thresholds recomputes only the rules whose inputs moved
        self.pretrain_masks = RuleMasks(n, PRETRAIN_RULES)
        self.sft_masks = RuleMasks(n, SFT_RULES[:4])
        self._last_balance: tuple | None = None

    @staticmethod
    def source_key(cfg: CurationConfig) -> tuple:
        """The settings the combined quality and the SFT priority order depend on."""
        return (tuple(sorted(cfg.source_weights.items())), cfg.default_source_weight,
                tuple(sorted(cfg.synthetic_sources)), cfg.synthetic_quality_penalty,
                tuple(sorted(cfg.mocap_sources)), cfg.prefer_mocap, cfg.seed)

    def balanced(self, candidates: np.ndarray, cfg: CurationConfig, run: Callable[[], tuple]) -> tuple:
        """``run()`` (balancing ``candidates`` under ``cfg``), or the last answer when both are unchanged:
        a pretrain-only threshold moved below the SFT ones leaves the SFT candidates as they were."""
        key = (self.source_key(cfg), cfg.balance_max_fraction, cfg.max_source_fraction, cfg.balance_by_source)
        last = self._last_balance
        if last is None or last[0] != key or not np.array_equal(last[1], candidates):
            last = self._last_balance = (key, candidates, run())
        keep, cut_by, report = last[2]
        return keep.copy(), cut_by, copy.deepcopy(report)  # callers own what they get back

    def per_config(self, cfg: CurationConfig) -> tuple[np.ndarray, Grouping, Grouping]:
        """(quality, rows by action, rows by source in SFT priority order) for the source settings of
        ``cfg``: the sliders never change these, so they are kept for the last few settings seen."""
        key = self.source_key(cfg)
        hit = self._by_config.get(key)
        if hit is None:
            quality = combined_quality(self, cfg)
            is_mocap = np.array([s in cfg.mocap_sources for s in self.src_names] + [False])[self.src_codes]
            is_syn = np.array([s in cfg.synthetic_sources for s in self.src_names] + [False])[self.src_codes]
            order = priority_order(quality, is_mocap, is_syn, self.keys, cfg)
            quality.setflags(write=False)  # every result of this setting shares it: nobody may edit it
            if len(self._by_config) >= 4:
                self._by_config.pop(next(iter(self._by_config)))
            hit = self._by_config[key] = (quality, Grouping(self.act_slots, order), Grouping(self.src_slots, order))
        return hit


def prepare_table(table: pd.DataFrame) -> PreparedTable:
    """Read ``table`` once for many ``apply_thresholds`` calls (the studio's sliders)."""
    return PreparedTable(table)


def apply_thresholds(table: pd.DataFrame | PreparedTable, config: CurationConfig) -> CurationResult:
    """Pretrain and SFT membership of every clip of ``table`` under ``config`` (pure).

    Pretrain keeps valid clips with metrics, min_frames <= n_frames <= max_frames,
    artifact_score <= max_artifact_score, realism >= min_realism_pretrain and
    quality >= min_quality_pretrain. SFT takes pretrain clips with quality >=
    min_quality_sft, realism >= min_realism_sft and camera_stability >=
    min_camera_stability_sft, then balances actions and sources (see ``balance``).
    ``table`` may be a ``prepare_table`` result, which gives the same answer faster.
    """
    t = table if isinstance(table, PreparedTable) else PreparedTable(table)
    n = t.n
    quality, by_act, by_src = t.per_config(config)
    q_key = t.source_key(config)
    frames, art, real, cam = t.frames, t.art, t.real, t.cam
    pre, c = t.pretrain_masks, config
    with np.errstate(invalid="ignore"):  # NaN compares False: missing metrics have their own rule
        pre.update(0, (), lambda: ~t.valid)
        pre.update(1, (), lambda: t.dup)
        pre.update(2, q_key, lambda: t.valid & (t.missing | np.isnan(quality)))
        pre.update(3, c.min_frames, lambda: frames < c.min_frames)
        pre.update(4, c.max_frames, lambda: frames > c.max_frames)
        pre.update(5, c.max_artifact_score, lambda: art > c.max_artifact_score)
        pre.update(6, c.min_realism_pretrain, lambda: real < c.min_realism_pretrain)
        pre.update(7, (q_key, c.min_quality_pretrain), lambda: quality < c.min_quality_pretrain)
    pre_reason = pre.first_failed()
    pretrain = pre_reason == KEPT
    sft_in = t.sft_masks
    with np.errstate(invalid="ignore"):
        sft_in.update(0, (q_key, tuple(pre.keys)), lambda: ~pretrain)
        sft_in.update(1, (q_key, c.min_quality_sft), lambda: quality < c.min_quality_sft)
        sft_in.update(2, c.min_realism_sft, lambda: real < c.min_realism_sft)
        sft_in.update(3, c.min_camera_stability_sft, lambda: cam < c.min_camera_stability_sft)
    sft_reason = sft_in.first_failed()
    candidates = sft_reason == KEPT
    src_names, act_names = t.src_names, t.act_names
    keep, cut_by, report = t.balanced(candidates, config, lambda: balance(candidates, by_act, act_names, by_src,
                                                                          src_names, config))
    sft_reason[cut_by == 1] = SFT_RULES.index("sft_action_balance")
    sft_reason[cut_by == 2] = SFT_RULES.index("sft_source_balance")
    sft = keep

    def counts(reason: np.ndarray, rules: tuple[str, ...]) -> dict[str, int]:
        c = np.bincount(reason.astype(np.intp) + 1, minlength=len(rules) + 1)[1:]  # -1 (kept) lands in slot 0
        return {r: int(x) for r, x in zip(rules, c)}

    stats = {
        "total": n,
        "pretrain": int(pretrain.sum()),
        "sft": int(sft.sum()),
        "dropped": int(n - pretrain.sum()),
        "dropped_by_reason": counts(pre_reason, PRETRAIN_RULES),
        "not_in_sft_by_reason": {k: v for k, v in counts(sft_reason, SFT_RULES).items() if k != "not_in_pretrain"},
        "pretrain_actions": _distribution(t.act_slots, act_names, pretrain),
        "sft_actions": _distribution(t.act_slots, act_names, sft),
        "pretrain_sources": _distribution(t.src_slots, src_names, pretrain),
        "sft_sources": _distribution(t.src_slots, src_names, sft),
        "mean_quality_pretrain": float(quality[pretrain].mean()) if pretrain.any() else None,
        "mean_quality_sft": float(quality[sft].mean()) if sft.any() else None,
        "balance": report,
    }
    return CurationResult(pretrain, sft, quality, pre_reason, sft_reason, stats)
