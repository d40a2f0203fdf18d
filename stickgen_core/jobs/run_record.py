"""``RunRecord``: one run folder under ``<workspace>/runs/`` as its files say, cheap enough to poll.

Files a job adds to the trainer's run folder (DESIGN.md): run.json gets a ``job`` key (the
JobSpec) and ``run_id``; ``job_state.json`` holds the attempt, the processes (pid + start time)
or the pod, and the jobs layer's view of the run's state (``status``: queued, the phase before
training, a supervisor's verdict); ``console.log`` the raw output of the pipeline's steps;
``config.yaml`` the resolved config the trainer reads.

One writer per file: the trainer writes ``status.json``, the jobs layer ``job_state.json``;
``RunRecord.raw_status`` merges the two (``record.merge_status``).

A record is passive: it reads and writes the folder's files and never asks a backend, so the
supervisor, the pod's agent and every backend share it without knowing of each other. ``Run``
(run.py) is what a user holds: the same record plus its backend's answers (a pod's status,
metrics and log copied home) and the actions (stop, fetch).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from ..errors import JobError
from ..limits import brief
from ..paths import clean_stale_temps
from ..run_state import TERMINAL, RunState
from .local_settings import max_parallel
from .process import ProcessRef
from .record import file_lock, merge_status, now_iso, read_json, read_record, tail_lines, write_json
from .spec import BACKENDS, JobSpec

__all__ = ["BEST", "LATEST", "PROCESSES_DIED", "RunRecord", "failure_tail", "now_iso", "run_folders", "runs_dir",
           "settle_dead", "tail_lines", "write_json"]

log = logging.getLogger(__name__)

LATEST = "model_checkpoint_latest.pth"
BEST = "model_checkpoint_best.pth"


_STATUS_FIELDS: dict[str, Any] = {"state": str, "phase": str, "error": str, "updated": str, "epoch": int,
                                  "global_step": int}
_JOB_STATE_FIELDS: dict[str, Any] = {"attempt": int, "resume_from": str, "pod_id": str, "started_at": (int, float),
                                     "queued_at": (int, float), "price_per_hour": (int, float),
                                     "remote_metrics_offset": int}
_TYPE_NAMES = {str: "text", int: "a whole number", (int, float): "a number"}


class RunRecord:
    """A run folder as its files say. Every method reads (or writes) files; none asks a backend."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._metrics_cursor: dict[int, int] = {}  # line offset -> byte position, from the last read_metrics

    # ------------------------------------------------------------------ identity
    @property
    def run_id(self) -> str:
        return self.root.name

    @property
    def workspace(self) -> Path:
        return self.root.parent.parent

    def info(self) -> dict[str, Any]:
        """run.json: the job, and once training started the trainer's resolved config and sources."""
        return read_json(self.root / "run.json")

    @property
    def spec(self) -> JobSpec:
        job = self.info().get("job")
        if not isinstance(job, dict):
            raise JobError(f"{self.root / 'run.json'}: no 'job' entry; this folder was not made by stickgen jobs")
        return JobSpec.from_dict(job)

    def job_state(self) -> dict[str, Any]:
        return read_json(self.root / "job_state.json")

    def update_job_state(self, **fields: Any) -> dict[str, Any]:
        with file_lock(self.root / ".job_state.lock"):  # a poll and the supervisor both update it
            state = {**self.job_state(), **fields}
            write_json(self.root / "job_state.json", state)
        return state

    # ------------------------------------------------------------------ state
    def trainer_status(self) -> dict[str, Any]:
        """status.json: the trainer's own record (epoch, step, its final state)."""
        return read_json(self.root / "status.json")

    def jobs_status(self) -> dict[str, Any]:
        """The jobs layer's view of the run (job_state.json's ``status``)."""
        view = self.job_state().get("status")
        return view if isinstance(view, dict) else {}

    def raw_status(self) -> dict[str, Any]:
        """The run's status as its two records say (``merge_status``), without asking whether a process lives."""
        try:
            trainer_at: float | None = (self.root / "status.json").stat().st_mtime
        except OSError:
            trainer_at = None
        return merge_status(self.trainer_status(), self.jobs_status(), trainer_at)

    def set_status(self, state: RunState | str, **fields: Any) -> None:
        """Record the jobs layer's view of the run in job_state.json (status.json is the trainer's alone)."""
        with file_lock(self.root / ".job_state.lock"):
            job = self.job_state()
            old = job.get("status") if isinstance(job.get("status"), dict) else {}
            view = {**old, "state": RunState(state), "updated": now_iso(), **fields, "at": time.time()}
            write_json(self.root / "job_state.json", {**job, "status": view})

    def status(self) -> dict[str, Any]:
        """state (a ``RunState``), epoch, global_step, error, updated, as the folder's files say; a folder
        `stickgen train --run-dir` wrote whose trainer died without a final status is recorded as failed."""
        if not isinstance(self.info().get("job"), dict):
            self.settle_untracked()
        return self.raw_status() or {"state": RunState.UNKNOWN}

    @property
    def state(self) -> str:
        return str(self.status().get("state", RunState.UNKNOWN))

    def settle_untracked(self) -> None:
        """A folder `stickgen train --run-dir` wrote has no supervisor watching it: the trainer's own
        record (status.json's ``process``) says whether 'running' is still true after a kill -9."""
        status = self.raw_status()
        record = status.get("process")
        if status.get("state") != RunState.RUNNING or not isinstance(record, dict):
            return
        if record.get("host", socket.gethostname()) != socket.gethostname():
            return  # trained on another machine (a shared folder): its pids mean nothing here
        try:
            ref = ProcessRef.from_dict(record)
        except JobError:
            return  # damaged: ``damage`` reports it
        if ref is not None and not ref.alive():
            settle_dead(self)

    # ------------------------------------------------------------------ metrics and logs
    def read_metrics(self, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Metric rows from line ``offset`` on, and the offset to ask for next time.

        Only complete lines count, so a line being written is returned on the next call.
        Reading from the offset of the previous call seeks straight to it.
        """
        path = self.root / "metrics.jsonl"
        if not path.is_file():
            return [], offset
        line, pos = (offset, self._metrics_cursor[offset]) if offset in self._metrics_cursor else (0, 0)
        start = None
        rows: list[dict[str, Any]] = []
        with open(path, "rb") as fh:
            fh.seek(pos)
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break
                pos += len(raw)
                if line >= offset:
                    start = pos - len(raw) if start is None else start
                    try:
                        row = json.loads(raw)
                        rows.append(row if isinstance(row, dict) else {"type": "unreadable", "line": line})
                    except (ValueError, RecursionError):  # a line nested past the parser's depth is unreadable too
                        rows.append({"type": "unreadable", "line": line})
                line += 1
        # byte positions of the asked and the next offset: polling either again seeks straight there
        self._metrics_cursor = {line: pos, **({offset: start} if start is not None else {})}
        return rows, max(line, offset)

    def metric_lines(self) -> int:
        """How many lines metrics.jsonl holds (where a new pod's metrics continue it)."""
        path = self.root / "metrics.jsonl"
        if not path.is_file():
            return 0
        with open(path, "rb") as fh:
            return sum(1 for _ in fh)

    def log_tail(self, n: int = 50) -> list[str]:
        """The last ``n`` lines of train.log (the trainer's log)."""
        return tail_lines(self.root / "train.log", n)

    def console_tail(self, n: int = 30) -> list[str]:
        """The last ``n`` lines the pipeline's processes printed (tracebacks land here)."""
        return tail_lines(self.root / "console.log", n)

    def checkpoint(self, which: str = "best") -> Path | None:
        """The local path of the best or latest checkpoint, if it exists."""
        path = self.root / "checkpoints" / (BEST if which == "best" else LATEST)
        return path if path.is_file() else None

    def damage(self) -> str | None:
        """What makes this folder unreadable as a run (a damaged or hand-edited file), or None.

        One line naming the file and the field, so a list shows the folder as one 'damaged' row.
        """
        try:
            info = read_record(self.root / "run.json")
            if "job" in info:
                if not isinstance(info["job"], dict):
                    raise JobError(f"{self.root / 'run.json'}: job: expected a mapping, got {type(info['job']).__name__}")
                self._check_job(info["job"])
            for key in ("run_created", "created", "stage", "backend"):
                if info.get(key) is not None and not isinstance(info[key], str):
                    raise JobError(f"{self.root / 'run.json'}: {key}: expected text, got {brief(info[key])}")
            for name, fields in (("status.json", _STATUS_FIELDS), ("job_state.json", _JOB_STATE_FIELDS)):
                if (self.root / name).exists() or (self.root / name).is_symlink():
                    record = read_record(self.root / name)
                    for key, types in fields.items():
                        if record.get(key) is not None and (not isinstance(record[key], types)
                                                            or isinstance(record[key], bool)):
                            raise JobError(f"{self.root / name}: {key}: expected {_TYPE_NAMES[types]}, "
                                           f"got {brief(record[key])}")
                    if name == "job_state.json" and record.get("status") is not None:
                        self._check_view(record["status"])
                    roles = ("supervisor", "trainer", "step_process") if name == "job_state.json" else ("process",)
                    for role in roles:
                        ProcessRef.from_dict(record.get(role), where=f"{self.root / name}: {role}")
        except JobError as exc:
            return str(exc)
        return None

    def _check_view(self, view: Any) -> None:
        """job_state.json's ``status`` holds what status.json would: a mapping of the same typed fields."""
        where = self.root / "job_state.json"
        if not isinstance(view, dict):
            raise JobError(f"{where}: status: expected a mapping, got {brief(view)}")
        for key, types in _STATUS_FIELDS.items():
            if view.get(key) is not None and (not isinstance(view[key], types) or isinstance(view[key], bool)):
                raise JobError(f"{where}: status.{key}: expected {_TYPE_NAMES[types]}, got {brief(view[key])}")

    def _check_job(self, job: dict[str, Any]) -> None:
        """The job entry parses, names a known backend, and its backend settings are usable."""
        where = self.root / "run.json"
        try:
            spec = JobSpec.from_dict(job)
        except JobError as exc:
            raise JobError(f"{where}: {exc}") from None
        if spec.backend not in BACKENDS or not isinstance(spec.backend_settings, dict):
            raise JobError(f"{where}: job.backend: expected one of {BACKENDS} with a mapping of settings")
        if spec.backend == "local" and spec.backend_settings.get("max_parallel"):  # the folder's own, not the env's
            try:
                max_parallel(spec.backend_settings)
            except JobError as exc:
                raise JobError(f"{where}: {exc}") from None

    def summary(self) -> dict[str, Any]:
        """One row for a runs list: id, stage, backend, state, epoch, step, error, created.

        A damaged folder is one row whose state is 'damaged' and whose error says why."""
        problem = self.damage()
        if problem is not None:
            return {"run_id": self.run_id, "stage": None, "backend": None, "state": RunState.DAMAGED, "epoch": None,
                    "global_step": None, "error": problem.replace(f"{self.root}{os.sep}", ""), "created": None,
                    "attempt": None, "path": str(self.root)}
        info, status = self.info(), self.status()
        job = info.get("job") if isinstance(info.get("job"), dict) else {}
        state, error = status.get("state"), status.get("error")
        unreachable = self.job_state().get("unreachable")
        if unreachable and state not in TERMINAL:  # a remote run its API or agent did not answer for
            state, error = RunState.UNREACHABLE, f"{unreachable} (last known: {state})"
        # a folder `stickgen train --run-dir` wrote has no job: the trainer's own stage and backend stand in
        return {"run_id": self.run_id, "stage": job.get("stage") or info.get("stage"),
                "backend": job.get("backend") or info.get("backend"),
                "state": state, "epoch": status.get("epoch"), "global_step": status.get("global_step"),
                "error": error, "created": info.get("run_created") or info.get("created"),
                "attempt": self.job_state().get("attempt", 1),
                "path": str(self.root)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.root)!r})"


