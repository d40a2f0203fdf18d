"""What the benchmark scripts share (they run as scripts, so this sits beside them)."""

from __future__ import annotations

import contextlib
import resource
import subprocess
import sys
from typing import Iterator


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@contextlib.contextmanager
def busy_neighbour() -> Iterator[None]:
    """One CPU-bound process running beside the measurement (the 'busy' row of a table)."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        proc.kill()
        proc.wait()
