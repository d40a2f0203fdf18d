"""The run folder's records, read and written the same way by every reader: bounded JSON objects, the
end of a log, and ``merge_status`` (status.json is the trainer's, job_state.json the jobs layer's:
one writer per file; a reader wants one status).
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..errors import JobError
from ..io import atomic_write_text
from ..limits import read_json_file
from ..run_state import RunState

def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def read_record(path: Path) -> dict[str, Any]:
    """A JSON object file of a run folder (bounded, depth-checked); JobError naming the file and
    what is wrong, for a missing file too."""
    data = read_json_file(path, "a run record (JSON)", JobError)
    if not isinstance(data, dict):
        raise JobError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object file, or {} when it is missing, mid-replace or damaged (``Run.damage`` says why)."""
    try:
        return read_record(path)
    except JobError:
        return {}


def write_json(path: Path, data: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=str))


#: the most of a log's end a tail reads, the most lines it returns, and the longest line it shows
TAIL_BYTES, TAIL_MAX_LINES, TAIL_LINE_BYTES = 1 << 20, 10_000, 4096


def tail_lines(path: Path, n: int, block: int = 65536) -> list[str]:
    """The last ``n`` lines of a text file, reading only its end: linear, and bounded however the
    file looks (at most ``TAIL_BYTES`` read, ``TAIL_MAX_LINES`` lines, each cut at ``TAIL_LINE_BYTES``)."""
    n = min(n, TAIL_MAX_LINES)
    if n <= 0 or not path.is_file():
        return []
    try:
        with open(path, "rb") as fh:
            end = pos = fh.seek(0, os.SEEK_END)
            floor = max(0, end - TAIL_BYTES)
            chunks: list[bytes] = []
            newlines = 0
            while pos > floor and newlines <= n:  # each block is read and counted once
                step = min(block, pos - floor)
                pos -= step
                fh.seek(pos)
                chunks.append(fh.read(step))
                newlines += chunks[-1].count(b"\n")
    except OSError:
        return []
    lines = b"".join(reversed(chunks)).splitlines()[-n:]
    return [(line[:TAIL_LINE_BYTES] + b" [...]" if len(line) > TAIL_LINE_BYTES else line).decode("utf-8", "replace")
            for line in lines]


def merge_status(trainer: dict[str, Any], jobs: dict[str, Any], trainer_at: float | None) -> dict[str, Any]:
    """A run's status from the trainer's ``status.json`` (written at ``trainer_at``, Unix time) and the
    jobs layer's view (``job_state.json``'s ``status``, written at its ``at``): the newer one says.

    While the trainer writes, its record is the newer (the jobs layer wrote 'running' before starting
    it) and stands alone, as when it replaced the file; a verdict after the trainer is gone (failed,
    stopped before training) or a new attempt (queued again) is the newer then and lies over the
    trainer's fields (its epoch and step stay). On a tie (times of a whole second), the jobs layer's
    terminal verdict wins: it is written after the trainer ended.
    """
    at = jobs.get("at")
    jobs = {k: v for k, v in jobs.items() if k != "at"}
    if not trainer or not jobs:
        return trainer or jobs
    at = float(at) if isinstance(at, (int, float)) and not isinstance(at, bool) else 0.0
    trainer_at = trainer_at or 0.0
    jobs_newer = at > trainer_at or (at == trainer_at and RunState.of(jobs.get("state")).is_terminal)
    return {**trainer, **jobs} if jobs_newer else trainer


def iso_time(text: object) -> float | None:
    """The Unix time of an ISO timestamp a record holds (``updated``), or None."""
    try:
        return _dt.datetime.fromisoformat(str(text)).timestamp()
    except ValueError:
        return None


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created) for a read-modify-write of a record: two writers in
    two processes (a poll and the supervisor) never lose each other's keys. Not reentrant. Where the file
    system has no locks (some network volumes) it goes on unlocked, as before."""
    try:
        fh = open(path, "a")
    except OSError:  # a read-only or vanished folder: the write itself says so
        yield
        return
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX)
        except OSError:
            pass
        yield
