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

from ..errors import JobError
from ..limits import brief


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

    def owned_by(self, run_root: str | Path) -> bool:
        """True when this process is one the run started: a stickgen command (the pipeline, the
        trainer, a step or a pod's entrypoint) whose command line names the run folder or, on a pod,
        whose ``STICKGEN_RUN_DIR`` (else ``STICKGEN_RUN_ID``) names it. pid + start time alone can be copied from any
        process of the user into a tampered job_state.json."""
        root = os.path.realpath(run_root)
        try:
            proc = psutil.Process(self.pid)
            argv, cwd = proc.cmdline(), proc.cwd()
            if not _is_stickgen_program(argv):
                return False
            inside = (os.path.realpath(os.path.join(cwd, a)) for a in argv if a)
            if any(p == root or p.startswith(root + os.sep) for p in inside):
                return True
            env = proc.environ()  # a pod's entrypoint takes its folder from the environment
            run_dir = env.get("STICKGEN_RUN_DIR")
            if run_dir:
                return os.path.realpath(os.path.join(cwd, run_dir)) == root
            return env.get("STICKGEN_RUN_ID") == os.path.basename(root)
        except (psutil.Error, OSError):
            return False

    def signal(self, signum: int, run_root: str | Path) -> bool:
        """Send ``signum`` if the process is still this one; False when it is gone.

        JobError when it lives but is not the run's own (``owned_by``): nothing is sent."""
        if not self.alive():
            return False
        if not self.owned_by(run_root):
            name = _name(self.pid)
            raise JobError(f"{Path(run_root) / 'job_state.json'}: process {self.pid} ({name}) is not this run's "
                           "(its command line does not run stickgen on this run folder); refusing to signal it")
        try:
            os.kill(self.pid, signum)
            return True
        except ProcessLookupError:
            return False

    def to_dict(self) -> dict:
        return {"pid": self.pid, "create_time": self.create_time}

    @classmethod
    def from_dict(cls, data: dict | None, where: str = "job_state.json") -> "ProcessRef | None":
        """The reference job_state.json holds, or None; JobError naming ``where`` when it is malformed."""
        if not data:
            return None
        try:
            pid, created = data["pid"], data["create_time"]
            if isinstance(pid, bool) or not isinstance(pid, int) or pid < 1 or isinstance(created, bool):
                raise TypeError
            return cls(pid, float(created))
        except (TypeError, KeyError, ValueError):
            raise JobError(f"{where}: expected {{'pid': a positive whole number, 'create_time': a number}}, "
                           f"got {brief(data)}") from None


def _is_stickgen_program(argv: Sequence[str]) -> bool:
    """True when ``argv`` runs stickgen: a ``stickgen_core`` module (as ``python -m`` names it) or the
    ``stickgen`` console script. A word that merely holds "stickgen" (a workspace called ``stickgen-ws``
    in ``tail -f .../train.log``) does not make a process the run's."""
    return any(a == "stickgen_core" or a.startswith("stickgen_core.") or os.path.basename(a) == "stickgen"
               for a in argv)


def _name(pid: int) -> str:
    try:
        return psutil.Process(pid).name()
    except psutil.Error:
        return "?"


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
