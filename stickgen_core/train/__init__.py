"""Training: data, losses, checkpoints, the loop, and ``python -m stickgen_core.train``."""

from .trainer import RunFolder, apply_lora, export_merged, train

__all__ = ["RunFolder", "apply_lora", "export_merged", "train"]
