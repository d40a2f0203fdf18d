"""Bytes in motion: a transfer's progress (done, rate, ETA, to a sink or the log) and file digests.

Shared by the network volume's uploads and downloads (``volume_storage``), the checkpoint fetch and the
run agent and its client (one digest loop for all of them).
"""

from __future__ import annotations

import hashlib
import logging
import time
from contextlib import nullcontext
from pathlib import Path
from typing import BinaryIO, Callable

log = logging.getLogger(__name__)

CHUNK = 1 << 20
Sink = Callable[[int, int, float, float | None], None]  # done, total, bytes/s, seconds left


class Progress:
    """Counts bytes (boto3's ``Callback`` hands increments) and reports done/total, rate and ETA.

    Reports go to ``sink`` (a tqdm bar, a GUI signal) or, without one, to the log every few seconds.
    """

    def __init__(self, what: str, total: int, sink: Sink | None = None, every_s: float = 2.0, done: int = 0) -> None:
        self.what, self.total, self.sink, self.every_s = what, int(total), sink, every_s
        self.done = self._start_done = int(done)
        self._t0 = self._last = time.monotonic()

    def rate(self) -> float:
        elapsed = time.monotonic() - self._t0
        return (self.done - self._start_done) / elapsed if elapsed > 0 else 0.0

    def eta(self) -> float | None:
        rate = self.rate()
        return (self.total - self.done) / rate if rate > 0 else None

    def __call__(self, n: int) -> None:
        self.done += int(n)
        if self.sink is not None:
            self.sink(self.done, self.total, self.rate(), self.eta())
            return
        now = time.monotonic()
        if now - self._last >= self.every_s or self.done >= self.total:
            self._last = now
            eta = self.eta()
            log.info("%s: %.1f of %.1f MB (%.1f MB/s%s)", self.what, self.done / 1e6, self.total / 1e6,
                     self.rate() / 1e6, f", {eta:.0f} s left" if eta is not None and self.done < self.total else "")


def file_digest(source: str | Path | BinaryIO, algorithm: str = "sha256", progress: Progress | None = None) -> str:
    """The hex digest of a file read in 1 MiB blocks: a path from its start, or an open binary file from
    its current position to the end (the agent hashes what it streams, the client what it uploads)."""
    h = hashlib.new(algorithm)
    with open(source, "rb") if isinstance(source, (str, Path)) else nullcontext(source) as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
            if progress:
                progress(len(block))
    return h.hexdigest()


def md5_of(path: Path) -> str:
    """The plain MD5 of a file (what a single-part S3 ETag is)."""
    return file_digest(path, "md5")


def file_sha256(path: str | Path, progress: Progress | None = None) -> str:
    """The SHA-256 of a file."""
    return file_digest(path, "sha256", progress)
