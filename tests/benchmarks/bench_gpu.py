"""GPU path check (issue 16): training tokens/s and model FLOPs utilisation of the large config in bf16.

    python tests/benchmarks/bench_gpu.py [--config configs/large.yaml] [--batch 16] [--frames 250] [--steps 20]

Full training steps (forward, backward, AdamW) under bf16 autocast, as the trainer runs on CUDA.
A token is one frame. MFU = achieved model FLOP/s over the card's dense bf16 peak; model FLOPs per
token = 6 x parameters (weights, forward + backward) + 6 x layers x d_model x frames: nanoGPT's
12 L d T attention term, halved because causal attention computes half the score matrix. Without a GPU the same
code runs a few float32 CPU steps so the script stays tested, and the table says no GPU was measured.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from stickgen_core.config import LossWeights, load_config
from stickgen_core.model import StickFigureTransformer
from stickgen_core.train.losses import compute_losses

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import synthetic_batch  # noqa: E402

#: dense bf16 tensor-core peaks (TFLOP/s, no sparsity) by a substring of the device name
PEAK_BF16_TFLOPS = {"H200": 989.0, "H100 PCIe": 756.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10G": 70.0}
MFU_AIM = 0.30  # a small model (short sequences, 48-dim output) rarely gets near the large-LM figures


def peak_tflops(name: str) -> float | None:
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs" / "large.yaml"))
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--frames", type=int, default=250)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--compile", action="store_true", help="torch.compile the model first")
    args = ap.parse_args(argv)
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    steps, B, T = (args.steps, args.batch, args.frames) if cuda else (2, 2, 32)
    cfg = load_config(args.config)
    emb = cfg.model.embedding_dim if isinstance(cfg.model.embedding_dim, int) else 384  # all-MiniLM-L6-v2
    model = StickFigureTransformer(cfg.model, emb).to(device)
    params = model.num_parameters()
    run = torch.compile(model) if args.compile else model
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=cuda)
    batch = synthetic_batch(B, T, emb).to(device)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else torch.autocast("cpu", enabled=False)
    times = []
    for i in range(steps + 3):  # three warm-up steps (kernel selection, compile)
        if cuda:
            torch.cuda.synchronize()
        t = time.perf_counter()
        with amp:
            loss = compute_losses(run, batch, LossWeights())["total"]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        if i >= 3:
            times.append(time.perf_counter() - t)
    step = statistics.median(times)
    tokens = B * T / step
    flops_per_token = 6 * params + 6 * cfg.model.n_layers * cfg.model.d_model * T
    name = torch.cuda.get_device_name(0) if cuda else "CPU (float32 dry run, not a GPU figure)"
    peak = peak_tflops(name) if cuda else None
    mfu = tokens * flops_per_token / (peak * 1e12) if peak else float("nan")
    print(f"\n{Path(args.config).name}: {params / 1e6:.1f} M parameters, batch {B} x {T} frames, "
          f"{'bf16 autocast' if cuda else 'float32'}{', compiled' if args.compile else ''}, device: {name}\n")
    print("| measure | value | aim | ratio |")
    print("|---|---|---|---|")
    print(f"| step (fwd + bwd + AdamW), ms, median of {len(times)} | {step * 1000:.1f} | | |")
    print(f"| tokens (frames) / s | {tokens:,.0f} | | |")
    print(f"| model TFLOP/s | {tokens * flops_per_token / 1e12:.2f} | | |")
    if cuda:
        print(f"| MFU vs {peak or '?'} TFLOP/s bf16 peak | {mfu:.1%} | {MFU_AIM:.0%} | {mfu / MFU_AIM:.2f} |")
        print(f"| peak GPU memory, GB | {torch.cuda.max_memory_allocated() / 1e9:.1f} | | |")
    else:
        print("| MFU | not measured: no GPU here (run it where the device tool lends one) | | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
