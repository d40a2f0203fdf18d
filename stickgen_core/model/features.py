"""Extra per-token inputs of the transformer: root-relative poses and the elapsed-time clock.

Root-relative: every x coordinate is taken relative to the frame's pelvis x and the pelvis
moves in as a velocity, so a walk looks the same 10 m to the right and the model never sees
positions it was not trained on. The pose head already predicts a change from the latest
pose, so the model as a whole becomes translation-equivariant in x.
Clock: the share of the requested clip already shown (and the clip's length), so a long
request knows where in its plan it stands instead of settling into a loop.
"""

from __future__ import annotations

import math

import torch

from ..schema import FPS_DEFAULT

PELVIS_X_COLS = (44, 46)  # pelvis_width: l_hip x, r_hip x; the pelvis centre lies midway
CLOCK_DIM = 10


def pelvis_x(motion: torch.Tensor) -> torch.Tensor:
    """``[..., 48]`` -> ``[...]`` pelvis-centre x."""
    return 0.5 * (motion[..., PELVIS_X_COLS[0]] + motion[..., PELVIS_X_COLS[1]])


def root_relative(motion: torch.Tensor, before: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Poses with x relative to their pelvis ``[B, T, 48]`` and the pelvis x/y velocity ``[B, T, 2]``
    (metres per frame). ``before`` ``[B, 1, 48]`` is the frame preceding ``motion`` (none: velocity 0)."""
    px = pelvis_x(motion)
    rel = motion.clone()
    rel[..., 0::2] = motion[..., 0::2] - px[..., None]
    root = torch.stack([px, 0.5 * (motion[..., 45] + motion[..., 47])], -1)
    prev = root[:, :1] if before is None else torch.stack([pelvis_x(before), 0.5 * (before[..., 45] + before[..., 47])], -1)
    vel = root - torch.cat([prev, root[:, :-1]], dim=1)
    return rel, vel


def steady_camera(frames: torch.Tensor) -> torch.Tensor:
    """``[B, T, 48]`` -> ``[B, T, 3]``: a steady camera on the figure (x of the pelvis, height 1, zoom 1),
    as in training data."""
    cam = torch.ones(*frames.shape[:2], 3, device=frames.device, dtype=frames.dtype)
    cam[..., 0] = pelvis_x(frames)
    return cam


def clock(frame: torch.Tensor, total: torch.Tensor, fps: float = FPS_DEFAULT) -> torch.Tensor:
    """``[B, T]`` frame index and ``[B]`` clip length (frames) -> ``[B, T, CLOCK_DIM]`` features:
    sines and cosines of the elapsed share, the share itself and the clip's log-length."""
    total = total.float().clamp(min=1)[:, None]
    share = (frame.float() / total).clamp(0, 1.5)
    k = torch.arange(1, 5, device=frame.device, dtype=torch.float32) * math.pi
    waves = share[..., None] * k
    length = torch.log(total / fps).expand_as(share)
    return torch.cat([waves.sin(), waves.cos(), share[..., None], length[..., None]], -1)
