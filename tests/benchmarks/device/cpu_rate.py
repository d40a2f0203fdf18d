"""Time real training steps of each config on this CPU (2 threads) and say how many fit in 55 minutes.

    python tests/benchmarks/device/cpu_rate.py CONFIG.yaml [CONFIG.yaml ...]

Issue 14 sizes its GPU "CPU-hour replays" (run_budget.sh) with it: the step counts are then scaled by
budget run T's real rate (2,262 steps in 55 minutes), since the machine's speed drifts between sessions.
"""
import sys, time, torch
sys.path.insert(0, "tests/benchmarks")
from benchlib import synthetic_batch
from stickgen_core.config import load_config
from stickgen_core.model import StickFigureTransformer
from stickgen_core.train.losses import compute_losses
torch.set_num_threads(2)
for path in sys.argv[1:]:
    cfg = load_config(path); tc = cfg.training
    model = StickFigureTransformer(cfg.model, 384)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch = synthetic_batch(tc.batch_size, tc.max_frames, 384)
    ts = []
    for i in range(7):
        t = time.perf_counter()
        loss = compute_losses(model, batch, cfg.loss_weights, tc)["total"]
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
        if i >= 2: ts.append(time.perf_counter() - t)
    step = sorted(ts)[len(ts)//2]
    print(f"{path}: {model.num_parameters()/1e6:.2f} M, batch {tc.batch_size}x{tc.max_frames}: {step*1000:.0f} ms/step -> {int(55*60/step/1.1)} steps in 55 min (10% for data/val)")
