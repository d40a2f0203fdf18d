"""Checkpoints: the spec's keys plus RNG states and stage, written atomically, read safely."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..errors import DatasetError
from ..io import atomic_torch_save, load_torch_file
from ..migrate import upgrade_checkpoint
from ..schema import SCHEMA_VERSION

LATEST = "model_checkpoint_latest.pth"
BEST = "model_checkpoint_best.pth"
REQUIRED = ("epoch", "global_step", "model_state_dict", "config")


def rng_state() -> dict[str, Any]:
    # torch's generator drives dropout; batches come from per-epoch seeded generators
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    payload = dict(payload)
    payload["rng_state"] = rng_state()
    payload["schema_version"] = SCHEMA_VERSION
    atomic_torch_save(payload, path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint dict (weights_only loading), checked for the keys training needs and
    migrated to the current schema (``migrate.upgrade_checkpoint``)."""
    ck = load_torch_file(path)
    if not isinstance(ck, dict):
        raise DatasetError(f"{path}: expected a checkpoint dict, got {type(ck).__name__}", path)
    missing = [k for k in REQUIRED if k not in ck]
    if missing:
        raise DatasetError(f"{path}: not a Stick-Gen checkpoint (missing {', '.join(missing)})", path)
    return upgrade_checkpoint(ck, path)
