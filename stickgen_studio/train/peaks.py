"""Min/max envelopes of an append-only series at bucket sizes 2, 4, 8, ... (the live plots' downsampling).

A redraw hands pyqtgraph a few thousand points per curve whatever the run's length: the finest
level whose buckets in the visible index range fit the plot's pixel width, each bucket drawn as
its min and its max (peak downsampling, so no spike is lost). An append recomputes only the tail
bucket of every level, so a poll tick costs O(new points + levels), never O(points).
"""

from __future__ import annotations

import numpy as np

TOP_BUCKETS = 512   # no coarser level is built once a level has at most this many buckets


def _grown(buf: np.ndarray, need: int) -> np.ndarray:
    if len(buf) >= need:
        return buf
    out = np.full(max(need, 2 * len(buf), 64), np.nan)
    out[: len(buf)] = buf
    return out


class PeakPyramid:
    """Level k holds, for buckets of 2**(k+1) consecutive points, their min (``lo``) and max (``hi``)."""

    def __init__(self) -> None:
        self.n = 0
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []
        self.counts: list[int] = []

    def update(self, y: np.ndarray) -> None:
        """Cover ``y``, the whole series, whose first ``self.n`` values are unchanged since the last call."""
        n = len(y)
        if n < self.n:                      # not an append: start again
            self.n, self.lo, self.hi, self.counts = 0, [], [], []
        start, lo, hi, count = self.n, y, y, n
        k = 0
        while count > TOP_BUCKETS:
            nb = (count + 1) // 2
            if k == len(self.counts):       # a new level: all of it is new
                self.lo.append(np.empty(0))
                self.hi.append(np.empty(0))
                self.counts.append(0)
                start = 0
            s = start // 2
            self.lo[k] = _grown(self.lo[k], nb)
            self.hi[k] = _grown(self.hi[k], nb)
            pairs = (count - 2 * s) // 2
            a, b = slice(2 * s, 2 * (s + pairs), 2), slice(2 * s + 1, 2 * (s + pairs), 2)
            self.lo[k][s: s + pairs] = np.fmin(lo[a], lo[b])     # fmin / fmax skip NaN
            self.hi[k][s: s + pairs] = np.fmax(hi[a], hi[b])
            if count % 2:                   # a half-filled last bucket: its one point
                self.lo[k][nb - 1], self.hi[k][nb - 1] = lo[count - 1], hi[count - 1]
            self.counts[k] = nb
            lo, hi, count, start = self.lo[k][:nb], self.hi[k][:nb], nb, s
            k += 1
        self.n = n

    def view(self, x: np.ndarray, y: np.ndarray, i0: int, i1: int, max_points: int) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) to draw for raw rows ``[i0, i1)``: the rows themselves when they fit in ``max_points``,
        else the finest level that fits, as (bucket start, min), (bucket end, max) pairs."""
        if i1 - i0 <= max_points or not self.counts:
            return x[i0:i1], y[i0:i1]
        k = 0
        while k < len(self.counts) - 1 and 2 * ((i1 - 1) // (2 << k) - i0 // (2 << k) + 1) > max_points:
            k += 1
        size = 2 << k
        b0, b1 = i0 // size, min((i1 - 1) // size + 1, self.counts[k])
        first = np.arange(b0, b1) * size
        xs = np.empty(2 * (b1 - b0))
        ys = np.empty_like(xs)
        xs[0::2], xs[1::2] = x[first], x[np.minimum(first + size, self.n) - 1]
        ys[0::2], ys[1::2] = self.lo[k][b0:b1], self.hi[k][b0:b1]
        return xs, ys
