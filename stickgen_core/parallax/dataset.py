"""``MultimodalParallaxDataset``: rendered PNGs paired with their motion frame, camera, text and action.

Single frames: ``(image [3, H, W], motion [48], camera [7], text, action)``. Sequences
(``sequences=True``, the reference's ``MultimodalParallaxSequenceDataset``): consecutive rendered steps
of one view, ``length`` long, a window starting every ``stride`` steps:
``(images [L, 3, H, W], motion [L, 48], cameras [L, 7], text, actions [L])``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import torch
from torch.utils.data import Dataset

from ..config import DataConfig
from ..errors import ConfigError, DatasetError
from ..io import load_dataset
from ..schema import ACTION_INDEX, motion_array
from .metadata import ParallaxFrame, camera_tensor, group_views, load_image, scan_root

log = logging.getLogger(__name__)

MAX_SEQUENCE_LENGTH = 256


def check_sequence(length: int, stride: int) -> None:
    if not 1 <= length <= MAX_SEQUENCE_LENGTH:
        raise ConfigError(f"data.parallax_sequence_length: expected 1..{MAX_SEQUENCE_LENGTH}, got {length}")
    if stride < 1:
        raise ConfigError(f"data.parallax_sequence_stride: expected a whole number >= 1, got {stride}")


class MultimodalParallaxDataset(Dataset):
    """The frames (or frame windows) of a parallax root, with the motion of the data file they were rendered from."""

    def __init__(self, parallax_root: str | Path, samples: Sequence[dict] | str | Path, image_size: int = 256, *,
                 sequences: bool = False, sequence_length: int = 4, stride: int = 1) -> None:
        if not 8 <= image_size <= 1024:
            raise ConfigError(f"data.parallax_image_size: expected 8..1024, got {image_size}")
        self.samples = load_dataset(samples) if isinstance(samples, (str, Path)) else samples
        self.image_size = image_size
        frames = scan_root(parallax_root)
        for f in frames:
            if f.sample_index >= len(self.samples):
                raise DatasetError(f"{f.path.parent / 'metadata.json'}: key 'sample_id': sample {f.sample_index}, "
                                   f"but the data has {len(self.samples)} samples; the renders are of another file",
                                   f.path)
        self.items: list[list[ParallaxFrame]]
        if sequences:
            check_sequence(sequence_length, stride)
            self.items = [group[s: s + sequence_length] for group in group_views(frames).values()
                          for s in range(0, len(group) - sequence_length + 1, stride)]
        else:
            self.items = [[f] for f in frames]
        self.sequences = sequences
        log.info("parallax dataset: %d %s from %d frames under %s", len(self.items),
                 "sequences" if sequences else "frames", len(frames), parallax_root)

    def __len__(self) -> int:
        return len(self.items)

    def _motion(self, f: ParallaxFrame) -> tuple[torch.Tensor, int]:
        s = self.samples[f.sample_index]
        m = motion_array(s["motion"], f"sample {f.sample_index} motion")
        m = m if m.ndim == 3 else m[:, None]
        t = min(f.motion_frame, len(m) - 1)
        a = min(f.actor_index, m.shape[1] - 1)
        acts = s.get("actions")
        if acts is not None:
            acts = torch.as_tensor(acts)
            action = int(acts.reshape(-1)[0] if acts.numel() == 1 else
                         (acts[t] if acts.dim() == 1 else acts[t, min(a, acts.shape[1] - 1)]))
        else:
            action = ACTION_INDEX.get(f.action or "", 0)
        return torch.from_numpy(m[t, a].copy()), action

    def __getitem__(self, i: int):
        window = self.items[i]
        images = torch.stack([load_image(f.path, self.image_size) for f in window])
        motion, actions = zip(*(self._motion(f) for f in window))
        first = window[0]
        text = first.text if first.text is not None else str(self.samples[first.sample_index].get("description", ""))
        cams = camera_tensor(window)
        if not self.sequences:
            return images[0], motion[0], cams[0], text, torch.tensor(actions[0])
        return images, torch.stack(motion), cams, text, torch.tensor(actions)


def dataset_from_config(data: DataConfig, data_path: str | Path) -> MultimodalParallaxDataset:
    """The dataset the ``data.*`` parallax keys describe."""
    if not data.parallax_root:
        raise ConfigError("data.parallax_root: not set; point it at a folder made by `stickgen parallax render`")
    return MultimodalParallaxDataset(data.parallax_root, data_path, data.parallax_image_size,
                                     sequences=data.use_parallax_sequences,
                                     sequence_length=data.parallax_sequence_length,
                                     stride=data.parallax_sequence_stride)
