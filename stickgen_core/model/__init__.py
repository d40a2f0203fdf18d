"""The Stick-Gen transformer and its diffusion refinement module (LoRA glue lives in ``train``)."""

from .refiner import MotionRefiner
from .transformer import StickFigureTransformer

__all__ = ["MotionRefiner", "StickFigureTransformer"]
