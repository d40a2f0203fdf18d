"""How well generation follows a picture: the first generated frame against the pictured pose, in metres.

For every actor-0 render at one step (default step 0: the clip's frame 0; or every step) of a root made from
held-out clips (rendered with a camera seed training never saw), the checkpoint generates from the
clip's text once with the picture and its camera and once without; each first frame is compared with
the clip's pose at the pictured motion frame. Errors are mean joint distances in the world frame the
renders were made in (the camera is known, so a model that reads pictures can place the figure), and
after aligning the pelvis (the pose's shape alone); a third run keeps each camera but shows the average of
all the pictures (no particular figure), so the pixels' share is told from the camera's. The text
embeddings come from the data file itself (``StoredText``): the evaluation needs no sentence encoder.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..errors import DatasetError
from ..io import load_dataset
from ..schema import JOINT_INDEX, motion_array
from ..skeleton import segments_to_joints
from .metadata import ParallaxFrame, load_image, scan_root
from .picture import Picture

log = logging.getLogger(__name__)

_HIPS = [JOINT_INDEX["l_hip"], JOINT_INDEX["r_hip"]]


class StoredText:
    """The text-encoder surface over a data file's own embeddings (description -> its ``embedding``)."""

    name = "stored embeddings"

    def __init__(self, samples: Sequence[dict], where: str) -> None:
        self.table: dict[str, np.ndarray] = {}
        for i, s in enumerate(samples):
            emb = s.get("embedding")
            if emb is None:
                raise DatasetError(f"{where}: sample {i} has no 'embedding'; evaluate an embedded file "
                                   "(`stickgen embed`)", where)
            self.table.setdefault(str(s.get("description", "")), np.asarray(emb, dtype=np.float32).reshape(-1))
        self.dim = len(next(iter(self.table.values())))

    def encode(self, texts: Sequence[str], progress=None) -> np.ndarray:
        return np.stack([self.table[t] for t in texts])


@dataclass
class PoseErrorReport:
    """Mean (and median) first-frame joint error in metres, with and without the picture."""

    pictures: int
    clips: int
    step: int | None
    with_image_m: float
    without_image_m: float
    with_image_median_m: float
    without_image_median_m: float
    with_image_pose_m: float      # pelvis aligned: the pose's shape
    without_image_pose_m: float
    # each camera with the average picture (no particular figure): what the camera alone tells
    camera_only_m: float = float("nan")
    camera_only_pose_m: float = float("nan")

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> str:
        rows = [("first-frame joint error, m (mean)", self.with_image_m, self.camera_only_m, self.without_image_m),
                ("first-frame joint error, m (median)", self.with_image_median_m, None, self.without_image_median_m),
                ("pelvis-aligned pose error, m (mean)", self.with_image_pose_m, self.camera_only_pose_m,
                 self.without_image_pose_m)]
        steps = "every render step" if self.step is None else f"render step {self.step}"
        lines = [f"{self.pictures} pictures of {self.clips} clips ({steps})",
                 "| measure | with the image | its camera only | without |", "|---|---|---|---|"]
        return "\n".join(lines + [f"| {name} | {a:.3f} | {'' if c is None else f'{c:.3f}'} | {b:.3f} |"
                                   for name, a, c, b in rows])


def joint_errors(generated: np.ndarray, truth: np.ndarray, align: bool = False) -> np.ndarray:
    """``[N, 48]`` against ``[N, 48]`` -> ``[N]`` mean joint distances (metres); ``align`` at the hips' midpoint."""
    a, b = segments_to_joints(generated), segments_to_joints(truth)
    if align:
        a = a - a[:, _HIPS].mean(1, keepdims=True)
        b = b - b[:, _HIPS].mean(1, keepdims=True)
    return np.linalg.norm(a - b, axis=-1).mean(-1)


def _actor0(samples: Sequence[dict], i: int) -> np.ndarray:
    """Sample ``i``'s first actor, ``[T, 48]``."""
    m = motion_array(samples[i]["motion"], f"sample {i} motion")
    return m[:, 0] if m.ndim == 3 else m


def _pictures(frames: list[ParallaxFrame], step: int | None, samples: Sequence[dict],
              data: str) -> list[ParallaxFrame]:
    chosen = [f for f in frames if f.actor_index == 0 and step in (None, f.step_index)]
    if not chosen:
        raise DatasetError(f"data.parallax_root: no actor_0 render at step {step}", data)
    for f in chosen:
        if f.sample_index >= len(samples):
            raise DatasetError(f"{f.path.parent / 'metadata.json'}: sample {f.sample_index}, but {data} has "
                               f"{len(samples)} samples; the renders are of another file", data)
        cid = samples[f.sample_index].get("clip_id")
        if f.clip_id and cid and f.clip_id != cid:
            raise DatasetError(f"{f.path.parent / 'metadata.json'}: rendered from clip {f.clip_id}, but sample "
                               f"{f.sample_index} of {data} is clip {cid}", data)
    return chosen


def evaluate_pictures(checkpoint: str | Path, data: str | Path, root: str | Path, *, step: int | None = 0,
                      max_pictures: int = 2000, seed: int = 0, batch_size: int = 64,
                      device: str = "cpu") -> PoseErrorReport:
    """First-frame pose error of ``checkpoint`` (trained with images) on the renders under ``root`` of the
    clips in ``data`` (an embedded file), with and without the pictures; ``step`` None: every render step
    (a picture of frame f asks for a motion starting at the pose of frame f, as training's crops do)."""
    from ..inference import InferenceGenerator

    samples = load_dataset(data).samples
    generator = InferenceGenerator(checkpoint, device=device, encoder=StoredText(samples, str(data)), refine=False)
    chosen = _pictures(scan_root(root), step, samples, str(data))[:max_pictures]
    size = generator.config.data.parallax_image_size
    pics = [Picture(load_image(f.path, size)[None, None], torch.tensor(f.camera)[None, None], str(f.path), "metadata")
            for f in chosen]
    prompts = [str(samples[f.sample_index].get("description", "")) for f in chosen]
    truth = np.stack([_actor0(samples, f.sample_index)[f.motion_frame] for f in chosen])
    # every clip's own length when the model has a clock (it then matches the clip the picture is of); else
    # one frame is all the comparison needs
    lengths = [len(samples[f.sample_index]["motion"]) if generator.model.cfg.time_conditioning else 1
               for f in chosen]
    kw = {"seed": seed, "batch_size": batch_size, "refine": False}
    with_img = np.stack([m[0].numpy() for m in generator.generate_many(prompts, lengths, pictures=pics, **kw)])
    without = np.stack([m[0].numpy() for m in generator.generate_many(prompts, lengths, **kw)])
    mean_image = torch.cat([p.image for p in pics]).mean(0, keepdim=True)
    blank = [Picture(mean_image, p.camera, p.source, p.camera_from) for p in pics]
    cam_only = np.stack([m[0].numpy() for m in generator.generate_many(prompts, lengths, pictures=blank, **kw)])
    e_with, e_without = joint_errors(with_img, truth), joint_errors(without, truth)
    log.info("parallax eval: %d pictures, error %.3f m with the image, %.3f m without", len(chosen),
             e_with.mean(), e_without.mean())
    return PoseErrorReport(len(chosen), len({f.sample_index for f in chosen}), step,
                           float(e_with.mean()), float(e_without.mean()),
                           float(np.median(e_with)), float(np.median(e_without)),
                           float(joint_errors(with_img, truth, True).mean()),
                           float(joint_errors(without, truth, True).mean()),
                           float(joint_errors(cam_only, truth).mean()), float(joint_errors(cam_only, truth, True).mean()))
