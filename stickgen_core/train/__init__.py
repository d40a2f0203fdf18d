"""Training: data, losses, checkpoints, the loop, and ``python -m stickgen_core.train``.

The names below load the trainer (and torch) on first use, so importing a light submodule
such as ``stickgen_core.train.arguments`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .planner import fit_planner_into
    from ..model.loading import apply_lora
    from .checkpoint import export_merged
    from .trainer import RunFolder, train

__all__ = ["RunFolder", "apply_lora", "export_merged", "fit_planner_into", "train"]
_HOMES = {"fit_planner_into": ".planner", "export_merged": ".checkpoint", "apply_lora": "..model.loading"}


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module(_HOMES.get(name, ".trainer"), __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
