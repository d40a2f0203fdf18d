"""Training data: embedded samples, a deterministic train/val split, padded batches.

Shuffling and cropping use a generator seeded by (seed, epoch), so an epoch's batches do
not depend on what ran before it: a run resumed after epoch k sees exactly the batches a
straight run would.

A packed file or set (``packed``) is streamed, not loaded: clips are read by position from
memory maps as their batches are made (``packed_reader.PackedReader``), and a batch a DDP rank
does not train on is never read (the crop generator still advances as if it were, from the
clips' frame counts, so every rank and a resumed run see the same crops as one straight run).
An epoch over a split larger than RAM holds one batch of clips at a time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from ..errors import ConfigError, DatasetError
from ..io import load_dataset
from ..packed import is_packed


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

    def __init__(self, path: str | Path, *, val_fraction: float, seed: int, max_frames: int,
                 stream: bool | None = None) -> None:
        """``stream``: read clips on demand (default: when ``path`` is packed); False loads them all."""
        self.streamed = is_packed(path) if stream is None else bool(stream and is_packed(path))
        if self.streamed:
            from ..packed_reader import PackedReader

            reader = PackedReader(path)
            self.samples = reader
            self.clip_ids, self.frames = reader.clip_ids, reader.frames
            dims = [None if s is None else (s[0] if len(s) == 1 else -1) for s in reader.shapes("embedding")]
        else:
            self.samples = list(load_dataset(path))
            self.clip_ids = [s["clip_id"] for s in self.samples]
            self.frames = np.array([len(s["motion"]) for s in self.samples], np.int64)
            dims = [None if s.get("embedding") is None else int(s["embedding"].shape[0]) for s in self.samples]
        self._check_embeddings(path, dims)
        self.max_frames = max_frames
        salt = str(seed).encode()
        ids = self.clip_ids
        order = sorted(range(len(ids)), key=lambda i: hashlib.sha256(salt + ids[i].encode()).hexdigest())
        n_val = int(round(val_fraction * len(order))) if len(order) > 1 else 0
        n_val = min(max(n_val, 1 if val_fraction > 0 and len(order) > 1 else 0), len(order) - 1)
        self.val_idx = sorted(order[:n_val])
        self.train_idx = sorted(order[n_val:])
        if self.streamed:
            self.first_pose, self.physics_scale = self._streamed_stats(reader)
        else:
            firsts = [self.samples[i]["motion"][0] for i in self.train_idx]
            self.first_pose = torch.stack([f[0] if f.dim() == 2 else f for f in firsts]).float().mean(0)
            phys = torch.cat([self._physics(self.samples[i]) for i in self.train_idx])
            self.physics_scale = phys.std(dim=0).clamp(min=1e-3)

    def _check_embeddings(self, path: str | Path, dims: list[int | None]) -> None:
        """Every clip carries a text embedding, all of one size (``dims``: each clip's, None when absent)."""
        if not dims:
            raise DatasetError(f"{path}: no clips to train on", path)
        missing = [i for i, d in enumerate(dims) if d is None]
        if missing:
            raise DatasetError(f"{path}: sample {missing[0]} has no 'embedding' (and {len(missing) - 1} more); "
                               "run `stickgen embed` on the curated split first", path)
        self.embedding_dim = int(dims[0])
        other = [i for i, d in enumerate(dims) if d != self.embedding_dim]
        if other:
            raise DatasetError(f"{path}: sample {other[0]} has a {dims[other[0]]}-dim embedding "
                               f"but sample 0 a {self.embedding_dim}-dim one ({len(other)} sample(s) differ); "
                               "embed the whole file with one encoder", path)

    def _streamed_stats(self, reader) -> tuple[torch.Tensor, torch.Tensor]:
        """The first pose (mean first frame of the first actor) and the physics scale (per-channel
        standard deviation, absent physics counting as zeros) of the training clips, one clip's
        field at a time (float64 sums)."""
        first = np.zeros(48)
        s1, s2, n = np.zeros(6), np.zeros(6), 0
        for i in self.train_idx:
            first += reader.field(i, "motion", 48)
            p = reader.field(i, "physics")
            n += int(self.frames[i])
            if p is not None:
                p = p.astype(np.float64)
                s1 += p.sum(0)
                s2 += (p * p).sum(0)
        var = (s2 - s1 * s1 / max(n, 1)) / max(n - 1, 1)
        scale = torch.from_numpy(np.sqrt(np.maximum(var, 0.0))).float().clamp(min=1e-3)
        return torch.from_numpy(first / max(len(self.train_idx), 1)).float(), scale

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

    def batches(self, split: str, batch_size: int, epoch: int, seed: int, shuffle: bool = True,
                keep: Callable[[int], bool] | None = None) -> Iterator[Batch | None]:
        """Yield ``Batch``es of ``split`` for ``epoch`` (deterministic). With ``keep``, streamed data
        yields None for a batch ``i`` where ``keep(i)`` is False, without reading its clips (another
        DDP rank's batch, one a resumed run has done); loaded data makes every batch."""
        order, g = self._order(split, epoch, seed, shuffle)
        for i, start in enumerate(range(0, len(order), batch_size)):
            idx = order[start: start + batch_size]
            gen = g if split == "train" else None
            if self.streamed and keep is not None and not keep(i):
                self._skip_crops(idx, gen)
                yield None
                continue
            yield self.collate([self.samples[k] for k in idx], gen)

    def _skip_crops(self, idx: list[int], g: torch.Generator | None) -> None:
        """Advance ``g`` as ``collate`` of clips ``idx`` would (one draw per clip longer than max_frames)."""
        if g is None:
            return
        for k in idx:
            T = int(self.frames[k])
            if T > self.max_frames:
                torch.randint(0, T - self.max_frames + 1, (1,), generator=g)

    def _order(self, split: str, epoch: int, seed: int, shuffle: bool = True) -> tuple[list[int], torch.Generator]:
        idx = self.train_idx if split == "train" else self.val_idx
        g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        return ([idx[i] for i in torch.randperm(len(idx), generator=g).tolist()] if shuffle else list(idx)), g

    def batch_clip_ids(self, split: str, batch_size: int, epoch: int, seed: int, i: int) -> list[str]:
        """Clip ids of batch ``i`` of ``split`` in ``epoch`` (to name the clips of a failing step)."""
        order, _ = self._order(split, epoch, seed)
        return [self.clip_ids[k] for k in order[i * batch_size: (i + 1) * batch_size]]

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
