"""Training data: embedded samples, a deterministic train/val split, padded batches.

Shuffling and cropping use a generator seeded by (seed, epoch), so an epoch's batches do
not depend on what ran before it: a run resumed after epoch k sees exactly the batches a
straight run would.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import ConfigError, DatasetError
from ..io import load_dataset


@dataclass
class Batch:
    text: torch.Tensor       # [B, E]
    motion: torch.Tensor     # [B, T, 48] targets (frames 0..T-1)
    actions: torch.Tensor    # [B, T]
    physics: torch.Tensor    # [B, T, 6] (scaled)
    camera: torch.Tensor     # [B, T, 3]
    mask: torch.Tensor       # [B, T] True on real frames
    frame0: torch.Tensor     # [B] clip frame of motion[:, 0] (a crop's start)
    total: torch.Tensor      # [B] frames of the whole clip

    def to(self, device: torch.device) -> "Batch":
        # type(self): a subclass (parallax.training.ParallaxBatch) keeps its own fields
        return type(self)(*(getattr(self, f).to(device, non_blocking=True) for f in self.__dataclass_fields__))


class MotionData:
    """The clips of one embedded training file, split into train and val by clip id."""

    def __init__(self, path: str | Path, *, val_fraction: float, seed: int, max_frames: int) -> None:
        ds = load_dataset(path)
        if not len(ds):
            raise DatasetError(f"{path}: no clips to train on", path)
        missing = [i for i, s in enumerate(ds) if s.get("embedding") is None]
        if missing:
            raise DatasetError(f"{path}: sample {missing[0]} has no 'embedding' (and {len(missing) - 1} more); "
                               "run `stickgen embed` on the curated split first", path)
        self.embedding_dim = int(ds[0]["embedding"].shape[0])
        other = [i for i, s in enumerate(ds) if s["embedding"].shape[0] != self.embedding_dim]
        if other:
            raise DatasetError(f"{path}: sample {other[0]} has a {ds[other[0]]['embedding'].shape[0]}-dim embedding "
                               f"but sample 0 a {self.embedding_dim}-dim one ({len(other)} sample(s) differ); "
                               "embed the whole file with one encoder", path)
        self.samples = list(ds)
        self.max_frames = max_frames
        salt = str(seed).encode()
        order = sorted(range(len(ds)), key=lambda i: hashlib.sha256(salt + ds[i]["clip_id"].encode()).hexdigest())
        n_val = int(round(val_fraction * len(order))) if len(order) > 1 else 0
        n_val = min(max(n_val, 1 if val_fraction > 0 and len(order) > 1 else 0), len(order) - 1)
        self.val_idx = sorted(order[:n_val])
        self.train_idx = sorted(order[n_val:])
        firsts = [self.samples[i]["motion"][0] for i in self.train_idx]
        self.first_pose = torch.stack([f[0] if f.dim() == 2 else f for f in firsts]).float().mean(0)
        phys = torch.cat([self._physics(self.samples[i]) for i in self.train_idx])
        self.physics_scale = phys.std(dim=0).clamp(min=1e-3)

    def check_dim(self, expected: int, where: str) -> None:
        if expected != self.embedding_dim:
            raise ConfigError(f"{where}: model.embedding_dim is {expected} but the data's embeddings are "
                              f"{self.embedding_dim}-dim; set model.embedding_dim: auto or re-embed with a "
                              f"{expected}-dim encoder")

    @staticmethod
    def _physics(s: dict) -> torch.Tensor:
        T = len(s["motion"])
        p = s.get("physics")
        return p.float() if p is not None else torch.zeros(T, 6)

    def batches(self, split: str, batch_size: int, epoch: int, seed: int, shuffle: bool = True):
        """Yield ``Batch``es of ``split`` for ``epoch`` (deterministic)."""
        order, g = self._order(split, epoch, seed, shuffle)
        for start in range(0, len(order), batch_size):
            yield self.collate([self.samples[i] for i in order[start: start + batch_size]],
                               g if split == "train" else None)

    def _order(self, split: str, epoch: int, seed: int, shuffle: bool = True) -> tuple[list[int], torch.Generator]:
        idx = self.train_idx if split == "train" else self.val_idx
        g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        return ([idx[i] for i in torch.randperm(len(idx), generator=g).tolist()] if shuffle else list(idx)), g

    def batch_clip_ids(self, split: str, batch_size: int, epoch: int, seed: int, i: int) -> list[str]:
        """Clip ids of batch ``i`` of ``split`` in ``epoch`` (to name the clips of a failing step)."""
        order, _ = self._order(split, epoch, seed)
        return [self.samples[k]["clip_id"] for k in order[i * batch_size: (i + 1) * batch_size]]

    def collate(self, items: list[dict], g: torch.Generator | None) -> Batch:
        clips = []
        for s in items:
            m = s["motion"].float()
            if m.dim() == 3:  # two-actor clips: the model is single-actor, train on the first
                m = m[:, 0]
            a = s.get("actions")
            a = a[:, 0] if a is not None and a.dim() == 2 else a
            T = len(m)
            start = 0
            if T > self.max_frames:
                start = int(torch.randint(0, T - self.max_frames + 1, (1,), generator=g)) if g is not None else 0
            sl = slice(start, start + self.max_frames)
            cam = s.get("camera")
            clips.append((s["embedding"].float(), m[sl], (a if a is not None else torch.zeros(T, dtype=torch.long))[sl],
                          (self._physics(s) / self.physics_scale)[sl],
                          (cam.float() if cam is not None else torch.zeros(T, 3))[sl], start, T))
        L = max(len(c[1]) for c in clips)
        B = len(clips)
        motion = torch.zeros(B, L, 48)
        actions = torch.zeros(B, L, dtype=torch.long)
        physics = torch.zeros(B, L, 6)
        camera = torch.zeros(B, L, 3)
        mask = torch.zeros(B, L, dtype=torch.bool)
        for b, (_, m, a, p, c, _, _) in enumerate(clips):
            n = len(m)
            motion[b, :n], actions[b, :n], physics[b, :n], camera[b, :n], mask[b, :n] = m, a.long(), p, c, True
        return Batch(torch.stack([c[0] for c in clips]), motion, actions, physics, camera, mask,
                     torch.tensor([c[5] for c in clips]), torch.tensor([c[6] for c in clips]))
