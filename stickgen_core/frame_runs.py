"""Runs of flagged frames: where a per-frame flag is True, as ``[start, end)`` spans.

Shared by the curation issues, the critic and the anatomy measures; it sits below all three so
none of them imports another to find its spans.
"""

from __future__ import annotations

import numpy as np


def runs(flag: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    edges = np.flatnonzero(np.diff(np.r_[0, np.asarray(flag, np.int8), 0]))
    return [(int(s), int(e)) for s, e in zip(edges[::2], edges[1::2])]
