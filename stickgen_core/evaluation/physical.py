"""Physical plausibility of motion: foot skating, jitter (mean jerk), bone-length variation, ground penetration.

Thin, batched views over ``stickgen_core.metrics`` (the curation metrics), read with the
ground at y = 0 (the data contract; generations stand on it too), so a ground-truth clip
and a generation are measured by the same code.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..metrics import ClipInput, compute_metrics
from ..schema import FPS_DEFAULT

PHYSICAL_METRICS = ("foot_skating_ratio", "mean_jerk", "bone_length_variation", "ground_penetration_ratio",
                    "ground_penetration_depth")


def physical_metrics(motions: Sequence[np.ndarray], fps: float = FPS_DEFAULT,
                     ground: float | str | None = 0.0) -> dict[str, np.ndarray]:
    """Per clip: share of frames whose grounded foot slides (> 0.5 m/s within 5 cm of the ground),
    mean jerk (m/s^3), mean coefficient of variation of the 11 rigid bone lengths, share of
    frames below -10 cm, and deepest point below the ground (m, 0 when never below).

    ``ground`` is the floor's y (0: the data contract); None estimates it per clip from the
    resting feet; "auto" takes y = 0 when the resting feet agree, as the critic does by default."""
    clips = [ClipInput(motion=np.asarray(m, dtype=np.float32), fps=fps, ground=ground) for m in motions]
    m = compute_metrics(clips)
    if not m:
        return {k: np.zeros(0) for k in PHYSICAL_METRICS}
    return {"foot_skating_ratio": m["foot_sliding_ratio"], "mean_jerk": m["mean_jerk"],
            "bone_length_variation": m["limb_length_cv"], "ground_penetration_ratio": m["penetration_ratio"],
            "ground_penetration_depth": np.maximum(-m["min_y"], 0.0)}


def summarise_physical(motions: Sequence[np.ndarray], fps: float = FPS_DEFAULT) -> dict[str, float]:
    """The mean of each physical metric over a set of clips."""
    per_clip = physical_metrics(motions, fps)
    return {k: float(np.mean(v)) if len(v) else float("nan") for k, v in per_clip.items()}
