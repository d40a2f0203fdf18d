"""What a backend does for a run: the one interface the local, RunPod and SkyPilot backends share.

``run.backend_for`` picks the one a job names.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import JobError

if TYPE_CHECKING:
    from .run_record import RunRecord  # a backend reads and writes the run's folder, nothing more


class Backend:
    """Starts, watches and stops runs. The base class reads a run folder as it is (nothing to sync)."""

    name = "base"

    def start(self, run: "RunRecord") -> None:
        raise NotImplementedError

    def stop(self, run: "RunRecord", wait: bool, timeout: float) -> None:
        raise NotImplementedError

    def release(self, run: "RunRecord", timeout: float = 0.0) -> None:
        """Let go of what the run still holds before it is resumed or deleted (a local run's processes
        must be gone, a pod must not bill on); JobError when it cannot within ``timeout`` seconds."""

    def refresh(self, run: "RunRecord") -> None:
        """Bring the run's status up to date in job_state.json (e.g. a dead process becomes 'failed')."""

    def sync_metrics(self, run: "RunRecord") -> None:
        """Bring metrics.jsonl up to date (remote runs copy new lines from the pod)."""

    def sync_log(self, run: "RunRecord") -> None:
        """Bring train.log up to date (remote runs copy its tail from the pod)."""

    def sync_system(self, run: "RunRecord") -> None:
        """Bring system.jsonl (CPU, memory, GPU samples) up to date (remote runs copy it from the pod)."""

    def fetch_checkpoint(self, run: "RunRecord", which: str) -> "Path":
        """The local path of the run's best or latest checkpoint (remote runs download it)."""
        path = run.checkpoint(which)
        if path is None:
            raise JobError(f"run {run.run_id}: no {which} checkpoint in {run.root / 'checkpoints'}")
        return path

