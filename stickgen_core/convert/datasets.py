"""The public motion datasets ``convert`` reads beside BVH/HumanML3D: each is a reader (file ->
3-D joints of one or more people) plus the labels its layout carries, on the shared
``joints3d.to_sample`` path (several people: ``[T, A, 16, 3]``), then ``labels.label_sample`` (name pattern, sidecars,
``--describe``) on top.

| format | layout | joints, units, rate | labels |
|---|---|---|---|
| ``kitml`` | ``new_joints/*.npy`` + ``texts/*.txt`` | 21 MMM joints, mm, 12.5 fps | captions |
| ``aist`` | ``keypoints3d/*.pkl`` | COCO-17, cm, 60 fps | dance + genre from the name |
| ``ntu`` | ``*.skeleton`` | Kinect 25, m, 30 fps, several bodies | ``A###`` action class |
| ``100style`` | ``<Style>/<Style>_<Content>.bvh`` | any BVH rig | style + content |
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import DatasetError
from .aist import aist_labels, read_aist
from .joints3d import Track3D, to_sample
from .kitml import kitml_labels, read_kitml
from .labels import Labels, clip_labels, describe, label_sample
from .ntu import ntu_labels, read_ntu
from .style100 import read_style100, style100_labels


@dataclass(frozen=True)
class DatasetFormat:
    """How one dataset's files are found (``glob`` under ``folder`` when the source has it) and read."""

    glob: str
    folder: str | None
    read: Callable[[Path], Track3D]
    labels: Callable[[Path], Labels]
    recursive: bool = False


DATASETS: dict[str, DatasetFormat] = {
    "kitml": DatasetFormat("*.npy", "new_joints", read_kitml, kitml_labels),
    "aist": DatasetFormat("*.pkl", "keypoints3d", read_aist, aist_labels),
    "ntu": DatasetFormat("*.skeleton", None, read_ntu, ntu_labels, recursive=True),
    "100style": DatasetFormat("*.bvh", None, read_style100, style100_labels, recursive=True),
}


def dataset_files(src: str | Path, fmt: str) -> list[Path]:
    """The files of ``src`` (a file, or a dataset folder) that ``fmt`` reads, sorted."""
    spec = DATASETS[fmt]
    p = Path(src)
    if not p.exists():
        raise DatasetError(f"{p}: no such file or folder", p)
    if p.is_file():
        return [p]
    base = p / spec.folder if spec.folder and (p / spec.folder).is_dir() else p
    files = sorted(base.rglob(spec.glob) if spec.recursive else base.glob(spec.glob))
    if not files:
        where = f"{spec.folder}/{spec.glob}" if spec.folder else spec.glob
        raise DatasetError(f"{p}: holds no {where} files for --format {fmt}", p)
    return files


def convert_dataset_file(path: str | Path, fmt: str, describe_template: str | None = None,
                         name_pattern: str | re.Pattern | None = None,
                         target_height: float | None = 1.75, *, units: str = "auto",
                         scale: float | None = None) -> list[dict]:
    """One dataset file as a labelled canonical sample (``[T, A, 48]`` when it holds several people)."""
    p = Path(path)
    spec = DATASETS[fmt]
    labels = clip_labels(p, name_pattern, spec.labels(p))
    track = spec.read(p)
    sample = to_sample(track, describe(labels, describe_template, p), labels.action, target_height,
                       units=units, scale=scale)
    return [label_sample(sample, labels, describe_template, p)]


def detect_dataset(path: Path) -> str | None:
    """The dataset format a folder's layout or a file's suffix says (None: not one of these)."""
    if path.is_dir():
        if (path / "keypoints3d").is_dir() or next(path.glob("*.pkl"), None):
            return "aist"
        joints = path / "new_joints" if (path / "new_joints").is_dir() else path
        if _kit_shaped(next(iter(sorted(joints.glob("*.npy"))), None)):
            return "kitml"
        return "ntu" if next(path.rglob("*.skeleton"), None) else None
    if path.suffix.lower() == ".npy":
        return "kitml" if _kit_shaped(path) else None
    return {".skeleton": "ntu", ".pkl": "aist"}.get(path.suffix.lower())


def _kit_shaped(npy: Path | None) -> bool:
    """Whether a ``.npy`` holds ``[T, 21, 3]`` (KIT-ML) rather than HumanML3D's 22 joints (header read only)."""
    import numpy as np

    if npy is None or not npy.is_file():  # a FIFO named .npy would hang np.load
        return False
    try:
        return np.load(npy, mmap_mode="r", allow_pickle=False).shape[1:] == (21, 3)
    except (OSError, ValueError, EOFError, AttributeError):  # EOFError: empty; AttributeError: an .npz
        return False
