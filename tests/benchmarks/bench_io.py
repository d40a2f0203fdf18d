"""Dataset I/O benchmark: generation, save and load throughput, file size, peak RSS.

    python tests/benchmarks/bench_io.py --num-samples 10000

Issue 2 names no baseline, so the table reports absolute figures only.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from benchlib import peak_rss_mb

from stickgen_core.io import load_dataset, save_dataset
from stickgen_core.synth import SynthConfig, generate_dataset




def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--num-samples", type=int, default=10_000)
    ap.add_argument("--defect-rate", type=float, default=0.2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    n = args.num_samples
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.pt"
        t0 = time.perf_counter()
        data = generate_dataset(n, seed=0, config=SynthConfig(defect_rate=args.defect_rate))
        t_gen = time.perf_counter() - t0
        frames = sum(len(s["motion"]) for s in data)
        rows.append(("generate", n / t_gen, t_gen * 1000 / n, peak_rss_mb()))
        t0 = time.perf_counter()
        save_dataset(data, path)
        t_save = time.perf_counter() - t0
        rows.append(("save (validate + atomic write)", n / t_save, t_save * 1000 / n, peak_rss_mb()))
        size_mb = path.stat().st_size / 2**20
        del data
        t0 = time.perf_counter()
        ds = load_dataset(path)
        t_load = time.perf_counter() - t0
        assert len(ds) == n
        rows.append(("load (weights_only + validate + ids)", n / t_load, t_load * 1000 / n, peak_rss_mb()))
    print(f"\n{n} clips, {frames} frames ({frames / n / 25:.1f} s mean), file {size_mb:.1f} MB "
          f"({size_mb * 2**20 / frames:.0f} B/frame), torch threads {args.threads}\n")
    print(f"| {'phase':38} | {'clips/s':>9} | {'ms/clip':>8} | {'peak RSS MB':>11} |")
    print(f"|{'-' * 40}|{'-' * 11}|{'-' * 10}|{'-' * 13}|")
    for name, rate, ms, rss in rows:
        print(f"| {name:38} | {rate:9.0f} | {ms:8.3f} | {rss:11.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
