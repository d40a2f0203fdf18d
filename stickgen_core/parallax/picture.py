"""A picture to start generation from: a PNG (or an image already in memory) and the camera it was seen from.

``stickgen generate "…" --image frame.png [--camera x,y,z,tx,ty,tz,fov]``. The camera is the
``--camera`` value when given, else the one the PNG's own ``metadata.json`` records (a frame of a
parallax root), else unknown: the encoder then sees a zero camera, as it was not trained on (a note
says so). The image is read as training read it (``load_image``: RGB, resized to
``data.parallax_image_size``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError, DatasetError, StickGenError
from ..io import load_torch_file
from .camera import POSE_DIM
from .metadata import MAX_IMAGE_SIDE, load_image, read_metadata

CAMERA_FORMAT = "x,y,z,tx,ty,tz,fov"


@dataclass(frozen=True)
class Picture:
    """``image`` [1, 1, 3, S, S] and ``camera`` [1, 1, 7], as a one-row ``ParallaxBatch`` carries them."""

    image: torch.Tensor
    camera: torch.Tensor
    source: str             # the file, or "an image in memory"
    camera_from: str        # "--camera", "<metadata.json>" or "unknown"


def reads_images(checkpoint: str | Path) -> bool:
    """Whether a checkpoint has an image encoder (memory-mapped: weights not read); False for anything unreadable."""
    try:
        ck = load_torch_file(checkpoint, mmap=True)
    except StickGenError:
        return False
    state = ck.get("model_state_dict") if isinstance(ck, dict) else None
    return isinstance(state, dict) and any(str(k).startswith("image_encoder.") for k in state)


def parse_camera(value: Any, key: str = "--camera") -> tuple[float, ...]:
    """``"x,y,z,tx,ty,tz,fov"`` (or a sequence of 7 numbers) -> 7 floats; ConfigError naming ``key``."""
    parts = value.split(",") if isinstance(value, str) else list(value) if value is not None else []
    try:
        nums = tuple(float(p) for p in parts)
    except (TypeError, ValueError):
        nums = ()
    if len(nums) != POSE_DIM or not all(math.isfinite(v) for v in nums):
        raise ConfigError(f"{key}: expected {POSE_DIM} finite numbers {CAMERA_FORMAT} (position, target, "
                          f"vertical field of view in degrees), got {str(value)[:80]!r}")
    if not 1.0 <= nums[6] < 180.0:
        raise ConfigError(f"{key}: the field of view (the 7th number) must be 1..179 degrees, got {nums[6]:g}")
    if math.dist(nums[:3], nums[3:6]) < 1e-6:
        raise ConfigError(f"{key}: the camera's position and target are the same point; it looks nowhere")
    return nums


def recorded_camera(png: Path) -> tuple[float, ...] | None:
    """The camera ``metadata.json`` beside ``png`` records for it, or None (no sidecar, or not listed)."""
    meta = png.parent / "metadata.json"
    if not meta.is_file():
        return None
    found = [f for f in read_metadata(meta) if f.path.name == png.name]
    return found[0].camera if found else None


def _from_memory(image: Any, size: int) -> torch.Tensor:
    """A PIL image, an HxWx3 uint8 array or a [3, H, W] float tensor in [0, 1] -> [3, size, size]."""
    from PIL import Image

    if isinstance(image, torch.Tensor):
        if image.dim() != 3 or image.shape[0] != 3 or not torch.isfinite(image).all():
            raise ConfigError(f"image: expected a finite [3, H, W] tensor in [0, 1], got shape {tuple(image.shape)}")
        image = Image.fromarray((image.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy())
    elif isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
            raise ConfigError(f"image: expected an HxWx3 uint8 array, got {image.dtype} {image.shape}")
        image = Image.fromarray(image[..., :3])
    if not isinstance(image, Image.Image):
        raise ConfigError(f"image: expected a PNG path, a PIL image, an array or a tensor, got {type(image).__name__}")
    if max(image.size) > MAX_IMAGE_SIDE:
        raise ConfigError(f"image: {image.size[0]}x{image.size[1]} pixels, over the limit of {MAX_IMAGE_SIDE}")
    image = image.convert("RGB")
    if image.size != (size, size):
        image = image.resize((size, size), Image.BILINEAR)
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()


def load_picture(image: Any, size: int, camera: Any = None) -> Picture:
    """The picture to condition on: ``image`` a PNG path (or an image in memory), ``camera`` 7 numbers or
    ``"x,y,z,tx,ty,tz,fov"`` (None: the PNG's metadata.json, else unknown)."""
    if isinstance(image, (str, Path)):
        path = Path(image)
        if not path.is_file():
            raise DatasetError(f"--image: {path} is not a file", path)
        pixels, source = load_image(path, size), str(path)
    else:
        pixels, source, path = _from_memory(image, size), "an image in memory", None
    cam, camera_from = None, "unknown"
    if camera is not None:
        cam, camera_from = parse_camera(camera), "--camera"
    elif path is not None:
        cam = recorded_camera(path)
        camera_from = str(path.parent / "metadata.json") if cam is not None else "unknown"
    cam_t = torch.tensor(cam if cam is not None else (0.0,) * POSE_DIM, dtype=torch.float32)
    return Picture(pixels[None, None], cam_t[None, None], source, camera_from)
