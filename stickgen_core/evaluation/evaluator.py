"""The motion evaluator: a motion encoder and a text projection trained contrastively, plus an
action recogniser on the per-frame labels (one network, two heads).

Features are translation-free (joints relative to the pelvis x, the pelvis velocity), so
the same action reads the same anywhere on screen. The encoder is a small dilated 1-D
convolution stack over frames; the clip embedding is a masked mean and max over time.
Text is the sentence embedding the training files already carry (or the encoder named
by ``text_model`` for raw prompts).
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError, DatasetError
from ..io import atomic_torch_save, load_torch_file
from ..metrics import _X_COLS, _Y_COLS
from ..schema import FPS_DEFAULT, LEGACY_ACTIONS_V1, LEGACY_V1_TO_CURRENT, NUM_ACTIONS

log = logging.getLogger(__name__)

FEATURE_DIM = 34  # 16 joints x (x - pelvis x, y) + pelvis (vx, vy)
FORMAT = "stickgen-motion-evaluator/1"


@dataclass
class EvaluatorConfig:
    text_dim: int
    num_actions: int = NUM_ACTIONS
    hidden: int = 128
    embed_dim: int = 64
    stride: int = 2             # frames: 25 fps clips are read at 12.5 fps
    max_frames: int = 250       # frames of the original clip seen per training window
    text_model: str = "all-MiniLM-L6-v2"


def motion_features(motion: torch.Tensor, fps: float = FPS_DEFAULT) -> torch.Tensor:
    """``[B, T, 48]`` segments -> ``[B, T, 34]``: pelvis-relative joints and pelvis velocity (m/s)."""
    X, Y = motion[..., _X_COLS], motion[..., _Y_COLS]
    pelvis = torch.stack([X[..., 0], Y[..., 0]], -1)
    vel = torch.zeros_like(pelvis)
    vel[:, 1:] = (pelvis[:, 1:] - pelvis[:, :-1]) * fps
    return torch.cat([X - X[..., :1], Y, vel], -1)


class MotionEvaluator(nn.Module):
    def __init__(self, cfg: EvaluatorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden
        self.register_buffer("feat_mean", torch.zeros(FEATURE_DIM))
        self.register_buffer("feat_std", torch.ones(FEATURE_DIM))
        self.convs = nn.ModuleList([nn.Conv1d(FEATURE_DIM, h, 5, padding=2)] +
                                   [nn.Conv1d(h, h, 3, padding=d, dilation=d) for d in (2, 4, 8)])
        self.action_head = nn.Conv1d(h, cfg.num_actions, 1)
        self.motion_proj = nn.Linear(2 * h, cfg.embed_dim)
        self.text_proj = nn.Sequential(nn.Linear(cfg.text_dim, 256), nn.GELU(), nn.Linear(256, cfg.embed_dim))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(10.0)))
        self.index_map: torch.Tensor | None = None  # class -> action index, for older vocabularies

    def frames(self, motion: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-frame hidden states ``[B, h, T']`` and the mask ``[B, T']`` at the evaluator's stride."""
        f = (motion_features(motion) - self.feat_mean) / self.feat_std
        s = self.cfg.stride
        f, mask = f[:, ::s], mask[:, ::s]
        x = (f * mask[..., None]).transpose(1, 2)
        for i, conv in enumerate(self.convs):
            y = F.gelu(conv(x))
            x = y if i == 0 else x + y
        return x * mask[:, None], mask

    def encode_motion(self, motion: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Clip embeddings ``[B, D]`` (unit length), per-frame action logits ``[B, T', A]`` and their mask."""
        h, m = self.frames(motion, mask)
        n = m.sum(1, keepdim=True).clamp(min=1)
        mean = h.sum(-1) / n
        peak = h.masked_fill(~m[:, None], -1e4).amax(-1)
        emb = F.normalize(self.motion_proj(torch.cat([mean, peak], -1)), dim=-1)
        return emb, self.action_head(h).transpose(1, 2), m

    def encode_text(self, text: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.text_proj(text), dim=-1)


def pad_motions(motions: Sequence[torch.Tensor], max_frames: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``[B, T, 48]`` and its mask from single-actor ``[T, 48]`` clips (first actor of others)."""
    ms = [torch.as_tensor(m, dtype=torch.float32) for m in motions]
    ms = [m[:, 0] if m.dim() == 3 else m for m in ms]
    ms = [m[:max_frames] if max_frames else m for m in ms]
    L = max(len(m) for m in ms)
    out = torch.zeros(len(ms), L, ms[0].shape[-1])
    mask = torch.zeros(len(ms), L, dtype=torch.bool)
    for i, m in enumerate(ms):
        out[i, :len(m)], mask[i, :len(m)] = m, True
        out[i, len(m):] = m[-1]  # hold the last pose: padding adds no velocity
    return out, mask


def _actions_of(s: dict) -> torch.Tensor:
    a = s.get("actions")
    T = len(s["motion"])
    if a is None:
        return torch.zeros(T, dtype=torch.long)
    return (a[:, 0] if a.dim() == 2 else a).long()


def train_evaluator(samples: Sequence[dict], *, epochs: int = 30, batch_size: int = 64, lr: float = 1e-3,
                    seed: int = 0, text_model: str = "all-MiniLM-L6-v2",
                    progress: Callable[[int, int], None] | None = None) -> MotionEvaluator:
    """Fit the evaluator on embedded clips (each needs ``embedding``, ``motion``, ``actions``):
    per-frame action cross-entropy plus a symmetric InfoNCE between clips and their texts
    (pairs with the same text are not counted as negatives)."""
    if not samples:
        raise DatasetError("train_evaluator: no clips")
    missing = [i for i, s in enumerate(samples) if s.get("embedding") is None]
    if missing:
        raise DatasetError(f"sample {missing[0]} has no 'embedding'; run `stickgen embed` on the file first")
    torch.manual_seed(seed)
    cfg = EvaluatorConfig(text_dim=int(samples[0]["embedding"].shape[0]), text_model=text_model)
    model = MotionEvaluator(cfg)
    feats = torch.cat([motion_features(pad_motions([s["motion"]])[0])[0] for s in samples[:512]])
    model.feat_mean.copy_(feats.mean(0))
    model.feat_std.copy_(feats.std(0).clamp(min=1e-2))
    texts = torch.stack([s["embedding"].float() for s in samples])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    g = torch.Generator().manual_seed(seed)
    n_steps = epochs * math.ceil(len(samples) / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=n_steps, pct_start=0.1)
    step = 0
    for _ in range(epochs):
        for idx in torch.randperm(len(samples), generator=g).split(batch_size):
            batch = [samples[i] for i in idx.tolist()]
            starts = [int(torch.randint(0, max(len(s["motion"]) - cfg.max_frames, 0) + 1, (1,), generator=g))
                      for s in batch]
            motion, mask = pad_motions([s["motion"][a: a + cfg.max_frames] for s, a in zip(batch, starts)])
            labels, _ = pad_motions([_actions_of(s)[a: a + cfg.max_frames, None].float() for s, a in zip(batch, starts)])
            emb, logits, m = model.encode_motion(motion, mask)
            y = labels[:, :: cfg.stride, 0].long().clamp(0, cfg.num_actions - 1)
            ce = (F.cross_entropy(logits.reshape(-1, cfg.num_actions), y.reshape(-1), reduction="none") * m.reshape(-1)).sum() / m.sum()
            t = texts[idx]
            temb = model.encode_text(t)
            sim = model.logit_scale.exp().clamp(max=100) * emb @ temb.T
            same = torch.cdist(t, t) < 1e-4
            sim = sim.masked_fill(same & ~torch.eye(len(idx), dtype=torch.bool), -1e4)
            target = torch.arange(len(idx))
            nce = 0.5 * (F.cross_entropy(sim, target) + F.cross_entropy(sim.T, target))
            loss = ce + nce
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if progress:
                progress(step, n_steps)
    log.info("evaluator trained: %d clips, %d steps, last loss %.3f (action %.3f, contrastive %.3f)",
             len(samples), step, loss.item(), ce.item(), nce.item())
    return model.eval()


def save_evaluator(model: MotionEvaluator, path: str | Path) -> Path:
    atomic_torch_save({"format": FORMAT, "config": asdict(model.cfg), "state_dict": model.state_dict()}, path)
    return Path(path)


def load_evaluator(path: str | Path) -> MotionEvaluator:
    """An evaluator saved by ``save_evaluator`` (weights_only loading)."""
    ck = load_torch_file(path)
    if not isinstance(ck, dict) or ck.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a motion evaluator file (expected format {FORMAT!r}); "
                           "make one with `stickgen train-evaluator`", path)
    legacy = ck["config"].get("num_actions") == len(LEGACY_ACTIONS_V1)
    if ck["config"].get("num_actions") != NUM_ACTIONS and not legacy:
        raise CheckpointError(f"{path}: the evaluator knows {ck['config'].get('num_actions')} actions but the vocabulary "
                           f"has {NUM_ACTIONS}; retrain it with `stickgen train-evaluator`", path)
    model = MotionEvaluator(EvaluatorConfig(**ck["config"]))
    model.load_state_dict(ck["state_dict"])
    # an evaluator of the first (schema 1) vocabulary: its classes map onto today's indices
    model.index_map = torch.from_numpy(LEGACY_V1_TO_CURRENT) if legacy else None
    return model.eval()


@torch.no_grad()
def embed_clips(model: MotionEvaluator, motions: Sequence, batch_size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Clip embeddings ``[N, D]`` and recognised actions ``[N]`` of many clips, in batches."""
    embs, acts = [], []
    for i in range(0, len(motions), batch_size):
        motion, mask = pad_motions(motions[i: i + batch_size])
        emb, logits, m = model.encode_motion(motion, mask)
        embs.append(emb)
        a = (logits.softmax(-1) * m[..., None]).sum(1).argmax(-1)
        acts.append(a if model.index_map is None else model.index_map[a])
    return torch.cat(embs).numpy(), torch.cat(acts).numpy()


@torch.no_grad()
def embed_texts(model: MotionEvaluator, text_embeddings: np.ndarray | torch.Tensor) -> np.ndarray:
    return model.encode_text(torch.as_tensor(np.asarray(text_embeddings), dtype=torch.float32)).numpy()
