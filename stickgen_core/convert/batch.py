"""Many source files -> samples: every file that converts, and one line per file that does not.

A folder of captures is converted file by file; one odd file among thousands costs only
itself. ``jobs > 1`` spreads the files over that many processes (spawned: torch and fork do
not mix; each worker runs one thread), the samples come back in file order.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ..errors import DatasetError, StickGenError
from .one_file import convert_file

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]


@dataclass
class BatchResult:
    """Samples of the files that converted (file order), the files themselves, and (file, reason) per failure."""

    samples: list[dict] = field(default_factory=list)
    converted: list[Path] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)

    def summary_lines(self) -> list[str]:
        """``file: reason`` per failed file."""
        return [f"{f}: {_reason(f, msg)}" for f, msg in self.failures]


def _reason(path: str, message: str) -> str:
    """The message without a leading ``path:`` (the summary names the file once)."""
    line = " ".join(message.split())
    return line[len(path) + 2:] if line.startswith(path + ": ") else line


def failure_message(path: Path, exc: BaseException) -> str:
    """One line for a file that did not convert (a bug is named as one)."""
    if isinstance(exc, StickGenError):
        return str(exc)
    if isinstance(exc, (OSError, ValueError)):
        return f"{path}: {exc}"
    return f"{path}: unexpected {type(exc).__name__}: {exc}"


def _one(path: Path, fmt: str, options: dict) -> list[dict]:
    return convert_file(path, fmt, **options)


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)


def _chunk(paths: Sequence[Path], fmt: str, options: dict) -> list[tuple[list[dict] | None, str | None]]:
    out: list[tuple[list[dict] | None, str | None]] = []
    for p in paths:
        try:
            out.append((_one(p, fmt, options), None))
        except Exception as exc:  # noqa: BLE001 - one file's failure, of any kind, is that file's line
            log.debug("convert %s failed", p, exc_info=True)
            out.append((None, failure_message(p, exc)))
    return out


def convert_many(files: Sequence[str | Path], fmt: str, *, jobs: int = 1, progress: Progress | None = None,
                 **options) -> BatchResult:
    """Every file of ``files`` that converts (``convert_file(f, fmt, **options)``), the rest as failures.

    ``jobs``: processes (1: this one). ``progress(done, total)`` is called as files finish.
    """
    paths = [Path(f) for f in files]
    if not isinstance(jobs, int) or jobs < 1:
        raise DatasetError(f"--jobs: expected a whole number of processes >= 1, got {jobs!r}")
    results: list[tuple[list[dict] | None, str | None]] = [(None, None)] * len(paths)
    jobs = min(jobs, len(paths), os.cpu_count() or 1) if paths else 1
    if jobs == 1:
        for k, p in enumerate(paths):
            results[k] = _chunk([p], fmt, options)[0]
            if progress:
                progress(k + 1, len(paths))
    else:
        import multiprocessing as mp

        size = max(1, min(16, len(paths) // (jobs * 4)))  # small chunks: smooth progress, little IPC
        chunks = [list(range(i, min(i + size, len(paths)))) for i in range(0, len(paths), size)]
        done = 0
        with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"), initializer=_worker_init) as pool:
            futures = {pool.submit(_chunk, [paths[i] for i in c], fmt, options): c for c in chunks}
            for fut in as_completed(futures):
                for i, r in zip(futures[fut], fut.result()):
                    results[i] = r
                done += len(futures[fut])
                if progress:
                    progress(done, len(paths))
    out = BatchResult()
    for p, (samples, error) in zip(paths, results):
        if samples is None:
            out.failures.append((str(p), error or f"{p}: not converted"))
        else:
            out.samples.extend(samples)
            out.converted.append(p)
    return out
