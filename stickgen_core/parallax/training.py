"""Training data with images: each clip's batch row carries rendered frames of it and their cameras.

``data.parallax_conditioning_mode``:

- ``first_frame``: one image, the render of the crop's first frame from one view (a random view in
  training, view 0 in validation). A crop of a long clip starts at a rendered frame, so the picture is
  always of the pose the model must start from.
- ``sequence``: ``data.parallax_sequence_length`` consecutive rendered steps of one view, starting at
  the crop's first frame; crops start only at the windows ``MultimodalParallaxDataset`` makes (every
  ``data.parallax_sequence_stride`` steps).

The model is single-actor: actor 0's renders are used. Every clip of the split must have renders; a
missing or mismatched root is an error naming ``data.parallax_root`` and what was found.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import DataConfig
from ..errors import ConfigError, DatasetError
from ..train.data import Batch, MotionData
from .dataset import check_sequence
from .metadata import group_views
from .metadata import ParallaxFrame, camera_tensor, load_image, scan_root

log = logging.getLogger(__name__)

MODES = ("first_frame", "sequence")
_PER_FRAME = ("motion", "actions", "physics", "camera")


@dataclass
class ParallaxBatch(Batch):
    image: torch.Tensor | None = None         # [B, L, 3, H, W]
    image_camera: torch.Tensor | None = None  # [B, L, 7]


def _crop(sample: dict, start: int, length: int) -> dict:
    """A shallow copy of ``sample`` with its per-frame tensors cut to ``[start, start + length)``."""
    out = dict(sample)
    for key in _PER_FRAME:
        value = sample.get(key)
        if isinstance(value, torch.Tensor) and value.dim() >= 1 and len(value) == len(sample["motion"]):
            out[key] = value[start: start + length]
    return out


class ParallaxMotionData(MotionData):
    """``MotionData`` whose batches (``ParallaxBatch``) carry each clip's rendered frames."""

    def __init__(self, path: str | Path, data_cfg: DataConfig, *, val_fraction: float, seed: int,
                 max_frames: int) -> None:
        mode = data_cfg.parallax_conditioning_mode
        if mode not in MODES:
            raise ConfigError(f"data.parallax_conditioning_mode: expected one of {', '.join(MODES)}, got {mode!r}")
        if not data_cfg.parallax_root:
            raise ConfigError("data.use_parallax_augmentation: true needs data.parallax_root, a folder made by "
                              "`stickgen parallax render DATA --out ROOT`")
        if not 8 <= data_cfg.parallax_image_size <= 1024:
            raise ConfigError(f"data.parallax_image_size: expected 8..1024, got {data_cfg.parallax_image_size}")
        # loaded, not streamed: renders are matched to clips by position and object identity
        super().__init__(path, val_fraction=val_fraction, seed=seed, max_frames=max_frames, stream=False)
        self.length, self.stride = (data_cfg.parallax_sequence_length, data_cfg.parallax_sequence_stride) \
            if mode == "sequence" else (1, 1)
        check_sequence(self.length, self.stride)
        self.image_size = data_cfg.parallax_image_size
        root = data_cfg.parallax_root
        views: dict[int, list[list[ParallaxFrame]]] = {}
        for (sample, _actor, _view), frames in group_views(f for f in scan_root(root) if f.actor_index == 0).items():
            views.setdefault(sample, []).append(frames)
        used = sorted(self.train_idx + self.val_idx)
        missing = [i for i in used if i not in views]
        if missing:
            raise DatasetError(f"data.parallax_root: {root} has no actor_0 renders of sample {missing[0]} "
                               f"({len(missing)} of the {len(used)} clips of {path} have none); render them with "
                               f"`stickgen parallax render {path} --out {root}`", root)
        for i in used:
            found = next((f.clip_id for v in views[i] for f in v if f.clip_id), None)
            if found is not None and found != self.samples[i]["clip_id"]:
                raise DatasetError(f"data.parallax_root: {root}/sample_{i:06d} was rendered from clip {found}, but "
                                   f"sample {i} of {path} is clip {self.samples[i]['clip_id']}: the renders are of "
                                   "another data file", root)
        self.views = views
        self._index_of = {id(s): i for i, s in enumerate(self.samples)}
        log.info("parallax: %s conditioning, %d image(s) per clip at %d px, from %s", mode, self.length,
                 self.image_size, root)

    def _pick(self, i: int, T: int, g: torch.Generator | None) -> list[ParallaxFrame]:
        """The rendered frames of clip ``i`` this row is conditioned on (the first is the crop's start)."""
        views = self.views[i]
        steps = views[int(torch.randint(len(views), (1,), generator=g))] if g is not None else views[0]
        latest = max(T - self.max_frames, 0)
        starts = [k for k in range(0, len(steps), self.stride) if steps[k].motion_frame <= latest] or [0]
        k = starts[int(torch.randint(len(starts), (1,), generator=g))] if g is not None else starts[0]
        return [steps[min(k + j, len(steps) - 1)] for j in range(self.length)]

    def collate(self, items: list[dict], g: torch.Generator | None) -> ParallaxBatch:
        picks = [self._pick(self._index_of[id(s)], len(s["motion"]), g) for s in items]
        crops = [_crop(s, w[0].motion_frame, self.max_frames) for s, w in zip(items, picks)]
        base = super().collate(crops, None)  # each crop fits max_frames: nothing more is cut
        fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(Batch)}
        fields["frame0"] = torch.tensor([w[0].motion_frame for w in picks])
        fields["total"] = torch.tensor([len(s["motion"]) for s in items])
        images = torch.stack([torch.stack([load_image(f.path, self.image_size) for f in w]) for w in picks])
        return ParallaxBatch(**fields, image=images, image_camera=torch.stack([camera_tensor(w) for w in picks]))
