"""How many CPU threads a workload gets (torch's intra-op pool).

Measured on a 2-core machine (issue 16): a generation step or a one-clip critic call is
~100 small ops; with 2 threads every op ends in an OpenMP barrier, and when another
CPU-bound process holds one core, each barrier waits for a descheduled thread (2-thread
generation went 13x slower than 1-thread beside one busy neighbour). Small-op workloads
therefore run on one thread; large batched ops keep the pool.

Choosing the count from the load (two threads while the machine is idle) was tried and dropped:
it gained ~18 % idle, but a 2-thread reduction can differ from a 1-thread one in the last bits,
so a seed no longer gave the same motion when the load changed between two runs.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

import torch

#: Work per op (multiply-adds) below which a second thread costs more in barriers than it saves.
SMALL_OP_WORK = 1e7

_local = threading.local()  # OpenMP's thread count is per calling thread, so is the bookkeeping


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run the block with one intra-op thread (in the calling Python thread, as OpenMP counts
    them) and restore the count after; nested blocks restore it once, when the outer one ends."""
    depth = getattr(_local, "depth", 0)
    saved = torch.get_num_threads()
    if depth == 0 and saved != 1:
        torch.set_num_threads(1)
    _local.depth = depth + 1
    try:
        yield
    finally:
        _local.depth = depth
        if depth == 0 and saved != 1:
            torch.set_num_threads(saved)


def threads_for(work: float) -> contextlib.AbstractContextManager:
    """``single_thread()`` for per-op work under ``SMALL_OP_WORK`` multiply-adds, else the pool as it is."""
    return single_thread() if work < SMALL_OP_WORK else contextlib.nullcontext()
