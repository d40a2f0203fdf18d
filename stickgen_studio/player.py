"""The former player's name, kept while pages move to ``widgets.MotionViewer``.

``StickFigurePlayer.set_clip`` still takes the old per-frame flags dict and a title.
"""

from __future__ import annotations

import numpy as np

from stickgen_core.issues import spans_from_flags

from .widgets.clip_card import ClipCard
from .widgets.motion_viewer import MotionViewer

__all__ = ["MotionViewer", "StickFigurePlayer"]


class StickFigurePlayer(MotionViewer):
    """A ``MotionViewer`` fed the old way: ``set_clip(motion, fps, flags, title)``."""

    def set_clip(self, motion: np.ndarray, fps: float = 25.0, flags: dict[str, np.ndarray] | None = None,  # type: ignore[override]
                 title: str = "", ground: float | None = None) -> None:
        super().set_clip(motion, fps, spans_from_flags(flags or {}, fps=fps), ClipCard(title) if title else None,
                         ground=ground)
