"""Training losses, weighted by ``loss_weights``; a zero weight skips its term's work."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..anatomy import STANDARD_HEIGHT, BodyReach
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


_NECK, _CHEST, _PELVIS = _COL["neck"], _COL["chest"], _COL["pelvis_center"]
# (upper, middle, lower joint) of each elbow and knee, as 48-vector columns
_BEND_COLS = [(_COL[a], _COL[b], _COL[c]) for a, b, c in (("l_shoulder", "l_elbow", "l_wrist"),
                                                          ("r_shoulder", "r_elbow", "r_wrist"),
                                                          ("l_hip", "l_knee", "l_ankle"), ("r_hip", "r_knee", "r_ankle"))]
#: Sine of the bend under which a ground-truth limb counts as straight: no direction to keep.
BENT_SINE = 0.17  # ~10 degrees


def _xy(motion: torch.Tensor, col: int) -> torch.Tensor:
    return motion[..., col: col + 2]


def attachment_gaps(motion: torch.Tensor) -> torch.Tensor:
    """``[..., 48]`` -> ``[..., 4]``: each shoulder's distance to the neck->chest segment, each hip's to
    the pelvis centre (``anatomy.measure``'s gap, in the motion's units), differentiable."""
    neck, chest = _xy(motion, _NECK), _xy(motion, _CHEST)
    ab = chest - neck
    out = []
    for c in _LIMB_COLS[:2]:
        p = _xy(motion, c)
        t = (((p - neck) * ab).sum(-1) / (ab * ab).sum(-1).clamp(min=1e-12)).clamp(0.0, 1.0)
        out.append((p - neck - t[..., None] * ab).norm(dim=-1))
    out += [(_xy(motion, c) - _xy(motion, _PELVIS)).norm(dim=-1) for c in _LIMB_COLS[2:]]
    return torch.stack(out, -1)


def figure_height(motion: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``[B, T, 48]`` -> ``[B]``: standing height from each bone's longest real frame (as ``anatomy``'s rest height)."""
    seg = motion.reshape(*motion.shape[:-1], 12, 4)
    L = torch.hypot(seg[..., 2] - seg[..., 0], seg[..., 3] - seg[..., 1]).masked_fill(~mask[..., None], 0.0)
    R = L.amax(1)
    return R[:, 0] + R[:, 1] + R[:, 2] + 0.5 * (R[:, 7] + R[:, 8] + R[:, 9] + R[:, 10])


def attachment_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
                    reach: BodyReach = BodyReach()) -> torch.Tensor:
    """Per real frame: the shoulders and hips where the ground truth has them (squared offsets from the neck
    and pelvis centre), plus the squared gap past ``reach`` (standard m, the clean data's 99th percentile) —
    0 for a prediction that is the clean clip, growing with an arm that floats away."""
    n = mask.sum().clamp(min=1)
    match = (attachment_offsets(pred) - attachment_offsets(target)).pow(2).sum(-1).mean(-1)
    scale = STANDARD_HEIGHT / figure_height(target, mask).clamp(min=1e-6)                     # [B]
    limit = torch.tensor([reach.shoulder_gap] * 2 + [reach.hip_gap] * 2, device=pred.device, dtype=pred.dtype)
    past = (attachment_gaps(pred) * scale[:, None, None] - limit).clamp(min=0) / scale[:, None, None]
    return ((match + past.pow(2).mean(-1)) * mask).sum() / n


def joint_limit_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Elbows and knees bent the way the ground truth bends them: where a ground-truth limb is bent (sine of
    the bend over ``BENT_SINE``), the squared sine of a predicted bend the other way. 0 on a clean clip."""
    def sines(m: torch.Tensor) -> torch.Tensor:
        out = []
        for a, b, c in _BEND_COLS:
            u, v = _xy(m, b) - _xy(m, a), _xy(m, c) - _xy(m, b)
            cross = u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]
            out.append(cross / (u.norm(dim=-1) * v.norm(dim=-1)).clamp(min=1e-6))
        return torch.stack(out, -1)                                                            # [B, T, 4]
    want = sines(target)
    bent = (want.abs() > BENT_SINE) & mask[..., None]
    wrong = (-torch.sign(want) * sines(pred)).clamp(min=0).pow(2)
    return (wrong * bent).sum() / mask.sum().clamp(min=1)


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
        terms["attachment"] = attachment_loss(out["pose"], batch.motion, mask)
    if w.joint_limit > 0:
        terms["joint_limit"] = joint_limit_loss(out["pose"], batch.motion, mask)
    refiner = refiner_of(model)
    if w.diffusion > 0 and refiner is not None:
        fixed = None if tc is not None else torch.Generator().manual_seed(0)
        terms["diffusion"] = refiner.loss(out["pose"].detach(), batch.motion, batch.text, mask, fixed)
    total = w.pose * terms["pose"]
    for name in ("temporal", "action", "physics", "diffusion", "attachment", "joint_limit"):
        if name in terms:
            total = total + getattr(w, name) * terms[name]
    terms["total"] = total
    return terms
