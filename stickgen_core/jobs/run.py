"""``Run``: one run folder under ``<workspace>/runs/``, read cheaply enough to poll from a GUI.

Files a job adds to the trainer's run folder (DESIGN.md): run.json gets a ``job`` key (the
JobSpec) and ``run_id``; ``job_state.json`` holds the attempt, the processes (pid + start time)
or the pod; ``console.log`` the raw output of the pipeline's steps; ``config.yaml`` the
resolved config the trainer reads.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from ..errors import JobError
from ..io import atomic_write_text
from .spec import JobSpec

log = logging.getLogger(__name__)

TERMINAL = ("completed", "failed", "stopped")
ACTIVE = ("queued", "running")
LATEST = "model_checkpoint_latest.pth"
BEST = "model_checkpoint_best.pth"


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object file, or {} when it is missing or mid-replace (writers are atomic)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=str))


def tail_lines(path: Path, n: int, block: int = 8192) -> list[str]:
    """The last ``n`` lines of a text file, reading only its end."""
    if n <= 0 or not path.is_file():
        return []
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        end = pos = fh.tell()
        data = b""
        while pos > 0 and data.count(b"\n") <= n:
            pos = max(0, pos - block)
            fh.seek(pos)
            data = fh.read(end - pos)
    return [line.decode("utf-8", "replace") for line in data.splitlines()[-n:]]


class Run:
    """A run folder. Every method reads files (and, for remote runs, asks the pod's agent)."""

    def __init__(self, root: str | Path, backend=None) -> None:
        """``backend``: who refreshes this folder; default the job's own (the pod's agent passes the
        do-nothing base Backend, since there the folder *is* the truth)."""
        self.root = Path(root)
        self._backend = backend
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
        state = {**self.job_state(), **fields}
        write_json(self.root / "job_state.json", state)
        return state

    @property
    def backend(self):
        from .backends import backend_for

        if self._backend is None and not isinstance(self.info().get("job"), dict):
            # a folder `stickgen train --run-dir` wrote: nobody watches it, its files are the truth
            from .backends import Backend

            return Backend()
        return self._backend or backend_for(self.spec)

    # ------------------------------------------------------------------ state
    def raw_status(self) -> dict[str, Any]:
        """status.json as written, without asking whether the process is still alive."""
        return read_json(self.root / "status.json")

    def set_status(self, state: str, **fields: Any) -> None:
        write_json(self.root / "status.json", {**self.raw_status(), "state": state, "updated": now_iso(), **fields})

    def status(self) -> dict[str, Any]:
        """state (queued|running|completed|failed|stopped), epoch, global_step, error, updated;
        a process that died without a final status is reported (and recorded) as failed."""
        self.backend.refresh(self)
        return self.raw_status() or {"state": "unknown"}

    @property
    def state(self) -> str:
        return str(self.status().get("state", "unknown"))

    # ------------------------------------------------------------------ metrics and logs
    def read_metrics(self, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Metric rows from line ``offset`` on, and the offset to ask for next time.

        Only complete lines count, so a line being written is returned on the next call.
        Reading from the offset of the previous call seeks straight to it.
        """
        self.backend.sync_metrics(self)
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
                        rows.append(json.loads(raw))
                    except ValueError:
                        rows.append({"type": "unreadable", "line": line})
                line += 1
        # byte positions of the asked and the next offset: polling either again seeks straight there
        self._metrics_cursor = {line: pos, **({offset: start} if start is not None else {})}
        return rows, max(line, offset)

    def log_tail(self, n: int = 50) -> list[str]:
        """The last ``n`` lines of train.log (the trainer's log)."""
        self.backend.sync_log(self)
        return tail_lines(self.root / "train.log", n)

    def console_tail(self, n: int = 30) -> list[str]:
        """The last ``n`` lines the pipeline's processes printed (tracebacks land here)."""
        return tail_lines(self.root / "console.log", n)

    def checkpoint(self, which: str = "best") -> Path | None:
        """The local path of the best or latest checkpoint, if it exists."""
        path = self.root / "checkpoints" / (BEST if which == "best" else LATEST)
        return path if path.is_file() else None

    def fetch_checkpoint(self, which: str = "best") -> Path:
        """A local path of the best or latest checkpoint; a remote run's is downloaded (SHA-256 checked)."""
        return self.backend.fetch_checkpoint(self, which)

    # ------------------------------------------------------------------ control
    def stop(self, wait: bool = True, timeout: float = 120.0) -> dict[str, Any]:
        """Ask the run to stop (the trainer saves its latest checkpoint); a queued run just leaves the queue."""
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

    def resume(self) -> "Run":
        """A new attempt of this run from its latest checkpoint (``--resume_from``)."""
        from .registry import resume_run

        return resume_run(self)

    def summary(self) -> dict[str, Any]:
        """One row for a runs list: id, stage, backend, state, epoch, step, error, created."""
        info, status = self.info(), self.status()
        job = info.get("job") if isinstance(info.get("job"), dict) else {}
        # a folder `stickgen train --run-dir` wrote has no job: the trainer's own stage and backend stand in
        return {"run_id": self.run_id, "stage": job.get("stage") or info.get("stage"),
                "backend": job.get("backend") or info.get("backend"),
                "state": status.get("state"), "epoch": status.get("epoch"), "global_step": status.get("global_step"),
                "error": status.get("error"), "created": info.get("run_created") or info.get("created"),
                "attempt": self.job_state().get("attempt", 1),
                "path": str(self.root)}

    def __repr__(self) -> str:
        return f"Run({str(self.root)!r})"


def failure_tail(run: Run, n: int = 20) -> list[str]:
    """What a user needs to see about a failure: the console's end, else the trainer log's."""
    return run.console_tail(n) or tail_lines(run.root / "train.log", n)

