"""``Run``: the handle a user holds on one run — its folder (``RunRecord``) plus its backend's answers.

The record is passive (files only); a ``Run`` first asks the run's backend to bring the folder up
to date (a dead local process becomes 'failed', a pod's status, metrics and log are copied home)
and acts through it (stop, fetch). Backends receive the record and never import this module, so
the layers stay one-way: record <- backends <- Run <- registry/client.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..errors import JobError
from ..run_state import ACTIVE, TERMINAL, RunState
from .backends import Backend
from .run_record import (BEST, LATEST, PROCESSES_DIED, RunRecord, failure_tail, now_iso, settle_dead, tail_lines,
                         write_json)
from .spec import JobSpec

__all__ = ["ACTIVE", "BEST", "LATEST", "PROCESSES_DIED", "TERMINAL", "Run", "RunState", "backend_for",
           "failure_tail", "now_iso", "settle_dead", "tail_lines", "write_json"]


def backend_for(spec: JobSpec) -> Backend:
    """The backend a job names. Imported on first use: a local run never loads the RunPod SDK or SkyPilot."""
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


class Run(RunRecord):
    """A run folder and its backend. Every read asks the backend first (for remote runs, the pod's agent)."""

    def __init__(self, root: str | Path, backend: Backend | None = None) -> None:
        """``backend``: who refreshes this folder; default the job's own."""
        super().__init__(root)
        self._backend = backend

    @property
    def backend(self) -> Backend:
        if self._backend is None and not isinstance(self.info().get("job"), dict):
            return Backend()  # a folder `stickgen train --run-dir` wrote: nobody watches it, its files are the truth
        return self._backend or backend_for(self.spec)

    def status(self) -> dict[str, Any]:
        """state (a ``RunState``: queued|running|completed|failed|stopped), epoch, global_step, error, updated;
        the backend is asked first, so a process that died without a final status is reported (and recorded) as failed."""
        self.backend.refresh(self)
        return super().status()

    def read_metrics(self, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """``RunRecord.read_metrics`` after the backend brought metrics.jsonl up to date."""
        self.backend.sync_metrics(self)
        return super().read_metrics(offset)

    def log_tail(self, n: int = 50) -> list[str]:
        """The last ``n`` lines of train.log, after the backend brought it up to date."""
        self.backend.sync_log(self)
        return super().log_tail(n)

    def fetch_checkpoint(self, which: str = "best") -> Path:
        """A local path of the best or latest checkpoint; a remote run's is downloaded (SHA-256 checked)."""
        return self.backend.fetch_checkpoint(self, which)

    def stop(self, wait: bool = True, timeout: float = 120.0) -> dict[str, Any]:
        """Ask the run to stop (the trainer saves its latest checkpoint); a queued run just leaves the queue."""
        problem = self.damage()
        if problem is not None:
            raise JobError(f"run {self.run_id} is damaged, nothing was stopped: {problem}")
        if not isinstance(self.info().get("job"), dict):
            raise JobError(f"run {self.run_id}: not started by `stickgen jobs` (no job in run.json); "
                           "stop its process yourself")
        self.backend.stop(self, wait=wait, timeout=timeout)
        return self.status()

    def wait(self, timeout: float | None = None, poll: float = 0.5) -> dict[str, Any]:
        """Block until the run reaches a terminal state (or ``timeout`` seconds pass); the last status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            status = self.status()
            if status.get("state") in TERMINAL or (deadline is not None and time.monotonic() > deadline):
                return status
            time.sleep(poll)
