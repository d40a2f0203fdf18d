"""A model rebuilt from a checkpoint's stored config (nanoGPT style), LoRA adapters, device choice.

Inference, evaluation and the planner load models through here, so none of them imports the
training loop; training uses the same functions to resume and to wrap a model with LoRA.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from ..config import StickGenConfig, load_config
from ..errors import CheckpointError, ConfigError
from .transformer import StickFigureTransformer


def load_config_from_checkpoint(ck: dict, path: str | Path = "checkpoint") -> StickGenConfig:
    """The typed config a checkpoint was trained with (nanoGPT style: it travels with the weights)."""
    try:
        return load_config(overrides=ck["config"])
    except ConfigError as exc:
        raise CheckpointError(f"{path}: the config stored in it is not valid ({exc})", path) from None


def lora_targets(model: torch.nn.Module, patterns: list[str]) -> list[str]:
    """Names of the Linear layers whose name matches any regex of ``lora.target_modules``."""
    regex = [re.compile(p) for p in patterns]
    return [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and any(r.search(n) for r in regex)]


def apply_lora(model: StickFigureTransformer, cfg: StickGenConfig) -> torch.nn.Module:
    """Wrap ``model`` with PEFT LoRA adapters; only the adapters stay trainable."""
    from peft import LoraConfig, get_peft_model  # only LoRA runs and LoRA checkpoints need PEFT

    targets = lora_targets(model, cfg.lora.target_modules)
    if not targets:
        raise ConfigError(f"lora.target_modules: {cfg.lora.target_modules} match no Linear layer "
                          f"(names look like {[n for n, _ in model.named_modules()][1:6]})")
    peft_cfg = LoraConfig(r=cfg.lora.rank, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                          target_modules=targets, bias="none")
    return get_peft_model(model, peft_cfg)


def load_weights(model: torch.nn.Module, state: dict[str, torch.Tensor], path: str | Path, what: str) -> None:
    """``model.load_state_dict(state)`` with a mismatch reported as one line naming the file."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    extra = [k for k in state if k not in own]
    wrong = [(k, list(state[k].shape), list(own[k].shape)) for k in own
             if k in state and isinstance(state[k], torch.Tensor) and state[k].shape != own[k].shape]
    if missing or extra or wrong:
        parts = []
        if wrong:
            k, got, want = wrong[0]
            parts.append(f"{len(wrong)} weight(s) of another shape (first {k}: file {got}, model {want})")
        if missing:
            parts.append(f"{len(missing)} weight(s) missing (first {missing[0]})")
        if extra:
            parts.append(f"{len(extra)} unexpected weight(s) (first {extra[0]})")
        # layers that only some model settings add: name the setting, the likely cause
        flags = {"modulation": "model.text_conditioning: adaln", "null_text": "model.text_conditioning: adaln",
                 "root_in": "model.root_relative", "clock_in": "model.time_conditioning",
                 "action_emb": "model.action_conditioning", "camera_in": "model.camera_conditioning",
                 "refiner.": "diffusion.enabled (and its d_model / n_layers)",
                 "image_encoder.": "data.use_parallax_augmentation (model.image_conditioning, image_encoder_arch)"}
        hint = sorted({v for k, v in flags.items() for n in missing + extra if k in n})
        if hint:
            parts.append(f"settings involved: {', '.join(hint)}")
        raise CheckpointError(f"{path}: its weights do not fit {what}: {'; '.join(parts)}", path)
    model.load_state_dict(state)


def model_from_checkpoint(ck: dict, path: str | Path = "checkpoint") -> tuple[StickFigureTransformer, StickGenConfig]:
    """The model a checkpoint holds, rebuilt from its stored config, LoRA adapters merged in."""
    cfg = load_config_from_checkpoint(ck, path)
    dim = ck.get("embedding_dim")
    if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int) or dim < 1):
        raise CheckpointError(f"{path}: 'embedding_dim' should be a positive whole number, got {str(dim)[:40]!r}", path)
    lora = any("lora_" in k for k in ck["model_state_dict"])
    if ck.get("lora_state_dict") and not lora:
        raise CheckpointError(f"{path}: holds a lora_state_dict but its model weights have no LoRA adapters; "
                              "expected both (a LoRA run) or neither", path)
    model: torch.nn.Module = StickFigureTransformer(cfg.model, dim, cfg.diffusion)
    if lora:
        model = apply_lora(model, cfg)
    load_weights(model, ck["model_state_dict"], path, "the model its config describes")
    return (model.merge_and_unload() if lora else model), cfg


def pick_device(name: str) -> torch.device:
    """``auto`` (CUDA when present), ``cpu``, ``cuda``/``cuda:N`` or ``mps``; anything else is a ConfigError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device {str(name)[:40]!r}: expected auto, cpu, cuda, cuda:N or mps")
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        # on a pod this is the loud failure we want: a driver older than torch's CUDA leaves 0 devices
        raise ConfigError(f"device {name!r}: no such CUDA device here ({torch.cuda.device_count()} found; this torch "
                          f"is built for CUDA {torch.version.cuda or 'none'}: no GPU, or a driver too old for it?); "
                          "use auto or cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {name!r}: MPS is not available here; use auto or cpu")
    return device
