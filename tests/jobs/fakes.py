"""A fake clock and a fake process table for the jobs layer's state tests: no real process, no waiting.

``FakeProcesses`` stands where ``psutil`` and ``os.kill`` stand for ``stickgen_core.jobs.process``: a
pid with its start time, command line, working folder and environment; a pid that is reused gets a
new start time (as the kernel's would); a signal is recorded and, like SIGTERM to a process without
a handler, ends it unless a handler says otherwise. ``FakeClock`` is ``time`` for the module under
test: ``sleep`` advances it and runs what was scheduled for then.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Callable

import psutil


class FakeClock:
    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self._due: list[tuple[float, Callable[[], None]]] = []

    def time(self) -> float:
        return self.now

    monotonic = time

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def at(self, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` once ``delay`` seconds from now have passed."""
        self._due.append((self.now + delay, action))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for item in sorted(self._due, key=lambda d: d[0]):
            if item[0] <= self.now:
                self._due.remove(item)
                item[1]()


@dataclass
class FakeProc:
    pid: int
    create_time: float
    argv: list[str]
    cwd: str = "/"
    env: dict = field(default_factory=dict)
    zombie: bool = False
    on_signal: Callable[[int], None] | None = None  # a handler (the trainer saving); default: it ends


class FakeProcesses:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.table: dict[int, FakeProc] = {}
        self.sent: list[tuple[int, int]] = []
        self._next = 40_000

    def start(self, argv: list[str], pid: int | None = None, **kw) -> FakeProc:
        """A new process (at ``pid`` when given: that pid is being reused)."""
        if pid is None:
            self._next += 1
            pid = self._next
        self.clock.advance(0.5)  # a reused pid's process started later than the one it replaces
        proc = FakeProc(pid, self.clock.now, list(argv), **kw)
        self.table[pid] = proc
        return proc

    def exit(self, pid: int) -> None:
        self.table.pop(pid, None)

    # --------------------------------------------------------------- what process.py calls
    def Process(self, pid: int):  # noqa: N802 - psutil's name
        proc = self.table.get(pid)
        if proc is None:
            raise psutil.NoSuchProcess(pid)
        return SimpleNamespace(
            create_time=lambda: proc.create_time, cmdline=lambda: list(proc.argv), cwd=lambda: proc.cwd,
            environ=lambda: dict(proc.env), name=lambda: proc.argv[0].rsplit("/", 1)[-1],
            status=lambda: psutil.STATUS_ZOMBIE if proc.zombie else psutil.STATUS_SLEEPING)

    def kill(self, pid: int, signum: int) -> None:
        proc = self.table.get(pid)
        if proc is None:
            raise ProcessLookupError(pid)
        self.sent.append((pid, signum))
        if proc.on_signal is not None:
            proc.on_signal(signum)
        elif signum in (signal.SIGTERM, signal.SIGKILL):
            self.exit(pid)

    def as_psutil(self) -> SimpleNamespace:
        return SimpleNamespace(Process=self.Process, NoSuchProcess=psutil.NoSuchProcess,
                               AccessDenied=psutil.AccessDenied, Error=psutil.Error,
                               STATUS_ZOMBIE=psutil.STATUS_ZOMBIE)
