"""How many CPU threads a workload gets (torch's intra-op pool).

Measured on a 2-core machine (issue 16): a generation step, a one-clip critic call or an
annotation batch is ~100 small ops. With 2 threads every op ends in an OpenMP barrier: on an
idle machine the second thread still halves a one-token step, but when another CPU-bound
process holds a core each barrier waits for a descheduled thread (2-thread generation went 13x
slower than 1-thread beside one busy neighbour). So small-op work takes the CPUs that are free
when it starts (``free_threads``), and a long loop looks again as it goes (``StepThreads``):
all of them (at most ``SMALL_OP_MAX_THREADS``) on an idle machine, one beside a busy process.
Work in other Python threads of this process counts: two blocks never claim the same core.
Large batched ops keep the pool.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Callable, Iterator

import torch

#: Work per op (multiply-adds) below which extra threads cost more in barriers than they save.
SMALL_OP_WORK = 1e7
#: Most threads small-op work takes even on an idle many-core machine (measured on 2 cores only).
SMALL_OP_MAX_THREADS = 2

_local = threading.local()  # OpenMP's thread count is per calling thread, so is the bookkeeping
_claims_lock = threading.Lock()
_claims: dict[int, int] = {}  # Python thread id -> threads its outermost block runs on


def _claim(n: int | None) -> None:
    with _claims_lock:
        if n is None:
            _claims.pop(threading.get_ident(), None)
        else:
            _claims[threading.get_ident()] = n


def _claimed_elsewhere() -> int:
    """Threads that blocks in this process's other Python threads run on."""
    me = threading.get_ident()
    with _claims_lock:
        return sum(n for ident, n in _claims.items() if ident != me)


def _running_threads_elsewhere() -> int | None:
    """Threads of other processes that want a CPU at this instant (Linux); None where unknown.

    /proc/loadavg's running count is instantaneous (not the 1-minute average); this process's
    running threads are taken off (its spinning OpenMP workers; its other busy Python threads are
    counted through their claims instead), except its main thread when a worker thread asks: the
    studio's GUI thread painting an animation needs its core too."""
    try:
        running = int(Path("/proc/loadavg").read_text().split()[3].split("/")[0])
        tasks = list(Path("/proc/self/task").iterdir())
    except (OSError, ValueError, IndexError):
        return None
    main = os.getpid()
    asking_from_main = threading.get_native_id() == main
    own = 0
    for task in tasks:
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended while we looked
            continue
        if stat[stat.rindex(")") + 2] == "R" and (asking_from_main or int(task.name) != main):
            own += 1
    return max(running - own, 0)


def free_cpus(pool: int) -> int:
    """Intra-op threads worth using now for small-op work, at most ``pool`` and
    ``SMALL_OP_MAX_THREADS``: the CPUs this process may run on, less the threads other processes
    keep busy and those other blocks of this process claimed (1 where that cannot be read)."""
    others = _running_threads_elsewhere()
    if others is None:
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(pool, SMALL_OP_MAX_THREADS, cpus - others - _claimed_elsewhere()))


@contextlib.contextmanager
def _threads(pick: Callable[[int], int]) -> Iterator[None]:
    """Run the block on ``pick(pool)`` intra-op threads (in the calling Python thread, as OpenMP
    counts them) and restore the count after; a nested block keeps the outer block's count."""
    depth = getattr(_local, "depth", 0)
    saved = torch.get_num_threads()
    n = pick(saved) if depth == 0 else saved
    if n != saved:
        torch.set_num_threads(n)
    if depth == 0:
        _claim(n)
    _local.depth = depth + 1
    try:
        yield
    finally:
        _local.depth = depth
        if depth == 0:
            _claim(None)
        if n != saved:
            torch.set_num_threads(saved)


def single_thread() -> contextlib.AbstractContextManager:
    """One intra-op thread for the block (nested blocks restore once, when the outer one ends)."""
    return _threads(lambda pool: 1)


def free_threads() -> contextlib.AbstractContextManager:
    """The CPUs free when the block starts (``free_cpus``): two on an idle machine, one beside a
    busy process, where a second thread's barriers stall."""
    return _threads(free_cpus)


class StepThreads:
    """Thread count for a loop of small steps (a rollout, annotation batches): the free CPUs,
    looked at again every ``every`` steps, so a neighbour that starts mid-loop drops it to one
    thread; restores the pool on exit. Inside another block it keeps that block's count.
    Use as ``with StepThreads() as st: for t in ...: st.step(t)``."""

    def __init__(self, every: int = 16) -> None:
        self.every = every
        self.pool = self.current = 1
        self.outer = False
        self.counts: list[int] = []   # the count chosen at each check

    def __enter__(self) -> "StepThreads":
        self.pool = self.current = torch.get_num_threads()
        self.outer = getattr(_local, "depth", 0) == 0
        _local.depth = getattr(_local, "depth", 0) + 1
        self.check()
        return self

    def check(self) -> None:
        """Look at the free CPUs now and switch the count if it changed (outermost block only)."""
        n = free_cpus(self.pool) if self.outer else self.current
        if n != self.current:
            torch.set_num_threads(n)
            self.current = n
        if self.outer:
            _claim(n)
        self.counts.append(n)

    def step(self, t: int) -> None:
        """Call at every step ``t`` of the loop; every ``every``-th step looks again."""
        if t and t % self.every == 0:
            self.check()

    def __exit__(self, *exc: object) -> None:
        _local.depth -= 1
        if self.outer:
            _claim(None)
        if self.current != self.pool:
            torch.set_num_threads(self.pool)