def runs_dir(workspace: str | Path) -> Path:
    return Path(workspace) / "runs"


def run_folders(workspace: str | Path) -> list[RunRecord]:
    """Every run folder of the workspace (one with a run.json), oldest first; a damaged one too."""
    root = runs_dir(workspace)
    if not root.is_dir():
        return []
    runs = [RunRecord(p) for p in root.iterdir() if p.is_dir() and (p / "run.json").exists()]
    return sorted(runs, key=lambda r: (str(r.info().get("run_created") or ""), r.run_id))  # str: a damaged one too


PROCESSES_DIED = "the run's processes died (killed?) without a final status"


def settle_dead(run: RunRecord) -> None:
    """Record a 'running' run whose processes are all gone as failed, and remove the temp
    checkpoints its killed writers left (their pids are in the names, see io.atomic_path)."""
    run.set_status(RunState.FAILED, phase=None, error=PROCESSES_DIED, log_tail=failure_tail(run))
    clean_stale_temps(run.root / "checkpoints")
    log.warning("run %s: %s; recorded as failed", run.run_id, PROCESSES_DIED)


def failure_tail(run: RunRecord, n: int = 20) -> list[str]:
    """What a user needs to see about a failure: the console's end, else the trainer log's."""
    return run.console_tail(n) or tail_lines(run.root / "train.log", n)

