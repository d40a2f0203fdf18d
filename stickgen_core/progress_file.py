"""A step's count in a small JSON file (``{"done", "total", "unit"}``): one process writes it, another reads it.

The embed step of a job writes one (``stickgen embed --progress-file``) and the job's supervisor turns it
into the run's status (``progress`` beside ``phase: embed``), which the runs list shows as
'embedding 1,200 / 2,504 clips'. Writes are atomic and at most every ``every_s`` (the last count always).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .io import atomic_write_text

#: a progress file is a few dozen bytes; anything bigger is not one
MAX_BYTES = 4096


class ProgressFile:
    """Writes ``{"done", "total", "unit"}`` to ``path`` atomically, at most every ``every_s`` seconds."""

    def __init__(self, path: str | Path, unit: str, every_s: float = 0.5) -> None:
        self.path, self.unit, self.every_s = Path(path), unit, every_s
        self._last = float("-inf")

    def update(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < self.every_s:
            return
        self._last = now
        atomic_write_text(self.path, json.dumps({"done": int(done), "total": int(total), "unit": self.unit}))


def read_progress(path: str | Path) -> dict[str, Any] | None:
    """The count a progress file holds, or None when it is missing, being replaced or not a count."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
        data = json.loads(raw) if len(raw) <= MAX_BYTES else None
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    done, total, unit = data.get("done"), data.get("total"), data.get("unit")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (done, total)) or done > total:
        return None
    return {"done": done, "total": total, "unit": unit if isinstance(unit, str) else ""}
