"""Checkpoints: the spec's keys plus RNG states and stage, written atomically, read safely."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError, StickGenError
from ..io import atomic_torch_save, load_torch_file
from ..migrate import upgrade_checkpoint
from ..model.loading import model_from_checkpoint
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


def load_checkpoint(path: str | Path, *, for_resume: bool = False) -> dict[str, Any]:
    """A checkpoint dict (weights_only loading), checked for the keys, types and finite weights
    training needs, and migrated to the current schema (``migrate.upgrade_checkpoint``);
    ``for_resume`` also requires the optimizer and schedule states."""
    ck = load_torch_file(path)
    if not isinstance(ck, dict):
        raise CheckpointError(f"{path}: expected a checkpoint dict, got {type(ck).__name__}", path)
    missing = [k for k in REQUIRED if k not in ck]
    if missing:
        raise CheckpointError(f"{path}: not a Stick-Gen checkpoint (missing {', '.join(missing)})", path)
    check_checkpoint(ck, path)
    absent = [k for k in ("optimizer_state_dict", "scheduler_state_dict") if not isinstance(ck.get(k), dict)]
    if for_resume and absent:  # checked before migration, which drops them on purpose
        raise CheckpointError(f"{path}: cannot resume from it: it holds weights only (no {', '.join(absent)}; an "
                           "export-merged file or a stripped checkpoint); use --init_from to start from its weights",
                           path)
    ck = upgrade_checkpoint(ck, path)
    return ck


def recorded_best(path: str | Path) -> float:
    """The validation loss a best checkpoint file was kept for (memory-mapped: the weights are not read);
    inf when there is no such file or it says nothing usable."""
    if not Path(path).is_file():
        return float("inf")
    try:
        ck = load_torch_file(path, mmap=True)
    except StickGenError:
        return float("inf")
    values = [ck.get(k) for k in ("best_val_loss", "val_loss")] if isinstance(ck, dict) else []
    finite = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    return min(finite, default=float("inf"))


def has_refiner(path: str | Path) -> bool:
    """Whether a checkpoint file holds a diffusion refinement module (weights not read: memory-mapped);
    False for anything unreadable."""
    try:
        ck = load_torch_file(path, mmap=True)
    except StickGenError:
        return False
    state = ck.get("model_state_dict") if isinstance(ck, dict) else None
    return isinstance(state, dict) and any(".refiner." in f".{k}" for k in state)


def check_checkpoint(ck: dict[str, Any], path: str | Path) -> None:
    """Types of the checkpoint's entries and finiteness of its weights (a NaN model is not a model)."""
    for key in ("epoch", "global_step"):
        if isinstance(ck[key], bool) or not isinstance(ck[key], int):
            raise CheckpointError(f"{path}: '{key}' should be a whole number, got {type(ck[key]).__name__}", path)
    if not isinstance(ck["config"], dict):
        raise CheckpointError(f"{path}: 'config' should be a dict of config sections, got {type(ck['config']).__name__}",
                           path)
    for key in ("model_state_dict", "optimizer_state_dict", "scheduler_state_dict", "lora_state_dict"):
        if key in ck and ck[key] is not None and not isinstance(ck[key], dict):
            raise CheckpointError(f"{path}: '{key}' should be a dict, got {type(ck[key]).__name__}", path)
    for key in ("model_state_dict", "lora_state_dict"):
        for name, t in (ck.get(key) or {}).items():
            if not isinstance(t, torch.Tensor):
                raise CheckpointError(f"{path}: {key}[{str(name)[:80]!r}] should be a tensor, got {type(t).__name__}", path)
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                raise CheckpointError(f"{path}: weight {str(name)[:80]!r} holds NaN/inf values; the model diverged "
                                   "when it was saved: use an earlier checkpoint", path)


def export_merged(checkpoint: str | Path, output: str | Path) -> Path:
    """A LoRA checkpoint with its adapters merged into the base weights (no PEFT needed to load)."""
    ck = load_checkpoint(checkpoint)
    merged, _ = model_from_checkpoint(ck, checkpoint)
    out = {k: v for k, v in ck.items() if k not in ("optimizer_state_dict", "scheduler_state_dict", "lora_state_dict")}
    out["model_state_dict"] = merged.state_dict()
    out["config"] = dict(ck["config"], lora=dict(ck["config"].get("lora", {}), enabled=False))
    out["merged_from"] = str(checkpoint)
    save_checkpoint(output, out)
    return Path(output)
