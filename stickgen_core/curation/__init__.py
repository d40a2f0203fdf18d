"""Curation: thresholds, honest balancing, statistics and split export."""

from .config import CurationConfig
from .export import export_splits
from .thresholds import PRETRAIN_RULES, SFT_RULES, CurationResult, apply_thresholds

__all__ = ["CurationConfig", "CurationResult", "PRETRAIN_RULES", "SFT_RULES", "apply_thresholds", "export_splits"]
