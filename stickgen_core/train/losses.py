"""Training losses, weighted by ``loss_weights``; a zero weight skips its term's work."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import LossWeights
from .data import Batch


def compute_losses(model: torch.nn.Module, batch: Batch, w: LossWeights) -> dict[str, torch.Tensor]:
    """Teacher-forced next-frame losses: pose MSE, temporal (velocity) MSE, action CE, physics MSE.

    The model sees frames 0..T-2 (and the text) and predicts frames 0..T-1.
    """
    out = model(batch.text, batch.motion[:, :-1], batch.actions[:, :-1], batch.camera[:, :-1])
    mask = batch.mask
    n = mask.sum().clamp(min=1)
    terms: dict[str, torch.Tensor] = {}
    err = (out["pose"] - batch.motion).pow(2).mean(-1)
    terms["pose"] = (err * mask).sum() / n
    if w.temporal > 0:
        both = mask[:, 1:] & mask[:, :-1]
        dv = (out["pose"][:, 1:] - out["pose"][:, :-1]) - (batch.motion[:, 1:] - batch.motion[:, :-1])
        terms["temporal"] = (dv.pow(2).mean(-1) * both).sum() / both.sum().clamp(min=1)
    if w.action > 0:
        ce = F.cross_entropy(out["action_logits"].reshape(-1, out["action_logits"].shape[-1]),
                             batch.actions.reshape(-1), reduction="none").view_as(mask)
        terms["action"] = (ce * mask).sum() / n
        terms["action_acc"] = ((out["action_logits"].argmax(-1) == batch.actions) & mask).sum() / n
    if w.physics > 0:
        terms["physics"] = ((out["physics"] - batch.physics).pow(2).mean(-1) * mask).sum() / n
    total = w.pose * terms["pose"]
    for name in ("temporal", "action", "physics"):
        if name in terms:
            total = total + getattr(w, name) * terms[name]
    terms["total"] = total
    return terms
