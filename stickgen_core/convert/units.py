"""Length units of a 3-D joint track: named (``--units``), a factor (``--scale``) or found from the figure.

``auto`` reads the figure's head-centre-to-ankle height (median over frames) in each unit and
keeps the unit that makes it a person (0.9-2.1 m), the one nearest a typical 1.45 m when
several do. CMU's own BVH distribution uses its ASF unit: 1/0.45 inch (about 5.64 cm), so an
adult's head-to-ankle of about 21-30 units is read as CMU units, not inches.
"""

from __future__ import annotations

import math

from ..errors import DatasetError

#: unit name -> metres per unit
UNITS: dict[str, float] = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": 0.0254, "cmu": 0.0254 / 0.45}
UNIT_CHOICES = (*UNITS, "auto")
#: head-centre-to-ankle distance of a standing adult, in metres: what ``auto`` accepts
HEAD_ANKLE_M = (0.9, 2.1)
_TYPICAL_M = 1.45


def find_units(height: float, origin: str) -> tuple[str, float]:
    """(unit name, metres per unit) whose reading of the head-to-ankle ``height`` is a person."""
    fits = [(abs(math.log(height * f / _TYPICAL_M)), name, f) for name, f in UNITS.items()
            if height > 0 and HEAD_ANKLE_M[0] <= height * f <= HEAD_ANKLE_M[1]]
    if not fits:
        raise DatasetError(f"{origin}: cannot tell the units: the figure's head-to-ankle height is {height:.4g} "
                           f"file units, which is no person's height in {', '.join(UNITS)} "
                           f"(give --units or --scale METRES_PER_UNIT)", origin)
    _, name, f = min(fits)
    return name, f


def resolve_units(height: float, origin: str, units: str = "auto", scale: float | None = None) -> tuple[str, float]:
    """(unit label, metres per unit): ``scale`` when given, else the named unit, else ``auto``."""
    if scale is not None:
        if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
            raise DatasetError(f"{origin}: --scale: expected a positive number of metres per file unit, got {scale!r}", origin)
        return f"scale {scale:g}", float(scale)
    if units == "auto":
        return find_units(height, origin)
    if units not in UNITS:
        raise DatasetError(f"{origin}: --units: expected one of {', '.join(UNIT_CHOICES)}, got {units!r}", origin)
    return units, UNITS[units]
