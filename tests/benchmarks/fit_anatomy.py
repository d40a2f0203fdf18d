"""Fit the anatomy limits (``stickgen_core.anatomy.AnatomyLimits``) on clean data, and show how
much of it passes the current limits.

Run: OMP_NUM_THREADS=1 .venv/bin/python tests/benchmarks/fit_anatomy.py [--clips 1500] [--seed 3]

Data: clean synthetic clips (``generate_samples``, no injected defects) and every BVH capture
under ``../shared/data/bvh`` (converted as ``stickgen convert`` does). Each row is the worst value
per clip; the limit is the largest clean value times a margin (at least 1.2x, rounded up), so
every clean clip and every real capture passes. Last fit (1,500 clips, seed 3; 4 captures), worst
clip of each source:

    measure                 synthetic  captures  limit
    shoulder gap (std m)      0.189     0.224     0.30   (detached arms: 0.40-0.96 m)
    hip gap (std m)           0.110     0.089     0.20
    bone stretch (x rest)     1.113     1.008     1.25
    bone variation (CV)       0.105     0.150     0.20   (CMU 131_01 turns: its shins foreshorten)
    wrong bend (deg)          12.1      0.0       30
    head drop (std m)         0.031    -0.051     0.15
    height gain (x rest)      1.024     0.997     1.10
    height ratio, least       0.807     0.674     0.55   (the same turn)

All 1,500 synthetic clips and the 4 captures pass every anatomy check at these limits.

``--reach FILE`` fits ``anatomy.BodyReach`` (what generation and training hold a body to) on a curated
dataset file instead: the 99th percentile of the per-frame shoulder and hip gaps, and each bone's 5th
percentile share of its first-frame reference length (left and right pooled). Last fit, the first 3,271
clips of the curated synthetic pretrain split (issue 32): gaps 0.180 / 0.106 m; shares head 0.955, torso
0.957, upper arm 0.836, forearm 0.795, thigh 0.805, shin 0.899.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from stickgen_core.anatomy import AnatomyLimits, bone_variation, measure, violations
from stickgen_core.convert import convert_file
from stickgen_core.synth import SynthConfig, generate_samples

DATA = Path(__file__).parents[3] / "shared" / "data"
ROWS = ("shoulder gap", "hip gap", "bone stretch", "bone variation", "wrong bend", "head drop", "height gain",
        "height ratio, least")


def worst(motion: np.ndarray) -> list[float]:
    m = np.moveaxis(motion[:, None] if motion.ndim == 2 else motion, 1, 0)
    x = measure(m)
    return [x.gap[..., :2].max(), x.gap[..., 2:].max(), x.bone_ratio.max(), bone_variation(m).max(),
            x.wrong_bend.max(), x.head_drop.max(), x.height_ratio.max(), x.height_ratio.min()]


def passes(motion: np.ndarray, limits: AnatomyLimits) -> bool:
    m = np.moveaxis(motion[:, None] if motion.ndim == 2 else motion, 1, 0)
    v = violations(measure(m), limits)
    return not any(f.any() for f in v.values()) and bone_variation(m).max() <= limits.max_bone_variation


SHARE_GROUPS = {"head": [0], "torso": [1, 2], "upper_arm": [3, 5], "forearm": [4, 6], "thigh": [7, 9], "shin": [8, 10]}


def fit_reach(motions: list[np.ndarray]) -> dict[str, float]:
    """BodyReach's fields from clean clips (``[T, 48]``; the first actor of a multi-actor clip)."""
    import torch

    from stickgen_core.model.constraints import bone_lengths, reference_lengths

    ms = [m if m.ndim == 2 else m[:, 0] for m in motions]
    gaps = [measure(m).gap for m in ms]
    out = {"shoulder_gap": float(np.percentile(np.concatenate([g[:, :2].ravel() for g in gaps]), 99)),
           "hip_gap": float(np.percentile(np.concatenate([g[:, 2:].ravel() for g in gaps]), 99))}
    share = np.concatenate([(bone_lengths(t) / reference_lengths(t[:1])[0]).numpy()
                            for t in (torch.as_tensor(m, dtype=torch.float32) for m in ms)])
    out.update({f"{k}_share": float(np.percentile(share[:, v].ravel(), 5)) for k, v in SHARE_GROUPS.items()})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--reach", type=Path, help="fit BodyReach on this curated dataset file instead")
    args = ap.parse_args()
    if args.reach is not None:
        from stickgen_core.io import load_dataset

        for k, v in fit_reach([np.asarray(s["motion"], np.float64) for s in load_dataset(args.reach)]).items():
            print(f"{k:16} {v:.3f}")
        return
    synth = [s["motion"].numpy() for s in generate_samples(args.clips, seed=args.seed, config=SynthConfig())]
    real = [s["motion"].numpy() for f in sorted((DATA / "bvh").glob("*.bvh")) for s in convert_file(f, "bvh")]
    limits = AnatomyLimits()
    table = {name: np.array([worst(m) for m in clips]) for name, clips in (("synthetic", synth), ("captures", real))
             if clips}
    print(f"{'measure':22} " + "  ".join(f"{k + ' p99 / worst':>20}" for k in table))
    for i, row in enumerate(ROWS):
        cells = []
        for v in table.values():
            col = v[:, i]
            p99, w = (np.quantile(col, 0.01), col.min()) if row.endswith("least") else (np.quantile(col, 0.99), col.max())
            cells.append(f"{p99:9.3f} / {w:8.3f}")
        print(f"{row:22} " + "  ".join(cells))
    for name, clips in (("synthetic", synth), ("captures", real)):
        ok = sum(passes(m, limits) for m in clips)
        print(f"{name}: {ok} of {len(clips)} clips pass the limits {limits}")


if __name__ == "__main__":
    main()
