"""What a training run is built from before its first step: the data, the model (rebuilt from a resumed
checkpoint's config, initialised from another's weights, frozen or wrapped in LoRA) and the run's record."""

from __future__ import annotations

import logging
import sys
from typing import Any

import torch

from ..config import RunSources, StickGenConfig
from ..errors import ConfigError
from ..model import StickFigureTransformer
from ..model.loading import apply_lora, load_config_from_checkpoint, load_weights
from .checkpoint import load_checkpoint
from .data import MotionData
from .distributed import Dist

log = logging.getLogger(__name__)


def check_sources(cfg: StickGenConfig, sources: RunSources) -> None:
    """ConfigError before anything is loaded when the run has no data or a refiner has nothing to refine."""
    if cfg.diffusion.freeze_transformer and not (sources.init_from.value or sources.resume_from.value):
        raise ConfigError("diffusion.freeze_transformer: true trains the refiner on a trained transformer: "
                          "pass --init_from (or resume_from) with its checkpoint")
    if sources.data_path.value is None:
        raise ConfigError("no training data: pass --data_path, set TRAIN_DATA_PATH or data.train_data")


def load_training_data(cfg: StickGenConfig, sources: RunSources) -> MotionData:
    """The split (streamed when packed), paired with its renders when parallax augmentation is on."""
    tc = cfg.training
    if cfg.data.use_parallax_augmentation:  # clips paired with their renders; the model gets an image encoder
        from ..parallax.training import ParallaxMotionData

        cfg.model.image_conditioning = True
        data: MotionData = ParallaxMotionData(sources.data_path.value, cfg.data, val_fraction=tc.val_fraction,
                                              seed=tc.seed, max_frames=tc.max_frames)
    else:
        data = MotionData(sources.data_path.value, val_fraction=tc.val_fraction, seed=tc.seed, max_frames=tc.max_frames)
    if isinstance(cfg.model.embedding_dim, int):
        data.check_dim(cfg.model.embedding_dim, "config")
    return data


def adopt_saved_model(cfg: StickGenConfig, resume: dict, path: str) -> None:
    """A resumed run rebuilds the model exactly as it was saved (nanoGPT style): the checkpoint's model and
    diffusion sections replace the config's (with a warning when they differ)."""
    saved = load_config_from_checkpoint(resume, path)
    if saved.model != cfg.model:
        log.warning("resuming: model section differs from the checkpoint's; the checkpoint's is used")
        cfg.model = saved.model
    if saved.diffusion != cfg.diffusion or saved.loss_weights.diffusion != cfg.loss_weights.diffusion:
        log.warning("resuming: diffusion settings differ from the checkpoint's; the checkpoint's are used")
        cfg.diffusion, cfg.loss_weights.diffusion = saved.diffusion, saved.loss_weights.diffusion


def build_model(cfg: StickGenConfig, sources: RunSources, data: MotionData, resumed: bool) -> torch.nn.Module:
    """The model of this config and data: fresh, or with ``init_from``'s weights (not when resuming: the
    resume loads its own), the transformer frozen for a refiner stage, LoRA applied last."""
    model: torch.nn.Module = StickFigureTransformer(cfg.model, data.embedding_dim, cfg.diffusion)
    model.start_pose.copy_(data.first_pose)  # init_from / resume_from overwrite it with the saved one
    if sources.init_ignored:
        log.warning("both resume_from and init_from are set: resuming from %s, init_from %s",
                    sources.resume_from.value, sources.init_from.origin)
    if sources.init_from.value and not resumed:
        init_weights(model, cfg, sources, data)
    if cfg.diffusion.freeze_transformer:
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith("refiner."))
    if cfg.lora.enabled:
        model = apply_lora(model, cfg)
    return model


def init_weights(model: torch.nn.Module, cfg: StickGenConfig, sources: RunSources, data: MotionData) -> None:
    """``init_from``'s weights (merged LoRA names undone); parts it lacks (an image encoder, a refiner) start fresh."""
    init = load_checkpoint(sources.init_from.value)
    state = {k: v for k, v in init["model_state_dict"].items() if "lora_" not in k}
    state = {k.replace("base_model.model.", "").replace(".base_layer", ""): v for k, v in state.items()}
    if getattr(model, "image_encoder", None) is not None and not any(k.startswith("image_encoder.") for k in state):
        # a text-only model fine-tuned with images: its image encoder starts fresh (at zero effect)
        state.update({k: v for k, v in model.state_dict().items() if k.startswith("image_encoder.")})
        log.info("init_from has no image encoder: it starts fresh on the loaded transformer")
    if model.refiner is not None and not any(k.startswith("refiner.") for k in state):
        # a second stage: the transformer's weights, a fresh refiner on top
        state.update({k: v for k, v in model.state_dict().items() if k.startswith("refiner.")})
        log.info("init_from has no refiner: it starts fresh on the loaded transformer")
    load_weights(model, state, sources.init_from.value, "the model of this config and data "
                 f"({cfg.model.d_model}-wide, {cfg.model.n_layers} layers, {data.embedding_dim}-dim text)")
    log.info("initialised weights from %s (%s); optimizer and schedule start fresh at epoch 0",
             sources.init_from.value, sources.init_from.origin)


def run_record(cfg: StickGenConfig, sources: RunSources, data: MotionData, model: torch.nn.Module,
               device: torch.device, ddp: Dist, command: list[str] | None, created: str) -> dict[str, Any]:
    """What run.json says of the run: its resolved config, sources, sizes and batch (per GPU and total)."""
    tc = cfg.training
    n_total = sum(p.numel() for p in model.parameters())
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log.info("parameters: %d trainable of %d (%.2f %%)", n_train, n_total, 100 * n_train / n_total)
    return {"config": cfg.to_dict(), "stage": tc.stage, "backend": "local",
            "command": command or sys.argv, "created": created, "device": str(device),
            "data_path": sources.data_path.value, "embedding_dim": data.embedding_dim,
            "sources": {k: vars(getattr(sources, k)) for k in ("data_path", "resume_from", "init_from")},
            "parameters": {"total": n_total, "trainable": n_train},
            "clips": {"train": len(data.train_idx), "val": len(data.val_idx)},
            # batch_size is per process (one per GPU under torchrun); an optimizer step sees total
            "batch": {"per_gpu": tc.batch_size, "grad_accum_steps": tc.grad_accum_steps, "processes": ddp.world,
                      "total": tc.batch_size * tc.grad_accum_steps * ddp.world}}
