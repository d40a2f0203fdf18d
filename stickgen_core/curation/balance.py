"""SFT balancing that keeps its promise after balancing.

In the final split no action exceeds ``balance_max_fraction`` and no source exceeds
``max_source_fraction`` of the *final* size. For one partition the largest such subset
is found exactly by water-filling: keep ``min(n_g, c)`` clips of each group for the
largest cap ``c`` with ``max_g min(n_g, c) <= f * sum_g min(n_g, c)``. Actions and
sources are then cut in turn until neither moves. Within a group the lowest-priority
clips go first: with ``prefer_mocap``, non-mocap and synthetic before mocap, then lower
quality, then a seeded hash of the clip id (deterministic, independent of row order).
When a cap cannot hold for every group (fewer groups than 1 / fraction: a single
source, or 90 % synthetic + 10 % mocap under a 0.4 cap) the smallest group is kept
whole and the cap still holds for every other group; the report names that group.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .config import CurationConfig


def water_fill(counts: np.ndarray, fraction: float, fixed: int = 0) -> np.ndarray:
    """Largest per-group counts ``k_g <= counts_g`` with ``max k_g <= fraction * (fixed + sum k)``.

    ``fixed`` is the size of a group kept whole beside these (it counts in the total).
    """
    counts = np.asarray(counts, dtype=np.int64)
    if counts.sum() == 0:
        return counts.copy()
    levels = np.unique(np.concatenate([[0], counts]))          # the optimum cap is one of these...
    kept = np.minimum(counts[None, :], levels[:, None]).sum(1)
    ok = np.minimum(counts.max(), levels) <= fraction * (fixed + kept) + 1e-9
    best = int(levels[ok].max())
    above = counts > best                                      # ...or lies past it, where c = f * total
    if above.any():
        n_above = int(above.sum())
        base = fixed + np.minimum(counts, best).sum() - n_above * best
        denom = 1 - fraction * n_above                         # c * (1 - f * n_above) <= f * base
        limit = int(counts[above].min())
        best = limit if denom <= 0 else max(best, min(int(np.floor(fraction * base / denom + 1e-9)), limit))
    return np.minimum(counts, best)


class Grouping:
    """Rows laid out group by group in priority order, made once per source setting (``PreparedTable``),
    so every cut ranks its live rows with a cumulative sum instead of a sort.

    ``groups``: small group ids per row (category code + 1; 0: missing); ``order``: ``priority_order``."""

    def __init__(self, groups: np.ndarray, order: np.ndarray) -> None:
        self.groups = groups
        self.perm = order[np.argsort(groups[order].astype(np.int16), kind="stable")]  # radix sort: small ints
        self.sorted_groups = groups[self.perm]
        self.size = int(groups.max()) + 1 if len(groups) else 0

    def cut(self, alive: np.ndarray, fraction: float, whole: int | None) -> np.ndarray:
        """Items to drop so no group but ``whole`` exceeds ``fraction`` of what is left; each group
        loses its lowest-priority live items."""
        counts = np.bincount(self.groups, weights=alive, minlength=self.size).astype(np.int64)
        drop = np.zeros_like(alive)
        if counts.sum() == 0:
            return drop
        fixed = 0
        if whole is not None and whole < len(counts):
            fixed = int(counts[whole])
            counts[whole] = 0
        keep = water_fill(counts, fraction, fixed)
        if whole is not None and whole < len(keep):
            keep[whole] = fixed
            counts[whole] = fixed
        if (keep >= counts).all():
            return drop
        live = alive[self.perm]
        before = np.concatenate([[0], np.cumsum(counts)[:-1]])  # live items of the groups sorted before
        rank = np.cumsum(live) - 1 - before[self.sorted_groups]
        drop[self.perm] = live & (rank >= keep[self.sorted_groups])
        return drop


def _plan(groups: np.ndarray, names: list[str], wanted: float, kind: str) -> tuple[int | None, dict[str, Any]]:
    """Which group (if any) must be kept whole for the cap to hold on the others, and a report."""
    counts = np.bincount(groups)  # small non-negative codes: cheaper than a sort (np.unique)
    present = np.nonzero(counts)[0]
    counts = counts[present]
    feasible = len(present) * wanted >= 1.0 - 1e-9
    report = {"max_fraction": wanted, "groups": int(len(present)), "feasible": bool(feasible),
              "kept_whole": None, "note": ""}
    if feasible:
        return None, report
    whole = int(present[np.argmin(counts)])
    label = (["(none)"] + names)[whole] if whole < len(names) + 1 else str(whole)
    report["kept_whole"] = label
    report["note"] = (f"only {len(present)} {kind}(s) present: no split can hold every {kind} under "
                      f"{wanted:.2f}; the smallest, {label}, is kept whole and the cap holds for the others")
    return whole, report


def _keys_of(clip_ids: pd.Series) -> np.ndarray:
    """64-bit keys of clip ids (used when a table has no ``clip_key`` column)."""
    return pd.util.hash_pandas_object(clip_ids.astype(str), index=False).to_numpy()


def _seeded(keys: np.ndarray, seed: int) -> np.ndarray:
    """splitmix64 of key ^ seed: a seeded, row-order-independent shuffle of the tie order."""
    with np.errstate(over="ignore"):
        x = keys.astype(np.uint64) ^ np.uint64((seed * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def priority_order(quality: np.ndarray, is_mocap: np.ndarray, is_syn: np.ndarray, keys: np.ndarray,
                   cfg: CurationConfig) -> np.ndarray:
    """Every row in the cutting order, best (kept longest) first; ``keys``: 64-bit clip-id keys.

    The order does not depend on the thresholds a slider moves, only on quality, source
    and seed, so ``PreparedTable`` keeps it between moves."""
    n = len(quality)
    pref = ~is_mocap if cfg.prefer_mocap else np.zeros(n, bool)
    syn = is_syn if cfg.prefer_mocap else np.zeros(n, bool)
    # one int64 sort key: non-mocap bit, synthetic bit, 20 bits of (1 - quality), 41 tiebreak bits
    q = np.clip(np.nan_to_num(quality, nan=0.0), 0.0, 1.0)
    key = ((pref.astype(np.int64) << 62) | (syn.astype(np.int64) << 61)
           | (np.round((1.0 - q) * ((1 << 20) - 1)).astype(np.int64) << 41)
           | (_seeded(keys, cfg.seed) >> np.uint64(23)).astype(np.int64))
    order = np.argsort(key)
    return order


def balance(candidates: np.ndarray, by_act: Grouping, act_names: list[str], by_src: Grouping, src_names: list[str],
            cfg: CurationConfig) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """SFT membership after balancing, the rule that cut each clip (1 action, 2 source), a report.
    ``by_act`` / ``by_src``: the rows grouped by action / source, best first in a group."""
    n = len(candidates)
    cut_by = np.zeros(n, dtype=np.int8)
    report: dict[str, Any] = {}
    if not candidates.any():
        return candidates.copy(), cut_by, {"actions": {"note": "no SFT candidates"},
                                           "sources": {"note": "no SFT candidates"}}
    acts, srcs = by_act.groups, by_src.groups
    whole_act, report["actions"] = _plan(acts[candidates], act_names, cfg.balance_max_fraction, "action")
    whole_src, report["sources"] = _plan(srcs[candidates], src_names, cfg.max_source_fraction, "source")
    f_act, f_src = cfg.balance_max_fraction, cfg.max_source_fraction
    if not cfg.balance_by_source:
        report["sources"].update(note="balance_by_source is off", feasible=True, kept_whole=None)
        f_src, whole_src = 1.0, None
    alive = candidates.copy()
    local_cut = np.zeros(n, dtype=np.int8)
    for _ in range(64):  # each pass only removes; a few passes settle both partitions
        drop_a = by_act.cut(alive, f_act, whole_act)
        alive &= ~drop_a
        local_cut[drop_a] = 1
        drop_s = by_src.cut(alive, f_src, whole_src)
        alive &= ~drop_s
        local_cut[drop_s] = 2
        if not drop_a.any() and not drop_s.any():
            break
    keep = alive
    cut_by = np.where(candidates & ~alive, local_cut, 0).astype(np.int8)
    total = max(int(alive.sum()), 1)
    for key, groups, names in (("actions", acts, act_names), ("sources", srcs, src_names)):
        c = np.bincount(groups[alive], minlength=len(names) + 1)
        report[key]["achieved_max_fraction"] = round(float(c.max()) / total, 6) if alive.any() else 0.0
        report[key]["cut"] = int((local_cut == (1 if key == "actions" else 2)).sum())
    return keep, cut_by, report
