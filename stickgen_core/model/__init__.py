"""The Stick-Gen transformer (and, later, diffusion refinement and LoRA glue)."""

from .transformer import StickFigureTransformer

__all__ = ["StickFigureTransformer"]
