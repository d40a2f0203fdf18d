"""Dataset format benchmark (issue 33): packing, random access to one clip, annotation from
a packed file against today's ``.pt`` list.

    python tests/benchmarks/bench_dataset_format.py --clips 100000 [--busy]

The big set is ``--distinct`` generated clips tiled to ``--clips`` (each copy shifted along x, so
every clip has its own content id): the generator makes ~170 clips/s, the format is what is
measured. Packing streams (clips are made as the writer asks for them), so memory stays small.
Random access is timed on a warm page cache (the file was just written): it is the cost of the
format, not of the disk. ``--busy`` runs everything beside one CPU-bound process.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

import torch
from benchlib import busy_neighbour, peak_rss_mb

from stickgen_core.annotate import annotate
from stickgen_core.cli import main as cli_main
from stickgen_core.io import clip_id, sample_at, save_dataset
from stickgen_core.packed import read_clip, write_packed
from stickgen_core.synth import generate_dataset


class Tiled(Sequence):
    """``n`` clips made on demand from ``base``: copy ``i // len(base)`` shifted by 0.01 m per copy in x."""

    def __init__(self, base: list[dict], n: int) -> None:
        self.base, self.n = base, n

    def __len__(self) -> int:
        return self.n

    def _one(self, i: int) -> dict:
        s = self.base[i % len(self.base)]
        copy = i // len(self.base)
        if not copy:
            return s
        shift = torch.zeros(48)
        shift[0::2] = 0.01 * copy  # x of every endpoint: the figure moves, joints stay joined
        return dict(s, motion=s["motion"] + shift, description=f"{s['description']} ({copy})")

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._one(k) for k in range(*i.indices(self.n))]
        return self._one(i)


class TiledIds(Sequence):
    def __init__(self, clips: Tiled) -> None:
        self.clips = clips

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [clip_id(s) for s in self.clips[i]]
        return clip_id(self.clips[i])


def timed(fn, repeat: int = 1) -> float:
    best = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best.append(time.perf_counter() - t0)
    return min(best)


def access_ms(fn, n: int, count: int = 30) -> float:
    """Median ms of ``fn(k)`` over ``count`` random positions."""
    rng = random.Random(0)
    times = []
    for _ in range(count):
        k = rng.randrange(n)
        t0 = time.perf_counter()
        fn(k)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def run(args, tmp: Path) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    base = generate_dataset(args.distinct, seed=0)
    small = Tiled(base, args.small)
    pt_small = tmp / "small.pt"
    save_dataset(small[:], pt_small)
    arrow_small = write_packed(small[:], TiledIds(small)[:], tmp / "small.arrow")
    mb = pt_small.stat().st_size / 2**20

    big = Tiled(base, args.clips)
    t0 = time.perf_counter()
    arrow_big = write_packed(big, TiledIds(big), tmp / "big.arrow")
    t_pack = time.perf_counter() - t0
    big_gb = arrow_big.stat().st_size / 2**30
    rows.append((f"pack {args.clips:,} clips (ids + write, streamed)", f"{args.clips / t_pack:,.0f} clips/s "
                 f"({t_pack:.1f} s, {big_gb:.2f} GB)", "-", "-"))

    # random access: one clip by position
    t_pt = access_ms(lambda k: sample_at(pt_small, k), args.small, count=5)
    rows.append((f"one clip, .pt list, {args.small:,} clips ({mb:.0f} MB)", f"{t_pt:,.1f} ms", "<= 100 ms", _met(t_pt <= 100)))
    for n, path in ((args.small, arrow_small), (args.clips, arrow_big)):
        ms = access_ms(lambda k: read_clip(path, k), n)
        rows.append((f"one clip, packed, {n:,} clips (read_clip)", f"{ms:.2f} ms", "<= 100 ms", _met(ms <= 100)))
        ms = access_ms(lambda k: sample_at(path, k), n)
        rows.append((f"one clip, packed, {n:,} clips (sample_at: + validation)", f"{ms:.2f} ms", "<= 100 ms",
                     _met(ms <= 100)))

    # annotation of the small set, no cache, from each form
    for name, path in ((".pt", pt_small), ("packed", arrow_small)):
        t = timed(lambda: annotate(path, use_cache=False), repeat=2)
        rate = args.small / t
        rows.append((f"annotate {args.small:,} clips from {name} (load + annotate)", f"{rate:,.0f} clips/s",
                     ">= 10,000 clips/s", _met(rate >= 10_000)))
    # stickgen curate in-process (annotate, thresholds, export) on 2,000 clips, no annotation cache
    n = min(2_000, args.small)
    pt2k, arrow2k = save_dataset(small[:n], tmp / "c.pt"), write_packed(small[:n], TiledIds(small)[:n], tmp / "c.arrow")
    for name, path, aim in ((".pt", pt2k, 0.95), ("packed", arrow2k, 0.39)):
        def curate() -> None:
            shutil.rmtree(tmp / ".stickgen-cache", ignore_errors=True)
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                assert cli_main(["curate", "--inputs", str(path), "--output-dir", str(tmp / f"out-{name}")]) == 0
        t = timed(curate, repeat=2)
        rows.append((f"stickgen curate {n:,} clips in-process, {name}", f"{t:.2f} s", f"<= {aim} s", _met(t <= aim)))
    rows.append(("peak RSS of this benchmark", f"{peak_rss_mb():,.0f} MB", "-", "-"))
    return rows


def _met(ok: bool) -> str:
    return "yes" if ok else "no"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=100_000, help="clips in the big packed file")
    ap.add_argument("--small", type=int, default=3_000, help="clips in the small set (.pt and packed)")
    ap.add_argument("--distinct", type=int, default=1_000, help="generated clips the sets are tiled from")
    ap.add_argument("--busy", action="store_true", help="beside one CPU-bound process")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp, (busy_neighbour() if args.busy else contextlib.nullcontext()):
        rows = run(args, Path(tmp))
    load = "beside a busy process" if args.busy else "no process of ours beside it"
    load += f"; machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end"
    print(f"\n## dataset format ({load}; `{' '.join(sys.argv)}`)\n")
    print(f"| {'measure':62} | {'now':>28} | {'aim':>18} | met |")
    print(f"|{'-' * 64}|{'-' * 30}|{'-' * 20}|-----|")
    for name, now, aim, met in rows:
        print(f"| {name:62} | {now:>28} | {aim:>18} | {met:>3} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
