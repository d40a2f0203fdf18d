"""Procedural stick-figure clips for demos and tests (see ``generator``)."""

from .defects import DEFECT_TYPES
from .generator import SynthConfig, derive_physics, generate_dataset, generate_sample, generate_samples

__all__ = ["DEFECT_TYPES", "SynthConfig", "derive_physics", "generate_dataset", "generate_sample", "generate_samples"]
