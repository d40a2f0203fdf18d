"""The optimizer and its learning rate: AdamW groups, and warm-up + cosine as a pure function of the step.

The learning rate is set before every optimizer step from the number of steps already taken, so a
resumed run needs nothing but ``global_step`` to continue the schedule: there is no scheduler state
to save, restore or forget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ..config import StickGenConfig


def lr_factor(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """Linear warm-up, then cosine decay to ``min_ratio`` of the peak at ``total`` steps."""
    if step < warmup:
        return (step + 1) / max(warmup, 1)
    progress = min((step - warmup) / max(total - warmup, 1), 1.0)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


@dataclass(frozen=True)
class LRSchedule:
    """Each parameter group's peak learning rate and the shared warm-up + cosine shape."""

    peaks: tuple[float, ...]
    warmup: int
    total: int
    min_ratio: float

    def lr(self, step: int, group: int = 0) -> float:
        """The learning rate of ``group`` for the optimizer step taken after ``step`` steps."""
        return self.peaks[group] * lr_factor(step, self.warmup, self.total, self.min_ratio)

    def apply(self, opt: torch.optim.Optimizer, step: int) -> None:
        """Set every group's learning rate for the step that follows ``step`` completed steps."""
        for i, group in enumerate(opt.param_groups):
            group["lr"] = self.lr(step, i)

    def state_dict(self, step: int) -> dict[str, Any]:
        """The checkpoint's ``scheduler_state_dict`` (the spec's key): a record of the schedule at ``step``;
        resuming recomputes the rate from ``global_step`` and the config, never from this."""
        return {"schedule": "warmup_cosine", "last_epoch": step, "base_lrs": list(self.peaks),
                "warmup_steps": self.warmup, "total_steps": self.total, "min_lr_ratio": self.min_ratio}


def build_optimizer(model: torch.nn.Module, cfg: StickGenConfig, steps_per_epoch: int
                    ) -> tuple[torch.optim.AdamW, list[list[torch.nn.Parameter]], LRSchedule]:
    """AdamW over the trainable parameters, the parameter parts clipped separately, and the schedule.

    The refiner learns at ``diffusion.learning_rate`` and has its own gradient clipping, so that its
    (differently scaled) loss never shrinks the transformer's steps. Each part has a weight-decayed group
    (matrices) and an undecayed one (biases, norms); empty groups are left out.
    """
    tc = cfg.training
    params = [p for p in model.parameters() if p.requires_grad]
    refining = {id(p) for n, p in model.named_parameters() if ".refiner." in f".{n}"}
    parts = [[p for p in params if id(p) not in refining], [p for p in params if id(p) in refining]]
    groups = [g for part, lr in zip(parts, (tc.learning_rate, cfg.diffusion.learning_rate))
              for g in ({"params": [p for p in part if p.dim() >= 2], "weight_decay": tc.weight_decay, "lr": lr},
                        {"params": [p for p in part if p.dim() < 2], "weight_decay": 0.0, "lr": lr})
              if g["params"]]
    opt = torch.optim.AdamW(groups, lr=tc.learning_rate, betas=tuple(tc.betas), eps=tc.eps)
    total = steps_per_epoch * tc.epochs
    warmup = tc.warmup_steps if tc.warmup_epochs is None else round(tc.warmup_epochs * steps_per_epoch)
    schedule = LRSchedule(tuple(float(g["lr"]) for g in groups), warmup, total, tc.min_lr_ratio)
    schedule.apply(opt, 0)
    return opt, parts, schedule
