"""A workspace for the Train page tests: tiny configs of its own and an embedded curated export."""

from __future__ import annotations

from pathlib import Path

import torch

from stickgen_core.io import atomic_torch_save
from stickgen_core.synth import SynthConfig, generate_dataset

EMB = 16
# no action planner: its fit (400 full-batch steps before the first one) would be most of a tiny run's time
TINY_YAML = """# a model small enough to train in seconds on a shared CPU
model: {d_model: 32, n_layers: 1, n_heads: 2, ffn_dim: 64}
training: {epochs: 400, batch_size: 4, max_frames: 32, warmup_steps: 2, log_interval: 1, val_fraction: 0.25,
           seed: 3, device: cpu, learning_rate: 3.0e-4, action_plan: false}
"""
SFT_TINY_YAML = """extends: tiny.yaml
training: {stage: sft, epochs: 2, learning_rate: 1.0e-4}
"""


def embedded_split(path: Path, n: int = 24, seed: int = 0) -> Path:
    samples = generate_dataset(n, seed=seed, config=SynthConfig(multi_actor_rate=0.0, max_seconds=2))
    g = torch.Generator().manual_seed(seed + 1)
    for s in samples:
        s["embedding"] = torch.randn(EMB, generator=g)
    atomic_torch_save({"sequences": samples, "embedding_model": "test", "embedding_dim": EMB}, path)
    return path


def make_train_workspace(root: Path, template: Path | None = None) -> Path:
    """``root`` with configs/tiny.yaml, configs/sft_tiny.yaml and curated/{pretrain,sft}_data.pt (embedded)."""
    (root / "configs").mkdir(parents=True, exist_ok=True)
    (root / "curated").mkdir(parents=True, exist_ok=True)
    (root / "configs" / "tiny.yaml").write_text(TINY_YAML)
    (root / "configs" / "sft_tiny.yaml").write_text(SFT_TINY_YAML)
    if template is None:
        template = embedded_split(root / "curated" / "pretrain_data.pt")
    else:
        (root / "curated" / "pretrain_data.pt").write_bytes(template.read_bytes())
    (root / "curated" / "sft_data.pt").write_bytes(template.read_bytes())
    return root
