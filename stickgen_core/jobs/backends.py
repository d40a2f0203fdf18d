"""What a backend does for a run, and which backend a job names."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import JobError

if TYPE_CHECKING:
    from .run import Run
    from .spec import JobSpec


class Backend:
    """Starts, watches and stops runs. The base class reads a run folder as it is (nothing to sync)."""

    name = "base"

    def start(self, run: "Run") -> None:
        raise NotImplementedError

    def stop(self, run: "Run", wait: bool, timeout: float) -> None:
        raise NotImplementedError

    def release(self, run: "Run", timeout: float = 0.0) -> None:
        """Let go of what the run still holds before it is resumed or deleted (a local run's processes
        must be gone, a pod must not bill on); JobError when it cannot within ``timeout`` seconds."""

    def refresh(self, run: "Run") -> None:
        """Bring the run's status up to date in job_state.json (e.g. a dead process becomes 'failed')."""

    def sync_metrics(self, run: "Run") -> None:
        """Bring metrics.jsonl up to date (remote runs copy new lines from the pod)."""

    def sync_log(self, run: "Run") -> None:
        """Bring train.log up to date (remote runs copy its tail from the pod)."""

    def sync_system(self, run: "Run") -> None:
        """Bring system.jsonl (CPU, memory, GPU samples) up to date (remote runs copy it from the pod)."""

    def fetch_checkpoint(self, run: "Run", which: str) -> "Path":
        """The local path of the run's best or latest checkpoint (remote runs download it)."""
        path = run.checkpoint(which)
        if path is None:
            raise JobError(f"run {run.run_id}: no {which} checkpoint in {run.root / 'checkpoints'}")
        return path


def backend_for(spec: "JobSpec") -> Backend:
    if spec.backend == "local":
        from .local import LocalBackend

        return LocalBackend(spec.backend_settings)
    if spec.backend == "runpod":
        from .runpod_backend import RunPodBackend

        return RunPodBackend(spec.backend_settings)
    if spec.backend == "skypilot":
        from .skypilot import SkyPilotBackend

        return SkyPilotBackend(spec.backend_settings)
    raise JobError(f"job.backend: expected 'local', 'runpod' or 'skypilot', got {spec.backend!r}")
