"""Device-side: time real training steps (the run's config, batch, scheduled sampling) and print how many epochs fit in a budget."""
import math, sys, time
import torch
sys.path.insert(0, "tests/benchmarks")
from benchlib import synthetic_batch
from stickgen_core.config import load_config
from stickgen_core.model import StickFigureTransformer
from stickgen_core.train.losses import compute_losses

cfg_path, n_clips, budget_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
cfg = load_config(cfg_path)
tc = cfg.training
dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
model = StickFigureTransformer(cfg.model, 384).to(dev)
opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
B, T = (tc.batch_size, tc.max_frames) if dev.type == "cuda" else (2, 16)
batch = synthetic_batch(B, T, 384).to(dev)
amp = torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" else torch.autocast("cpu", enabled=False)
ts = []
for i in range(13):
    if dev.type == "cuda": torch.cuda.synchronize()
    t = time.perf_counter()
    with amp:
        loss = compute_losses(model, batch, cfg.loss_weights, tc)["total"]
    loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
    if dev.type == "cuda": torch.cuda.synchronize()
    if i >= 3: ts.append(time.perf_counter() - t)
step = sorted(ts)[len(ts) // 2]
steps = math.ceil(n_clips * (1 - tc.val_fraction) / tc.batch_size)
epoch_s = steps * step * 1.6 + 3  # data collation on the host, validation, checkpoint
print(f"step {step*1000:.1f} ms, {steps} steps/epoch, ~{epoch_s:.0f} s/epoch -> {max(1, int(budget_s // epoch_s))} epochs", file=sys.stderr)
print(max(1, int(budget_s // epoch_s)))
