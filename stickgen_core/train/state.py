"""Where a run stands (``TrainState``), what a checkpoint saves of it, and how a resume restores it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..config import StickGenConfig
from ..errors import CheckpointError
from ..model.action_plan import CHECKPOINT_KEY as PLANNER_KEY
from ..model.loading import load_weights
from .checkpoint import recorded_best, restore_rng
from .data import MotionData
from .optim import LRSchedule


@dataclass
class TrainState:
    """The loop's position: everything a resumed run needs besides weights, optimizer and RNG."""

    epoch: int = 0                          # the epoch the loop runs (or continues)
    step: int = 0                           # optimizer steps taken; the learning rate follows from it
    best: float = math.inf                  # the best validation loss so far
    skip: int = 0                           # batches of ``epoch`` already used before a mid-epoch stop
    carried: tuple[float, int] = (0.0, 0)   # that epoch's loss sum and batch count before the stop


def resume_into(ck: dict, path: str | Path, core: torch.nn.Module, opt: torch.optim.Optimizer,
                best_file: Path) -> TrainState:
    """Load a checkpoint's weights, optimizer state and RNG into this run; returns where it stood.

    The best so far is the checkpoint's record or this folder's best file if that is better (a latest
    written before a crash, an older checkpoint without the key): a resumed run never replaces a better best.
    """
    load_weights(core, ck["model_state_dict"], path, "the model of this run")
    if "optimizer_state_dict" in ck:  # absent when an old-schema checkpoint was migrated
        try:
            opt.load_state_dict(ck["optimizer_state_dict"])  # the learning rate follows from global_step
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise CheckpointError(f"{path}: its optimizer state does not fit this run "
                                  f"({type(exc).__name__}: {str(exc)[:120]})", path) from None
    state = TrainState(epoch=int(ck["epoch"]) + 1, step=int(ck["global_step"]))
    if ck.get("resume_batch"):  # stopped inside an epoch: skip the batches already used
        state.epoch, state.skip = int(ck["resume_epoch"]), int(ck["resume_batch"])
        # the epoch's loss so far, so its logged train_loss covers every batch, not only those after the resume
        state.carried = (float(ck.get("resume_running", 0.0)), int(ck.get("resume_batches", 0)))
    state.best = min(float(ck.get("best_val_loss", math.inf)), recorded_best(best_file))
    if "rng_state" in ck:
        restore_rng(ck["rng_state"])
    return state


@dataclass
class Snapshots:
    """What every checkpoint of this run holds beside the loop's position and losses."""

    core: torch.nn.Module          # the model itself, never its DDP wrapper
    opt: torch.optim.Optimizer
    schedule: LRSchedule
    cfg: StickGenConfig
    data: MotionData
    planner: dict | None

    def payload(self, state: TrainState, epoch: int, train_loss: float, val_loss: float, metrics: dict,
                **extra: Any) -> dict[str, Any]:
        """The checkpoint dict: ``epoch`` is the last completed one; ``extra`` marks a mid-epoch stop."""
        weights = self.core.state_dict()
        lora = {k: v.detach().clone() for k, v in weights.items() if "lora_" in k} if self.cfg.lora.enabled else None
        return {**extra, "epoch": epoch, "global_step": state.step, "model_state_dict": weights,
                "optimizer_state_dict": self.opt.state_dict(),
                "scheduler_state_dict": self.schedule.state_dict(state.step),
                "best_val_loss": state.best, "train_loss": train_loss, "val_loss": val_loss, "metrics": metrics,
                "config": self.cfg.to_dict(), "stage": self.cfg.training.stage,
                "embedding_dim": self.data.embedding_dim, "physics_scale": self.data.physics_scale,
                **({"lora_state_dict": lora} if lora is not None else {}),
                **({PLANNER_KEY: self.planner} if self.planner else {})}
