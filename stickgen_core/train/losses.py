"""Training losses, weighted by ``loss_weights``; a zero weight skips its term's work."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import LossWeights, TrainingConfig
from ..schema import JOINT_INDEX
from ..skeleton import _JOINT_END, _JOINT_SEG
from .data import Batch

# 48-vector columns of the joints the attachment term relates: shoulders to the neck, hips to the pelvis
_COL = {n: int(_JOINT_SEG[i]) * 4 + int(_JOINT_END[i]) * 2 for n, i in JOINT_INDEX.items()}
_LIMB_COLS = [_COL[n] for n in ("l_shoulder", "r_shoulder", "l_hip", "r_hip")]
_ROOT_COLS = [_COL[n] for n in ("neck", "neck", "pelvis_center", "pelvis_center")]


def attachment_offsets(motion: torch.Tensor) -> torch.Tensor:
    """``[..., 48]`` -> ``[..., 4, 2]``: each shoulder from the neck, each hip from the pelvis centre."""
    limb = torch.stack([motion[..., c: c + 2] for c in _LIMB_COLS], -2)
    root = torch.stack([motion[..., c: c + 2] for c in _ROOT_COLS], -2)
    return limb - root


def model_inputs(model: torch.nn.Module, batch: Batch, tc: TrainingConfig | None) -> tuple[torch.Tensor, dict]:
    """Input frames 0..T-2 and keyword inputs; with ``tc`` (training) the exposure-bias and
    guidance settings apply: Gaussian noise on the inputs, a share of inputs replaced by the
    model's own (no-grad, teacher-forced) predictions, a share of clips without their text."""
    inputs = batch.motion[:, :-1]
    kw: dict = {"total": batch.total, "frame0": batch.frame0}
    if getattr(batch, "image", None) is not None:  # image-conditioned training (parallax.training.ParallaxBatch)
        kw.update(image=batch.image, image_camera=batch.image_camera)
    if tc is None:
        return inputs, kw
    B = inputs.shape[0]
    if tc.text_dropout > 0:
        kw["text_keep"] = torch.rand(B, device=inputs.device) >= tc.text_dropout
    if tc.scheduled_sampling > 0:
        with torch.no_grad():
            own = model(batch.text, inputs, batch.actions[:, :-1], batch.camera[:, :-1], **kw)["pose"][:, :-1]
        swap = torch.rand(inputs.shape[:2], device=inputs.device) < tc.scheduled_sampling
        inputs = torch.where(swap[..., None], own.detach(), inputs)
    if tc.input_noise > 0:
        inputs = inputs + tc.input_noise * torch.randn_like(inputs)
    return inputs, kw


def refiner_of(model: torch.nn.Module) -> torch.nn.Module | None:
    """The diffusion refiner of a model (through a DDP or PEFT wrapper), or None."""
    core = model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model
    return getattr(core, "refiner", None)


def compute_losses(model: torch.nn.Module, batch: Batch, w: LossWeights,
                   tc: TrainingConfig | None = None) -> dict[str, torch.Tensor]:
    """Teacher-forced next-frame losses: pose MSE, temporal (velocity) MSE, action CE, physics MSE.

    The model sees frames 0..T-2 (and the text) and predicts frames 0..T-1. ``tc`` (training
    only) turns on text dropout, input noise and scheduled sampling (``model_inputs``). With a
    refiner, ``diffusion`` is its denoising loss over the (detached) predicted motion: the
    refiner learns to correct the transformer, never the other way round. Validation (no
    ``tc``) draws its windows and noise from a fixed generator: comparable between epochs and
    the global random stream stays as it was.
    """
    inputs, kw = model_inputs(model, batch, tc)
    out = model(batch.text, inputs, batch.actions[:, :-1], batch.camera[:, :-1], **kw)
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
    if w.attachment > 0:  # the free shoulder joints (and the hips) where the body has them, not only near it
        d = attachment_offsets(out["pose"]) - attachment_offsets(batch.motion)
        terms["attachment"] = (d.pow(2).sum(-1).mean(-1) * mask).sum() / n
    refiner = refiner_of(model)
    if w.diffusion > 0 and refiner is not None:
        fixed = None if tc is not None else torch.Generator().manual_seed(0)
        terms["diffusion"] = refiner.loss(out["pose"].detach(), batch.motion, batch.text, mask, fixed)
    total = w.pose * terms["pose"]
    for name in ("temporal", "action", "physics", "diffusion", "attachment"):
        if name in terms:
            total = total + getattr(w, name) * terms[name]
    terms["total"] = total
    return terms
