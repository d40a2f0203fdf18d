"""Parallax speed: rendered frames/s at 256 px (1 and 2 processes), images/s through the cnn encoder,
and a training step of the small test model with and without images (first_frame, 64 px).

Run: nice -n 10 .venv/bin/python tests/benchmarks/bench_parallax.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from stickgen_core.config import load_config
from stickgen_core.parallax.encoder import ImageEncoder
from stickgen_core.parallax.training import ParallaxMotionData
from stickgen_core.parallax.writer import RenderSettings, render_dataset
from stickgen_core.io import atomic_torch_save
from stickgen_core.model import StickFigureTransformer
from stickgen_core.synth import SynthConfig, generate_dataset
from stickgen_core.train.data import MotionData
from stickgen_core.train.losses import compute_losses


def render_rate(samples, workers: int, root: Path) -> float:
    t = time.perf_counter()
    summary = render_dataset(samples, root, RenderSettings(views=4, frames_per_view=8, size=256), workers=workers)
    return summary.images / (time.perf_counter() - t)


def encoder_rate(size: int = 64, batch: int = 64, reps: int = 5) -> float:
    enc = ImageEncoder("cnn", 256).eval()
    x = torch.rand(batch, 3, size, size)
    with torch.no_grad():
        enc(x)
        t = time.perf_counter()
        for _ in range(reps):
            enc(x)
    return batch * reps / (time.perf_counter() - t)


def step_ms(data: MotionData, image: bool, reps: int = 5) -> float:
    cfg = load_config("configs/small.yaml", overrides={"model": {"d_model": 128, "n_layers": 2, "n_heads": 4,
                                                                 "ffn_dim": 256, "image_conditioning": image}})
    model = StickFigureTransformer(cfg.model, data.embedding_dim)
    opt = torch.optim.AdamW(model.parameters())
    times = []
    for i, batch in zip(range(reps + 1), data.batches("train", 8, 0, 0)):
        t = time.perf_counter()
        loss = compute_losses(model, batch, cfg.loss_weights, cfg.training)["total"]
        loss.backward()
        opt.step()
        opt.zero_grad()
        if i:
            times.append(time.perf_counter() - t)
    return 1000 * sum(times) / len(times)


def main() -> None:
    torch.set_num_threads(1)
    samples = generate_dataset(16, seed=0, config=SynthConfig(multi_actor_rate=0.0, max_seconds=4))
    for s in samples:
        s["embedding"] = torch.randn(32)
    with tempfile.TemporaryDirectory() as tmp:
        r1 = render_rate(samples[:4], 1, Path(tmp) / "one")
        r2 = render_rate(samples[4:12], 2, Path(tmp) / "two")
        path = Path(tmp) / "d.pt"
        atomic_torch_save({"sequences": samples}, path)
        render_dataset(samples, Path(tmp) / "p64", RenderSettings(views=2, frames_per_view=4, size=64))
        cfg = load_config("configs/small.yaml", overrides={"data": {"parallax_root": str(Path(tmp) / "p64"),
                                                                    "parallax_image_size": 64}})
        plain = MotionData(path, val_fraction=0.0, seed=0, max_frames=64)
        with_images = ParallaxMotionData(path, cfg.data, val_fraction=0.0, seed=0, max_frames=64)
        s0, s1 = step_ms(plain, False), step_ms(with_images, True)
    print("| measure | value |\n|---|---|")
    print(f"| rendered frames/s, 256 px, 1 process | {r1:.1f} |")
    print(f"| rendered frames/s, 256 px, 2 processes | {r2:.1f} |")
    print(f"| cnn encoder images/s, 64 px, batch 64, 1 thread | {encoder_rate():.0f} |")
    print(f"| training step ms, batch 8, without images | {s0:.0f} |")
    print(f"| training step ms, batch 8, first_frame images 64 px (read from PNG) | {s1:.0f} |")


if __name__ == "__main__":
    main()
