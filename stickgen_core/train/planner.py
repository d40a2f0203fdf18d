"""Fit the text -> action plan of a checkpoint: with training, or afterwards for older runs."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from ..config import StickGenConfig
from ..errors import CheckpointError, DatasetError
from ..io import load_dataset
from ..model.action_plan import CHECKPOINT_KEY, fit_action_planner
from ..model.loading import load_config_from_checkpoint
from .checkpoint import load_checkpoint, save_checkpoint


def planner_for_training(cfg: StickGenConfig, samples: Sequence[dict], train_idx: Sequence[int]) -> dict | None:
    """The saved form of an action-conditioned model's planner, fitted on the training split."""
    if not (cfg.model.action_conditioning and cfg.training.action_plan):
        return None
    source = samples.only("embedding", "actions") if hasattr(samples, "only") else samples  # streamed: 2 fields
    train = [source[i] for i in train_idx]
    planner, _ = fit_action_planner(torch.stack([s["embedding"].float() for s in train]),
                                    [s["actions"] for s in train], cfg.model.num_actions, seed=cfg.training.seed)
    return planner.to_checkpoint()


def fit_planner_into(checkpoint: str | Path, data: str | Path, output: str | Path | None = None) -> tuple[Path, float, int]:
    """Fit a planner on the embedded clips ``data`` and store it in the checkpoint (atomically).
    Returns the file written, the planner's training accuracy and the number of clips."""
    ck = load_checkpoint(checkpoint)
    cfg = load_config_from_checkpoint(ck, checkpoint)
    if not cfg.model.action_conditioning:
        raise CheckpointError(f"{checkpoint}: model.action_conditioning is off, so the model takes no action input "
                           "to plan", checkpoint)
    samples = list(load_dataset(data))
    missing = [i for i, s in enumerate(samples) if s.get("embedding") is None]
    if missing:
        raise DatasetError(f"{data}: sample {missing[0]} has no text embedding; run `stickgen embed` first", data)
    dim = int(samples[0]["embedding"].shape[0])
    if dim != ck.get("embedding_dim", dim):
        raise DatasetError(f"{data}: {dim}-dim text embeddings, but {checkpoint} was trained on "
                           f"{ck['embedding_dim']}-dim ones", data)
    planner, acc = fit_action_planner(torch.stack([s["embedding"].float() for s in samples]),
                                      [s["actions"] for s in samples], cfg.model.num_actions,
                                      seed=cfg.training.seed)
    ck[CHECKPOINT_KEY] = planner.to_checkpoint()
    out = Path(output or checkpoint)
    save_checkpoint(out, ck)
    return out, acc, len(samples)
