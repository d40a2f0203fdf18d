"""How many CPU threads a workload gets (torch's intra-op pool).

Measured on a 2-core machine (issue 16): a generation step or a one-clip critic call is
~100 small ops; with 2 threads every op ends in an OpenMP barrier, and when another
CPU-bound process holds one core, each barrier waits for a descheduled thread (2-thread
generation went 13x slower than 1-thread beside one busy neighbour). Small-op workloads
therefore run on one thread; large batched ops keep the pool. A rollout (``StepThreads``)
instead looks at the CPUs before its steps: on an idle machine a second thread halves a
one-token step, so it takes the cores no other process wants right now.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Callable, Iterator

import torch

#: Work per op (multiply-adds) below which a second thread costs more in barriers than it saves.
SMALL_OP_WORK = 1e7

_local = threading.local()  # OpenMP's thread count is per calling thread, so is the bookkeeping


@contextlib.contextmanager
def _threads(pick: Callable[[int], int]) -> Iterator[None]:
    """Run the block on ``pick(pool)`` intra-op threads (in the calling Python thread, as OpenMP
    counts them) and restore the count after; a nested block keeps the outer block's count."""
    depth = getattr(_local, "depth", 0)
    saved = torch.get_num_threads()
    n = pick(saved) if depth == 0 else saved
    if n != saved:
        torch.set_num_threads(n)
    _local.depth = depth + 1
    try:
        yield
    finally:
        _local.depth = depth
        if n != saved:
            torch.set_num_threads(saved)


def single_thread() -> contextlib.AbstractContextManager:
    """One intra-op thread for the block (nested blocks restore once, when the outer one ends)."""
    return _threads(lambda pool: 1)


def free_threads() -> contextlib.AbstractContextManager:
    """The CPUs free when the block starts (``free_cpus``): the whole pool on an idle machine,
    one thread beside a busy process, where a second thread's barriers stall."""
    return _threads(free_cpus)


def _running_threads_elsewhere() -> int | None:
    """Threads that want a CPU at this instant besides the caller and its OpenMP workers (Linux);
    None where unknown. /proc/loadavg's running count is instantaneous (not the 1-minute average);
    this process's running threads are taken off, except its main thread when a worker thread asks
    (the studio's GUI thread painting an animation needs its core too)."""
    try:
        running = int(Path("/proc/loadavg").read_text().split()[3].split("/")[0])
        own, main = 0, os.getpid()
        asking_from_main = threading.get_native_id() == main
        for task in Path("/proc/self/task").iterdir():
            stat = (task / "stat").read_text()
            if stat[stat.rindex(")") + 2] == "R" and (asking_from_main or int(task.name) != main):
                own += 1
    except (OSError, ValueError, IndexError):
        return None
    return max(running - own, 0)


def free_cpus(pool: int) -> int:
    """Intra-op threads worth using now, at most ``pool``: the CPUs this process may run on less the
    threads other processes keep busy (1 where that cannot be read)."""
    others = _running_threads_elsewhere()
    if others is None:
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(pool, cpus - others))


class StepThreads:
    """Thread count for a loop of small steps (a rollout): the free CPUs, looked at again every
    ``every`` steps, so a neighbour that starts mid-rollout drops it to one thread; restores the
    pool on exit. Use as ``with StepThreads() as st: for t in ...: st.step(t)``."""

    def __init__(self, every: int = 16) -> None:
        self.every = every
        self.pool = 1
        self.current = 1
        self.counts: list[int] = []   # the count chosen at each check (what a test can look at)

    def __enter__(self) -> "StepThreads":
        self.pool = self.current = torch.get_num_threads()
        self.check()
        return self

    def check(self) -> None:
        n = free_cpus(self.pool)
        if n != self.current:
            torch.set_num_threads(n)
            self.current = n
        self.counts.append(n)

    def step(self, t: int) -> None:
        if t and t % self.every == 0:
            self.check()

    def __exit__(self, *exc: object) -> None:
        if self.current != self.pool:
            torch.set_num_threads(self.pool)
