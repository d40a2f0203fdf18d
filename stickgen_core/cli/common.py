"""What the command modules share."""

from __future__ import annotations

from tqdm import tqdm


def bar(total: int, desc: str, unit: str = "clip"):
    """A tqdm bar and a ``progress(done, total)`` callback that drives it."""
    b = tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, disable=None)

    def progress(done: int, _total: int) -> None:
        b.update(done - b.n)

    return b, progress
