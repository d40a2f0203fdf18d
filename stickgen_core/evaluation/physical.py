"""Physical plausibility of motion: foot skating, jitter (mean jerk), bone-length variation, ground penetration,
and whether the figure stays a body (limb attachment gaps, joints bent the wrong way: ``stickgen_core.anatomy``).

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
                    "ground_penetration_depth", "shoulder_gap", "hip_gap", "joint_limit_ratio", "anatomy_violation_ratio")


def physical_metrics(motions: Sequence[np.ndarray], fps: float = FPS_DEFAULT,
                     ground: float | str | None = 0.0) -> dict[str, np.ndarray]:
    """Per clip: share of frames whose grounded foot slides (> 0.5 m/s within 5 cm of the ground),
    mean jerk (m/s^3), mean coefficient of variation of the 11 rigid bone lengths, share of
    frames below -10 cm, deepest point below the ground (m, 0 when never below), the largest
    shoulder-to-torso and hip-to-pelvis gaps (m on a 1.75 m figure), the share of frames with an
    elbow or knee bent the wrong way, and the share of frames breaking any anatomy limit.

    ``ground`` is the floor's y (0: the data contract); None estimates it per clip from the
    resting feet; "auto" takes y = 0 when the resting feet agree, as the critic does by default."""
    clips = [ClipInput(motion=np.asarray(m, dtype=np.float32), fps=fps, ground=ground) for m in motions]
    m = compute_metrics(clips)
    if not m:
        return {k: np.zeros(0) for k in PHYSICAL_METRICS}
    return {"foot_skating_ratio": m["foot_sliding_ratio"], "mean_jerk": m["mean_jerk"],
            "bone_length_variation": m["limb_length_cv"], "ground_penetration_ratio": m["penetration_ratio"],
            "ground_penetration_depth": np.maximum(-m["min_y"], 0.0), "shoulder_gap": m["max_shoulder_gap"],
            "hip_gap": m["max_hip_gap"], "joint_limit_ratio": m["joint_limit_ratio"],
            "anatomy_violation_ratio": m["anatomy_violation_ratio"]}


def summarise_physical(motions: Sequence[np.ndarray], fps: float = FPS_DEFAULT) -> dict[str, float]:
    """The mean of each physical metric over a set of clips."""
    per_clip = physical_metrics(motions, fps)
    return {k: float(np.mean(v)) if len(v) else float("nan") for k, v in per_clip.items()}
