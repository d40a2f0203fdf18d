"""Curation: thresholds, honest balancing, statistics and split export.

``CurationConfig`` loads with the package; the rest (pandas) on first use, so that building the
CLI parser, which reads the config's field help, stays fast.
"""

from importlib import import_module
from typing import Any

from .config import CurationConfig

_LAZY = {"export_splits": ".export", "PRETRAIN_RULES": ".thresholds", "SFT_RULES": ".thresholds",
         "CurationResult": ".thresholds", "PreparedTable": ".thresholds", "apply_thresholds": ".thresholds",
         "prepare_table": ".thresholds", "CurationSession": ".session"}

__all__ = ["CurationConfig", "CurationResult", "CurationSession", "PRETRAIN_RULES", "SFT_RULES", "apply_thresholds",
           "export_splits", "PreparedTable", "prepare_table"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
