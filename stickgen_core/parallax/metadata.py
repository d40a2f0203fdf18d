"""Read a parallax root: every ``sample_*/actor_*/metadata.json``, checked, as a flat list of frames.

Reads the reference's schema (``sample_id``, ``actor_id``, ``frames[].file``, ``motion_frame_index``,
``view_id``, ``step_index``, ``camera.position/target/fov``) and ours (the same plus ``sample_index``,
``actor_index``, ``clip_id``, ``text``, ``action``). Every problem is one line naming the file and key.
A PNG path that resolves outside its metadata's folder is refused (``paths.inside``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from PIL import Image

from ..errors import DatasetError, PathEscapeError
from ..limits import read_json_file
from ..paths import inside

if TYPE_CHECKING:
    import torch

MAX_FRAMES_PER_FILE = 200_000
MAX_IMAGE_SIDE = 4096  # a bigger PNG is not a render of ours or the reference's; refused before decoding


@dataclass(frozen=True)
class ParallaxFrame:
    """One rendered PNG and what it shows."""

    path: Path
    sample_index: int
    actor_index: int
    view_id: int
    step_index: int
    motion_frame: int
    camera: tuple[float, ...]  # position xyz, target xyz, fov (degrees)
    action: str | None
    text: str | None
    clip_id: str | None


def _trailing_int(value: Any, where: str, key: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    m = re.search(r"(\d+)$", str(value))
    if not m:
        raise DatasetError(f"{where}: key '{key}': expected a name ending in a number (sample_000012, actor_0), "
                           f"got {str(value)[:60]!r}", where)
    return int(m.group(1))


def _number(value: Any, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise DatasetError(f"{where}: key '{key}': expected a finite number, got {str(value)[:60]!r}", where)
    return float(value)


def _whole(value: Any, where: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DatasetError(f"{where}: key '{key}': expected a whole number >= 0, got {str(value)[:60]!r}", where)
    return value


def _camera(cam: Any, where: str, key: str) -> tuple[float, ...]:
    if not isinstance(cam, dict):
        raise DatasetError(f"{where}: key '{key}': expected an object with position, target and fov", where)
    out = []
    for part in ("position", "target"):
        xyz = cam.get(part)
        if not isinstance(xyz, dict):
            raise DatasetError(f"{where}: key '{key}.{part}': expected an object with x, y, z", where)
        out += [_number(xyz.get(c), where, f"{key}.{part}.{c}") for c in "xyz"]
    return tuple(out + [_number(cam.get("fov"), where, f"{key}.fov")])


def read_metadata(path: str | Path) -> list[ParallaxFrame]:
    """The frames of one ``metadata.json``; DatasetError naming the file and key for anything malformed."""
    path = Path(path)
    where = str(path)
    meta = read_json_file(path, "parallax metadata", DatasetError)
    if not isinstance(meta, dict):
        raise DatasetError(f"{where}: expected a JSON object with 'frames', got {type(meta).__name__}", where)
    sample = _trailing_int(meta.get("sample_index", meta.get("sample_id", path.parent.parent.name)), where, "sample_id")
    actor = _trailing_int(meta.get("actor_index", meta.get("actor_id", path.parent.name)), where, "actor_id")
    frames = meta.get("frames")
    if not isinstance(frames, list) or not frames:
        raise DatasetError(f"{where}: key 'frames': expected a non-empty list", where)
    if len(frames) > MAX_FRAMES_PER_FILE:
        raise DatasetError(f"{where}: key 'frames': {len(frames)} entries, over the limit of {MAX_FRAMES_PER_FILE}",
                           where)
    text = meta.get("text", meta.get("description"))
    out = []
    for i, fr in enumerate(frames):
        key = f"frames[{i}]"
        if not isinstance(fr, dict) or not isinstance(fr.get("file"), str):
            raise DatasetError(f"{where}: key '{key}.file': expected a PNG file name", where)
        try:
            png = inside(path.parent, fr["file"])
        except PathEscapeError:
            raise DatasetError(f"{where}: key '{key}.file': {fr['file'][:80]!r} resolves outside "
                               f"{path.parent}; refused", where) from None
        out.append(ParallaxFrame(
            png, sample, actor, _whole(fr.get("view_id", fr.get("view_index", 0)), where, f"{key}.view_id"),
            _whole(fr.get("step_index", 0), where, f"{key}.step_index"),
            _whole(fr.get("motion_frame_index", 0), where, f"{key}.motion_frame_index"),
            _camera(fr.get("camera"), where, f"{key}.camera"),
            fr.get("action", meta.get("action")) if isinstance(fr.get("action", meta.get("action")), str) else None,
            text if isinstance(text, str) else None,
            meta.get("clip_id") if isinstance(meta.get("clip_id"), str) else None))
    return out


def scan_root(root: str | Path, key: str = "data.parallax_root") -> list[ParallaxFrame]:
    """Every frame of every ``sample_*/actor_*/metadata.json`` under ``root`` (sorted, deterministic)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{key}: {root} is not a folder; render one with `stickgen parallax render DATA --out "
                           f"{root}`", root)
    files = sorted(root.glob("sample_*/actor_*/metadata.json"))
    if not files:
        raise DatasetError(f"{key}: {root} holds no sample_*/actor_*/metadata.json; render with `stickgen parallax "
                           f"render DATA --out {root}`", root)
    return [f for path in files for f in read_metadata(path)]


def load_image(path: str | Path, size: int) -> torch.Tensor:
    """A PNG as ``[3, size, size]`` float32 in [0, 1]; DatasetError naming the file when it cannot be read."""
    try:
        with Image.open(path) as im:
            if max(im.size) > MAX_IMAGE_SIDE:
                raise DatasetError(f"{path}: {im.size[0]}x{im.size[1]} pixels, over the limit of {MAX_IMAGE_SIDE}",
                                   path)
            im = im.convert("RGB")
            if im.size != (size, size):
                im = im.resize((size, size), Image.BILINEAR)
            arr = np.asarray(im, dtype=np.float32) / 255.0
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DatasetError(f"{path}: cannot read the image ({type(exc).__name__}: {str(exc)[:100]})", path) from None
    import torch  # here, not at the top: the studio lists renders (group_views, read_metadata) before torch loads

    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


def camera_tensor(frames: list[ParallaxFrame]) -> torch.Tensor:
    """``[len(frames), 7]`` camera poses."""
    import torch

    return torch.tensor([f.camera for f in frames], dtype=torch.float32).reshape(len(frames), 7)


def group_views(frames: Sequence[ParallaxFrame]) -> dict[tuple[int, int, int], list[ParallaxFrame]]:
    """(sample, actor, view) -> its frames in step order."""
    groups: dict[tuple[int, int, int], list[ParallaxFrame]] = defaultdict(list)
    for f in frames:
        groups[(f.sample_index, f.actor_index, f.view_id)].append(f)
    return {k: sorted(v, key=lambda f: f.step_index) for k, v in sorted(groups.items())}
