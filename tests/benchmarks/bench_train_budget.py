"""What an hour of CPU training buys: optimizer steps of the text-following small model (issue 14).

    python tests/benchmarks/bench_train_budget.py [--config configs/small_t2m.yaml] [--steps 6] [--threads 2]

Times real training steps (forward with scheduled sampling, backward, AdamW) of the config at
issue 14's budget batch (8 clips x 250 frames) three ways: as configured (dropout 0.1, float32:
the budget run T of session 3 trained like this, 2,262 steps in 55 minutes), with dropout off, and
with dropout off plus `training.precision: bfloat16`. Idle and beside one busy process. The ratio
is against the first row of the same load; "steps / 55 min" leaves 10 % for data and validation.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
from benchlib import busy_neighbour, synthetic_batch

from stickgen_core.config import load_config
from stickgen_core.model import StickFigureTransformer
from stickgen_core.train.losses import compute_losses
from stickgen_core.train.trainer import autocast_for

BATCH, FRAMES = 8, 250
VARIANTS = (("as configured (T)", None, "float32"), ("dropout 0", 0.0, "float32"),
            ("dropout 0 + bfloat16", 0.0, "bfloat16"))


def step_ms(config: str, dropout: float | None, precision: str, steps: int) -> float:
    """Median wall time of one optimizer step, after two warm-up steps."""
    overrides = {"training": {"batch_size": BATCH, "max_frames": FRAMES, "precision": precision}}
    if dropout is not None:
        overrides["model"] = {"dropout": dropout}
    cfg = load_config(config, overrides=overrides)
    torch.manual_seed(0)
    model = StickFigureTransformer(cfg.model, 384)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch = synthetic_batch(BATCH, FRAMES, 384)
    amp = autocast_for(precision, torch.device("cpu"))
    times = []
    for i in range(steps + 2):
        t = time.perf_counter()
        with amp:
            loss = compute_losses(model, batch, cfg.loss_weights, cfg.training)["total"]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i >= 2:
            times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/small_t2m.yaml")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for load in ("idle", "busy neighbour"):
        base = None
        for name, dropout, precision in VARIANTS:
            if load == "idle":
                ms = step_ms(args.config, dropout, precision, args.steps)
            else:
                with busy_neighbour():
                    ms = step_ms(args.config, dropout, precision, args.steps)
            base = base or ms
            rows.append((name, load, ms, BATCH / ms * 1000, int(55 * 60 / (ms / 1000) / 1.1), base / ms))
    print(f"\n{args.config}, batch {BATCH} x {FRAMES} frames, {args.threads} threads, "
          f"bf16 kernels: {torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()}\n")
    print(f"| {'variant':24} | {'load':14} | {'ms/step':>8} | {'clips/s':>7} | {'steps / 55 min':>14} | {'x T':>5} |")
    print(f"|{'-' * 26}|{'-' * 16}|{'-' * 10}|{'-' * 9}|{'-' * 16}|{'-' * 7}|")
    for name, load, ms, cps, n, ratio in rows:
        print(f"| {name:24} | {load:14} | {ms:8.0f} | {cps:7.1f} | {n:14,d} | {ratio:5.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
