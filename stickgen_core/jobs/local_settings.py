"""The local backend's settings, read where a run folder is checked as well as where runs start."""

from __future__ import annotations

import os
from typing import Any

from ..errors import JobError
from ..limits import brief


def max_parallel(settings: dict[str, Any] | None = None) -> int:
    """How many local runs may train at once: the job's ``max_parallel``, else ``STICKGEN_MAX_LOCAL_RUNS``, else 1."""
    value = (settings or {}).get("max_parallel") or os.environ.get("STICKGEN_MAX_LOCAL_RUNS") or 1
    try:
        if isinstance(value, (bool, float)):
            raise ValueError
        return max(int(value), 1)
    except (TypeError, ValueError):
        raise JobError(f"max_parallel (job.backend_settings or STICKGEN_MAX_LOCAL_RUNS): expected a whole "
                       f"number, got {brief(value)}") from None
