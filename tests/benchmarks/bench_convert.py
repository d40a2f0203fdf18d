"""Conversion speed: BVH frames/s and clips/s, HumanML3D clips/s, curate on the reference sample;
then a folder of 500 generated BVH files (every rig convention, 4 s at 30 fps each) in 1 and 2
processes, files/s.

Run: nice -n 10 .venv/bin/python tests/benchmarks/bench_convert.py  (idle row, then a row with one busy neighbour)
"""

from __future__ import annotations

import multiprocessing as mp
import tempfile
import time
from pathlib import Path

import numpy as np

from stickgen_core.annotate import annotate
from stickgen_core.convert import convert_file
from stickgen_core.convert.bvh import parse_bvh
from stickgen_core.curation import CurationConfig, apply_thresholds

DATA = Path(__file__).parents[3] / "shared" / "data"


def _busy() -> None:
    while True:
        sum(i * i for i in range(10_000))


def measure() -> tuple[float, float, float, int, float]:
    files = sorted((DATA / "bvh").glob("*.bvh"))
    frames = sum(len(parse_bvh(f).motion) for f in files)
    t0 = time.perf_counter()
    for f in files:
        convert_file(f, "bvh")
    dt = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        (tmp_j := Path(tmp) / "new_joints").mkdir()
        rng = np.random.default_rng(0)
        base = None
        for k in range(20):  # HumanML3D-shaped files from a converted BVH walk (plus a little noise)
            from stickgen_core.convert.bvh import read_bvh
            from stickgen_core.convert.humanml3d import SMPL22
            from stickgen_core.schema import JOINT_NAMES
            if base is None:
                tr = read_bvh(files[0])
                base = np.zeros((len(tr.joints[::6]), 22, 3))
                for j, n in enumerate(JOINT_NAMES):
                    base[:, SMPL22[n]] = tr.joints[::6, j]
            np.save(tmp_j / f"{k:06d}.npy", base + rng.normal(0, 1e-3, base.shape))
        t1 = time.perf_counter()
        for f in sorted(tmp_j.glob("*.npy")):
            convert_file(f, "humanml3d")
        hml = 20 / (time.perf_counter() - t1)
        t2 = time.perf_counter()
        table = annotate(DATA / "reference" / "ref_sample_60.pt", cache_dir=tmp, use_cache=False)
        kept = int(apply_thresholds(table, CurationConfig()).pretrain.sum())
        cur = time.perf_counter() - t2
    return frames / dt, len(files) / dt, hml, kept, cur


def folder_rate(n_files: int = 500, jobs: int = 1) -> tuple[float, int]:
    """(files/s, files converted) for a folder of ``n_files`` generated BVH files, ``jobs`` processes."""
    import sys

    sys.path.insert(0, str(Path(__file__).parents[2]))  # tests.bvh_fixtures, when run as a script
    from stickgen_core.convert import convert_folder
    from tests.bvh_fixtures import CONVENTIONS, make_bvh

    texts = {c: make_bvh(c, frames=120) for c in CONVENTIONS}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(n_files):
            conv = list(texts)[k % len(texts)]
            (Path(tmp) / f"{k:04d}_{conv}.bvh").write_text(texts[conv])
        t0 = time.perf_counter()
        res = convert_folder(tmp, "bvh", jobs=jobs)  # process start-up included: that is what a user waits for
        dt = time.perf_counter() - t0
    return n_files / dt, len(res.converted)


def main() -> None:
    print(f"{'load':<14}{'BVH frames/s':>14}{'BVH clips/s':>13}{'HML3D clips/s':>15}{'ref kept/60':>13}{'curate s':>10}")
    for label in ("idle", "one busy"):
        proc = None
        if label == "one busy":
            proc = mp.Process(target=_busy, daemon=True)
            proc.start()
        try:
            fps, cps, hml, kept, cur = measure()
        finally:
            if proc:
                proc.terminate()
        print(f"{label:<14}{fps:>14.0f}{cps:>13.1f}{hml:>15.1f}{kept:>13d}{cur:>10.2f}")
    print(f"\n{'folder of 500 BVH':<20}{'processes':>10}{'files/s':>10}{'converted':>11}")
    for jobs in (1, 2):
        rate, ok = folder_rate(500, jobs)
        print(f"{'':<20}{jobs:>10d}{rate:>10.1f}{ok:>11d}")


if __name__ == "__main__":
    main()
