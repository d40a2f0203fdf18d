"""Curation: thresholds, honest balancing, statistics and split export."""

from .config import CurationConfig
from .export import export_splits
from .thresholds import PRETRAIN_RULES, SFT_RULES, CurationResult, PreparedTable, apply_thresholds, prepare_table

__all__ = ["CurationConfig", "CurationResult", "PRETRAIN_RULES", "SFT_RULES", "apply_thresholds", "export_splits",
           "PreparedTable", "prepare_table"]
