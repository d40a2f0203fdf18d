"""Training benchmark: small-config step time on CPU, peak RSS, embedding throughput.

    python tests/benchmarks/bench_train.py [--steps 10] [--threads 2]

Baseline (issue 5): the public Stick-Gen small model (7.26 M parameters, d_model 256,
6 layers) takes about 0.8 s for forward + backward of a batch of 8 x 250 frames on this
machine class. The table compares at the same width and depth. GPU figures (tokens/s and
share of bf16 peak for the large config) need a lent accelerator; without one the row says so.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

import torch
from benchlib import peak_rss_mb as rss_mb
from benchlib import synthetic_batch

from stickgen_core.config import LossWeights, load_config
from stickgen_core.model import StickFigureTransformer
from stickgen_core.train.losses import compute_losses

REFERENCE_STEP_S = 0.8




def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--texts", type=int, default=2000)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = load_config("configs/small.yaml")
    model = StickFigureTransformer(cfg.model, 384)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    b = synthetic_batch(8, 250, 384)
    times = []
    for i in range(args.steps + 2):  # two warm-up steps
        t = time.perf_counter()
        terms = compute_losses(model, b, LossWeights())
        terms["total"].backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i >= 2:
            times.append(time.perf_counter() - t)
    step = statistics.median(times)
    fwd_bwd = []
    for _ in range(3):
        t = time.perf_counter()
        compute_losses(model, b, LossWeights())["total"].backward()
        model.zero_grad(set_to_none=True)
        fwd_bwd.append(time.perf_counter() - t)

    from stickgen_core.embedding import TextEncoder

    texts = [f"A person number {i} walks and then waves {i % 7} times." for i in range(args.texts)]
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        enc = TextEncoder(cache_dir=tmp)
        load_s = time.perf_counter() - t
        t = time.perf_counter()
        enc.encode(texts)
        cold = time.perf_counter() - t
        t = time.perf_counter()
        enc.encode(texts)
        warm = time.perf_counter() - t

    fb = statistics.median(fwd_bwd)
    print(f"\nsmall config: d_model {cfg.model.d_model}, {cfg.model.n_layers} layers, "
          f"{model.num_parameters() / 1e6:.2f} M parameters, batch 8 x 250 frames, {args.threads} threads\n")
    print(f"| {'measure':44} | {'value':>10} | {'reference':>9} | {'ratio':>6} |")
    print(f"|{'-' * 46}|{'-' * 12}|{'-' * 11}|{'-' * 8}|")
    rows = [("forward + backward, ms", fb * 1000, REFERENCE_STEP_S * 1000),
            ("optimizer step incl. fwd+bwd, ms", step * 1000, float("nan")),
            ("samples/s (8 per step)", 8 / step, 8 / REFERENCE_STEP_S),
            ("peak RSS, MB", rss_mb(), float("nan")),
            ("text encoder load, s", load_s, float("nan")),
            ("embedding sentences/s, cold", args.texts / cold, float("nan")),
            ("embedding sentences/s, cached", args.texts / warm, float("nan"))]
    for name, value, ref in rows:
        ratio = value / ref if ref == ref else float("nan")
        print(f"| {name:44} | {value:10.1f} | {ref:9.1f} | {ratio:6.2f} |")
    print("\nGPU (large config, bf16): tests/benchmarks/bench_gpu.py prints tokens/s and MFU where a GPU is present")
    return 0


if __name__ == "__main__":
    sys.exit(main())
