"""LocalBackend: the job's pipeline as a detached process on this machine, with a queue.

The supervisor runs in its own session, so a run survives closing the studio or the terminal.
Its pid and start time are recorded; a pid that now belongs to another process is never taken
for the run. At most ``max_parallel`` local runs train at once (default 1, or the environment's
``STICKGEN_MAX_LOCAL_RUNS``); the others wait as 'queued' and start when a slot frees up.
"""

from __future__ import annotations

import fcntl
import logging
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..errors import JobError
from ..run_state import RunState
from .backends import Backend
from .local_settings import max_parallel
from .process import ProcessRef, spawn
from .run_record import RunRecord, run_folders, settle_dead

log = logging.getLogger(__name__)


ROLES = ("supervisor", "trainer", "step_process")  # the processes of a run, as job_state.json names them


def live_processes(run: RunRecord) -> list[tuple[str, ProcessRef]]:
    """The run's processes that still run (pid and start time match), by role."""
    job = run.job_state()
    refs = [(role, ProcessRef.from_dict(job.get(role))) for role in ROLES]
    return [(role, ref) for role, ref in refs if ref is not None and ref.alive()]


@contextmanager
def run_lock(run: RunRecord) -> Iterator[None]:
    """One process at a time changes who runs a run: spawning it, or declaring its processes dead."""
    with open(run.root / ".run.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def queue_lock(workspace: Path) -> Iterator[None]:
    """One process at a time decides which queued run starts (studio, CLI and finishing runs race)."""
    runs = Path(workspace) / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    with open(runs / ".queue.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _local_runs(workspace: Path) -> list[RunRecord]:
    # a damaged folder is listed as such, never started or settled: its files cannot be trusted
    return [r for r in run_folders(workspace)
            if r.damage() is None and (r.info().get("job") or {}).get("backend") == "local"]


def promote_queued(workspace: Path) -> list[RunRecord]:
    """Start the oldest queued local runs while slots are free; the runs started."""
    started = []
    with queue_lock(workspace):
        runs = _local_runs(workspace)
        for r in runs:
            if r.raw_status().get("state") == RunState.RUNNING:
                LocalBackend().refresh(r)
        active = [r for r in runs if r.raw_status().get("state") == RunState.RUNNING]
        queued = sorted((r for r in runs if r.raw_status().get("state") == RunState.QUEUED),
                        key=lambda r: r.job_state().get("queued_at", 0.0))
        for r in queued:
            if len(active) >= max_parallel(r.spec.backend_settings):
                break
            LocalBackend(r.spec.backend_settings).spawn(r)
            active.append(r)
            started.append(r)
    return started


class LocalBackend(Backend):
    name = "local"

    def __init__(self, settings: dict[str, Any] | None = None) -> None:
        self.settings = dict(settings or {})

    def start(self, run: RunRecord) -> None:
        """Queue the run, then start it at once when a slot is free."""
        run.set_status(RunState.QUEUED, error=None, phase=None, log_tail=None)
        run.update_job_state(queued_at=time.time())
        promote_queued(run.workspace)

    def spawn(self, run: RunRecord) -> None:
        """Start the supervisor now, detached (callers hold the queue lock)."""
        argv = [sys.executable, "-m", "stickgen_core.jobs.pipeline", str(run.root),
                "--nice", str(int(self.settings.get("nice", 10)))]
        # under the run's lock: a poll in between must never see 'running' beside the last attempt's dead
        # supervisor (it would write 'failed' over the run that is starting)
        with run_lock(run):
            run.set_status(RunState.RUNNING, phase="starting", error=None, log_tail=None)
            proc = spawn(argv, run.root / "console.log", detach=True)
            run.update_job_state(supervisor=ProcessRef.of(proc.pid).to_dict(), trainer=None, step_process=None,
                                 started_at=time.time(), stop_requested=False)
        log.info("started run %s (pid %d)", run.run_id, proc.pid)

    def refresh(self, run: RunRecord) -> None:
        status = run.raw_status()
        if status.get("state") == RunState.QUEUED:  # polling a queued run is enough to move the queue on
            promote_queued(run.workspace)
            return
        if status.get("state") != RunState.RUNNING:
            return
        if live_processes(run):
            return
        with run_lock(run):  # a spawn in progress finishes first; then both files are read afresh
            job, status = run.job_state(), run.raw_status()
            if status.get("state") != RunState.RUNNING or live_processes(run):
                return  # it finished (or was restarted) meanwhile
            if job.get("stop_requested") and status.get("phase") in ("starting", "embed"):
                run.set_status(RunState.STOPPED, phase=None, error=None)  # stopped before training began: nothing lost
            else:  # only once every process of the run is gone: a trainer may still be saving after its supervisor died
                settle_dead(run)  # failed, with the log's end; stale temp checkpoints removed

    def release(self, run: RunRecord, timeout: float = 0.0) -> None:
        """Wait until no process of the run is alive (a stopping trainer is saving); JobError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while (alive := live_processes(run)) and time.monotonic() < deadline:
            time.sleep(0.2)
        if alive:
            who = ", ".join(f"{role} pid {ref.pid}" for role, ref in alive)
            raise JobError(f"run {run.run_id}: its {who} still runs (saving?); wait for it to end, or stop the run")
        self.refresh(run)  # a run whose processes all died without a final status is recorded as failed now

    def stop(self, run: RunRecord, wait: bool, timeout: float) -> None:
        with queue_lock(run.workspace):
            if run.raw_status().get("state") == RunState.QUEUED:
                run.set_status(RunState.STOPPED, error=None)
                return
        run.update_job_state(stop_requested=True)
        sup = ProcessRef.from_dict(run.job_state().get("supervisor"))
        if sup is None or not sup.signal(signal.SIGTERM, run.root):
            self.refresh(run)
            return
        deadline = time.monotonic() + timeout
        while wait and sup.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
