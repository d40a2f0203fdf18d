"""One colour per issue kind, shared by the timeline rows and the figure's tint."""

from __future__ import annotations

import zlib

from PySide6.QtGui import QColor

# none of them near the figure's left blue or right orange, so a tint never reads as a side
ISSUE_COLOURS: dict[str, str] = {
    "frozen": "#7e57c2", "jitter": "#d81b60", "jittery": "#d81b60", "velocity_explosion": "#c62828",
    "velocity": "#c62828", "acceleration": "#880e4f", "foot_sliding": "#00838f",
    "ground_penetration": "#6d4c41", "repetitive": "#558b2f", "low_quality": "#546e7a",
    "shaky_camera": "#827717", "too_short": "#455a64", "detached_limb": "#b71c1c", "bone_length": "#6a1b9a",
    "joint_limit": "#ad1457", "height_change": "#4527a0",
}
_FALLBACK = ("#ad1457", "#6a1b9a", "#2e7d32", "#4e342e", "#37474f", "#9e9d24")


def issue_colour(kind: str, strength: float = 1.0) -> QColor:
    """The kind's colour; ``strength`` in [0, 1] sets its opacity (severity as colour strength)."""
    name = ISSUE_COLOURS.get(kind) or _FALLBACK[zlib.crc32(kind.encode()) % len(_FALLBACK)]
    c = QColor(name)
    c.setAlphaF(max(0.0, min(1.0, 0.25 + 0.75 * strength)))
    return c
