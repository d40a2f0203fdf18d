"""Image encoder for image-conditioned training: rendered frames (and their cameras) -> a conditioning vector.

``cnn`` (the default) is a small strided CNN (four conv blocks, global average pool), a few hundred
thousand parameters, fast on a CPU and size-agnostic. ``cnn_spatial`` is the same CNN with its last map
pooled to an 8 x 8 grid instead of one average: measured, the global average barely changes between
pictures of different poses (the figure is a few percent of the pixels), so ``cnn`` conditions on the
camera alone. ``resnet18`` uses torchvision's ResNet-18 (random
initialisation: no weights are downloaded) and is refused with a clear error where torchvision is not
installed (it is not a dependency of this project). The features of each image, with its camera pose,
go through an MLP to ``d_model``; a window of images (``sequence`` conditioning) is averaged. The last
layer starts at zero, so a model with the encoder starts as exactly the text-only model.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from .camera import POSE_DIM

ARCHS = ("cnn", "cnn_spatial", "resnet18")
SPATIAL_GRID = 8  # cnn_spatial: the last feature map pooled to 8 x 8 cells, kept apart
# camera pose scale: metres stay metres, the field of view (degrees) is brought near 1
_POSE_SCALE = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0 / 60.0)


def _cnn(width: int = 32, grid: int = 1) -> tuple[nn.Module, int]:
    """Four strided conv blocks, then the map averaged into ``grid`` x ``grid`` cells (1: one global average,
    which washes out a figure that covers a few percent of the picture; 8 keeps where its limbs are)."""
    layers: list[nn.Module] = []
    chans = [3, width // 2, width, 2 * width, 2 * width]
    for a, b in zip(chans[:-1], chans[1:]):
        layers += [nn.Conv2d(a, b, 3, stride=2, padding=1), nn.GroupNorm(min(8, b), b), nn.SiLU()]
    layers += [nn.AdaptiveAvgPool2d(grid), nn.Flatten()]
    return nn.Sequential(*layers), chans[-1] * grid * grid


def _resnet18() -> tuple[nn.Module, int]:
    try:
        from torchvision.models import resnet18  # type: ignore[import-not-found]
    except ImportError:
        raise ConfigError("model.image_encoder_arch: resnet18 needs torchvision, which is not installed here; "
                          "use cnn or pip install torchvision") from None
    net = resnet18(weights=None)
    dim = net.fc.in_features
    net.fc = nn.Identity()
    return net, dim


class ImageEncoder(nn.Module):
    """``images`` [B, 3, H, W] or [B, L, 3, H, W] (+ ``cameras`` [B, 7] / [B, L, 7]) -> ``[B, d_model]``."""

    def __init__(self, arch: str, d_model: int) -> None:
        super().__init__()
        if arch not in ARCHS:
            raise ConfigError(f"model.image_encoder_arch: expected one of {', '.join(ARCHS)}, got {arch!r}")
        self.arch = arch
        self.backbone, feat = _resnet18() if arch == "resnet18" else _cnn(grid=SPATIAL_GRID if arch == "cnn_spatial"
                                                                           else 1)
        self.register_buffer("pose_scale", torch.tensor(_POSE_SCALE), persistent=False)
        self.fuse = nn.Sequential(nn.Linear(feat + POSE_DIM, d_model), nn.SiLU(), nn.Linear(d_model, d_model))
        nn.init.zeros_(self.fuse[-1].weight)
        nn.init.zeros_(self.fuse[-1].bias)

    def forward(self, images: torch.Tensor, cameras: torch.Tensor | None = None) -> torch.Tensor:
        seq = images.dim() == 5
        if not seq:
            images = images[:, None]
            cameras = None if cameras is None else cameras[:, None]
        B, L = images.shape[:2]
        feats = self.backbone(images.flatten(0, 1)).view(B, L, -1)
        if cameras is None:
            cameras = feats.new_zeros(B, L, POSE_DIM)
        x = torch.cat([feats, cameras.to(feats.dtype) * self.pose_scale.to(feats.dtype)], -1)
        return self.fuse(x).mean(1)
