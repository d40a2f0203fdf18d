"""Dataset conversion speed: KIT-ML, AIST++, NTU RGB+D (two people) and 100STYLE clips/s in one
process, idle and beside one busy process (processes for a folder: ``bench_convert.py``; a
pool's start, about 5 s of imports, outweighs a few dozen clips). The layouts are
generated (10 s clips of the synthetic walk in each dataset's own joints, units and rate).

Run: nice -n 10 .venv/bin/python tests/benchmarks/bench_convert_datasets.py [clips per layout, default 24]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2]))  # the repo root: tests.dataset_layouts

from benchlib import busy_neighbour  # noqa: E402

from stickgen_core.convert import convert_many  # noqa: E402
from tests.dataset_layouts import walk_3d, write_aist, write_kitml, write_ntu, write_positions_bvh  # noqa: E402

SECONDS = 10.0


def make_layouts(root: Path, n: int) -> dict[str, list[Path]]:
    """``n`` files of each layout, ``SECONDS`` long, each from its own walk."""
    out: dict[str, list[Path]] = {k: [] for k in ("kitml", "aist", "ntu", "100style")}
    for k in range(n):
        out["kitml"].append(write_kitml(root / "kit", f"{k:05d}", walk_3d(SECONDS, 12.5, seed=k), "a person walks"))
        out["aist"].append(write_aist(root / "aist", f"gBR_sBM_cAll_d{k:02d}_mBR0_ch01", walk_3d(SECONDS, 60, seed=k)))
        two = [walk_3d(SECONDS, 30, seed=k), walk_3d(SECONDS, 30, seed=k + 1000)]
        two[1][..., 2] += 1.5  # side by side, 1.5 m apart
        out["ntu"].append(write_ntu(root / "ntu" / f"S001C001P{k:03d}R001A059.skeleton", two, noise_frames=20))
        out["100style"].append(write_positions_bvh(root / "style" / f"Style{k}_FW.bvh", walk_3d(SECONDS, 60, seed=k), 60))
    return out


def clips_per_s(files: list[Path], fmt: str, jobs: int) -> float:
    t0 = time.perf_counter()
    result = convert_many(files, fmt, jobs=jobs)
    dt = time.perf_counter() - t0
    if result.failures:
        raise SystemExit(f"{fmt}: {result.summary_lines()[:3]}")
    return len(result.samples) / dt


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 24
    with tempfile.TemporaryDirectory() as tmp:
        layouts = make_layouts(Path(tmp), n)
        for files in layouts.values():  # warm: imports (scipy for BVH), page cache
            convert_many(files[:1], _fmt(files[0]))
        print(f"{n} clips of {SECONDS:.0f} s per layout; clips/s")
        print(f"{'load':<10}" + "".join(f"{k:>10}" for k in layouts))
        for load in ("idle", "one busy"):
            if load == "one busy":
                with busy_neighbour():
                    row = [clips_per_s(f, k, 1) for k, f in layouts.items()]
            else:
                row = [clips_per_s(f, k, 1) for k, f in layouts.items()]
            print(f"{load:<10}" + "".join(f"{v:>10.1f}" for v in row))


def _fmt(path: Path) -> str:
    return {".npy": "kitml", ".pkl": "aist", ".skeleton": "ntu", ".bvh": "100style"}[path.suffix]


if __name__ == "__main__":
    main()
