"""``SafetyCriticConfig``: every rule of the safety critic with its help and range (no torch, so that
``stickgen critic --help`` and the studio's editor read it cheaply)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from .anatomy import LYING_WORDS, AnatomyLimits
from .config_fields import check_fields, setting

STILLNESS_WORDS = ("still", "motionless", "meditat", "freez", "frozen", "statue", "sleep", "asleep",
                   "lies down", "lying", "stays put", "does not move", "doesn't move", "holds a pose")


def _share(default: float, help: str) -> Any:
    return setting(default, help=help, ge=0, le=1)


def _severity(default: float, kind: str) -> Any:
    return _share(default, f"Severity (0-1) of a '{kind}' issue; the clip is unsafe when it reaches the rejection "
                           "severity.")


def _limit(name: str, help: str) -> Any:
    """An anatomy limit: its default is ``AnatomyLimits``' (fitted on data), any finite number >= 0."""
    return setting(getattr(AnatomyLimits, name), help=help, ge=0)


@dataclass
class SafetyCriticConfig:
    SECTION: ClassVar[str] = "safety_critic"

    frozen_velocity: float = setting(0.002, help="m/s: a frame whose mean joint speed is below this is frozen.",
                                     ge=0)
    frozen_ratio: float = _share(0.8, "Flag 'frozen' when more than this share of frames is frozen.")
    frozen_severity: float = _severity(0.9, "frozen")
    repetition_window: int = setting(25, help="Frames per window compared for repetition (25 = 1 s).", ge=4)
    repetition_similarity: float = _share(0.995, "Cosine similarity of two velocity windows that counts as a "
                                                 "repeat.")
    repetition_min_windows: int = setting(3, help="Flag 'repetitive' when this many windows repeat.", ge=2)
    repetitive_severity: float = _severity(0.7, "repetitive")
    jitter_acceleration: float = setting(25.0, help="m/s²: frame-alternating acceleration above this is jitter.",
                                         ge=0)
    jitter_ratio: float = _share(0.3, "Flag 'jittery' when more than this share of frames jitter.")
    jitter_severity: float = _severity(0.6, "jittery")
    max_velocity: float = setting(15.0, help="m/s: pelvis speed above this is flagged.", ge=0)
    velocity_severity: float = _severity(0.8, "velocity")
    max_acceleration: float = setting(50.0, help="m/s²: pelvis acceleration above this is flagged.", ge=0)
    acceleration_severity: float = _severity(0.7, "acceleration")
    ground_threshold: float = setting(-0.1, help="m: body parts lower than this below the ground are flagged.",
                                      le=0)
    ground_severity: float = _severity(0.6, "ground penetration")
    ground: Literal["auto", "zero", "estimate"] = setting(
        "auto", help="auto: y = 0 when the resting feet agree, else estimated from them; zero: always y = 0; "
                     "estimate: always from the resting feet.")
    min_quality: float = _share(0.3, "Flag 'low quality' below this (1 - artifact score) × realism.")
    quality_severity: float = _severity(0.5, "low quality")
    rejection_severity_threshold: float = setting(
        0.7, help="A clip is unsafe when any issue's severity reaches this.", gt=0, le=1,
        why="severities run from 0 to 1, so a higher one makes nothing unsafe")
    stillness_words: tuple[str, ...] = setting(STILLNESS_WORDS, help="A prompt with one of these words may stand "
                                                                     "still (no 'frozen' issue).")
    # anatomy (distances in metres of a 1.75 m figure)
    max_shoulder_gap: float = _limit("max_shoulder_gap", "m (on a 1.75 m figure): a shoulder farther than this "
                                                         "from the neck-chest line is detached.")
    max_hip_gap: float = _limit("max_hip_gap", "m (on a 1.75 m figure): a hip farther than this from the pelvis "
                                               "centre is detached.")
    detached_limb_severity: float = _severity(0.8, "detached limb")
    max_bone_stretch: float = _limit("max_bone_stretch", "A bone longer than its rest length × (1 + this) is "
                                                         "stretched.")
    max_bone_variation: float = _limit("max_bone_variation", "Flag when the bones' lengths vary more than this "
                                                             "over the clip (0.2 = 20 %).")
    bone_length_severity: float = _severity(0.7, "bone length")
    max_wrong_bend: float = _limit("max_wrong_bend", "Degrees an elbow or knee may bend against the body's facing "
                                                     "(side-on frames).")
    max_head_drop: float = _limit("max_head_drop", "m (on a 1.75 m figure) the head may sit below the shoulders.")
    joint_limit_severity: float = _severity(0.7, "joint limit")
    max_height_gain: float = _limit("max_height_gain", "The standing chain above its rest length × (1 + this) is a "
                                                       "height change.")
    min_height_ratio: float = _share(AnatomyLimits.min_height_ratio, "The standing chain below its rest length × "
                                                                     "this is a height change.")
    height_change_severity: float = _severity(0.7, "height change")
    lying_words: tuple[str, ...] = setting(LYING_WORDS, help="A prompt with one of these words may put the head "
                                                             "low and shrink.")

    def __post_init__(self) -> None:
        check_fields(self)

    def anatomy_limits(self) -> AnatomyLimits:
        """The anatomy limits these settings hold."""
        return AnatomyLimits(**{f: getattr(self, f) for f in AnatomyLimits.__dataclass_fields__})
