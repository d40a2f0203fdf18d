"""Processes a run owns, identified by pid *and* start time so a recycled pid is never a live run."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import psutil


@dataclass(frozen=True)
class ProcessRef:
    pid: int
    create_time: float

    @classmethod
    def of(cls, pid: int) -> "ProcessRef":
        return cls(pid, psutil.Process(pid).create_time())

    def alive(self) -> bool:
        """True when this very process (same pid, same start time) still runs and is not a zombie."""
        try:
            proc = psutil.Process(self.pid)
            return abs(proc.create_time() - self.create_time) < 0.05 and proc.status() != psutil.STATUS_ZOMBIE
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return False

    def signal(self, signum: int) -> bool:
        """Send ``signum`` if the process is still this one; False when it is gone."""
        if not self.alive():
            return False
        try:
            os.kill(self.pid, signum)
            return True
        except ProcessLookupError:
            return False

    def to_dict(self) -> dict:
        return {"pid": self.pid, "create_time": self.create_time}

    @classmethod
    def from_dict(cls, data: dict | None) -> "ProcessRef | None":
        return cls(int(data["pid"]), float(data["create_time"])) if data else None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM when its parent dies, so a killed supervisor leaves no orphan trainer."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def spawn(argv: Sequence[str], log_path: Path, *, detach: bool, env: dict | None = None,
          nice: int = 0) -> subprocess.Popen:
    """Start ``argv`` with stdout and stderr appended to ``log_path``.

    ``detach``: a new session, so the process outlives the studio or terminal that started it.
    Otherwise the child dies with its parent (the supervisor's steps).
    """
    out = open(log_path, "ab", buffering=0)

    def pre() -> None:  # pragma: no cover - child side
        if nice:
            os.nice(nice)
        if not detach and sys.platform.startswith("linux"):
            _die_with_parent()

    try:
        return subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=detach, env=env, preexec_fn=pre, close_fds=True)
    finally:
        out.close()
