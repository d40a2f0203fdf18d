"""The Stick-Gen transformer and its diffusion refinement module (rebuilt from a checkpoint, LoRA included, by ``model.loading``)."""

from .refiner import MotionRefiner
from .transformer import StickFigureTransformer

__all__ = ["MotionRefiner", "StickFigureTransformer"]
