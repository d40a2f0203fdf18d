"""Parallax speed: rendered frames/s at 256 px (1 and 2 processes), images/s through the cnn encoder,
and a training step of the small test model with and without images (first_frame, 64 px).

Run: nice -n 10 .venv/bin/python tests/benchmarks/bench_parallax.py

``--eval``: how well generation follows a picture. Trains a small image-conditioned model on synthetic
clips rendered from seeded cameras, renders held-out clips from cameras of another seed, and reports
``stickgen parallax eval``'s first-frame pose error with the image, its camera only, and without (per
``--fusion``); the README's figures:
  nice -n 15 .venv/bin/python tests/benchmarks/bench_parallax.py --eval --clips 300 --epochs 40 \
      --max-frames 16 [--size 128] --fusion add prefix --work /tmp/bench_parallax
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

import numpy as np

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


class WordsEncoder:
    """Bag of hashed words (the bench needs no sentence model): texts sharing words get similar vectors."""

    name, dim = "words", 32

    def encode(self, texts, progress=None):
        out = []
        for t in texts:
            v = sum((np.random.default_rng(int(hashlib.sha256(w.lower().strip(".,").encode()).hexdigest()[:8], 16))
                     .normal(size=self.dim) for w in t.split()), np.zeros(self.dim)) + 1e-6
            out.append((v / np.linalg.norm(v)).astype(np.float32))
        return np.stack(out)


def embedded_file(n: int, seed: int, path: Path) -> Path:
    samples = generate_dataset(n, seed=seed, config=SynthConfig(multi_actor_rate=0.0, max_seconds=4))
    for s, v in zip(samples, WordsEncoder().encode([s["description"] for s in samples])):
        s["embedding"] = torch.from_numpy(v)
    atomic_torch_save({"sequences": samples}, path)
    return path


def image_following(clips: int, epochs: int, fusions: list[str], work: str | None = None,
                    max_frames: int = 64, size: int = 64, arch: str = "cnn") -> None:
    """Train per fusion on ``clips`` clips (cameras of seed 0), evaluate on 48 held-out clips (seed 7 cameras)."""
    from stickgen_core.config import resolve_sources
    from stickgen_core.io import load_dataset
    from stickgen_core.parallax.evaluation import evaluate_pictures
    from stickgen_core.train import train
    from stickgen_core.train.checkpoint import BEST

    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(work or scratch)  # --work keeps data, renders and checkpoints: a rerun evaluates again only
        tmp.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        train_pt, test_pt = tmp / "train.pt", tmp / "test.pt"
        if not train_pt.is_file():
            embedded_file(clips, 0, train_pt), embedded_file(48, 99, test_pt)
        px = "" if size == 64 else f"_{size}px"  # 64 px: the folder names of the first measurements
        r_train, r_test = tmp / f"r_train{px}", tmp / f"r_test{px}"
        render_dataset(load_dataset(train_pt).samples, r_train, RenderSettings(views=4, frames_per_view=4, size=size,
                                                                                seed=0), workers=2)
        render_dataset(load_dataset(test_pt).samples, r_test, RenderSettings(views=2, frames_per_view=4, size=size,
                                                                              seed=7), workers=2)
        print(f"rendered in {time.perf_counter() - t0:.0f} s")
        for fusion in fusions:
            t0 = time.perf_counter()
            cfg = load_config("configs/small.yaml", overrides={
                "model": {"d_model": 128, "n_layers": 3, "n_heads": 4, "ffn_dim": 256, "dropout": 0.0,
                          "image_fusion": fusion, "image_encoder_arch": arch},
                "training": {"epochs": epochs, "batch_size": 16, "max_frames": max_frames, "warmup_steps": 20,
                             "val_fraction": 0.1, "seed": 1, "log_interval": 50, "report_to": []},
                "data": {"use_parallax_augmentation": True, "parallax_root": str(r_train),
                         "parallax_image_size": size}})
            run = tmp / f"run_{fusion}_e{epochs}_f{max_frames}{px}{'' if arch == 'cnn' else '_' + arch}"
            if not (run / "checkpoints" / BEST).is_file():
                train(cfg, resolve_sources(cfg, str(train_pt), env={}), run)
            print(f"\nfusion {fusion}, encoder {arch}: trained {epochs} epochs on {clips} clips ({max_frames}-frame crops, {size} px) in "
                  f"{time.perf_counter() - t0:.0f} s; held-out clips, unseen cameras")
            for step in (0, None):  # the clip's first frame (little variety), then every rendered frame
                print(evaluate_pictures(run / "checkpoints" / BEST, test_pt, r_test,
                                        step=step).table())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--eval", action="store_true", help="measure image following instead of speed")
    ap.add_argument("--clips", type=int, default=300)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--fusion", nargs="+", default=["add"], help="model.image_fusion values to compare")
    ap.add_argument("--work", help="keep the data, renders and checkpoints here (a rerun only evaluates)")
    ap.add_argument("--arch", default="cnn", help="model.image_encoder_arch")
    ap.add_argument("--size", type=int, default=64, help="render and image size (px)")
    ap.add_argument("--max-frames", type=int, default=64, help="training crop length: only a crop's first frame "
                                                               "is the picture's, so shorter crops weigh it more")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.eval:
        image_following(args.clips, args.epochs, args.fusion, args.work, args.max_frames, args.size, args.arch)
        return
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
