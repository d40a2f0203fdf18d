"""System metrics of a training run (W&B's system panel): CPU, memory and, on a GPU machine, GPU
utilisation and memory, sampled by the trainer into ``<run>/system.jsonl`` (its only writer).

One JSON line per sample: ``time`` (ISO), ``cpu_percent`` (the trainer and its child processes, 100 =
one core busy), ``rss_mb`` (their resident memory), ``sys_cpu_percent`` and ``sys_mem_percent`` (the
machine), and per GPU ``gpu{i}_util_percent``, ``gpu{i}_mem_mb`` and ``gpu{i}_mem_total_mb``.

The file stays bounded however long the run: past ``max_rows`` lines it is rewritten (atomically) with
every other row and the sampling interval doubles, so a long run keeps its whole history, coarser.

GPU figures come from NVML (``nvidia-ml-py``: no CUDA context is created on GPUs the trainer does not
use); without NVML, ``torch.cuda``'s memory reserved on the trainer's own device (no utilisation).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable

import psutil

from .io import atomic_write_text

log = logging.getLogger(__name__)

SYSTEM_FILE = "system.jsonl"
INTERVAL_S = 5.0
MAX_ROWS = 2000          # ~200 bytes a row: the file stays under ~0.5 MB
READ_LIMIT = 4 << 20     # a reader never takes more than this of a (damaged or foreign) file
MB = 1 << 20


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class _Gpus:
    """GPU utilisation and memory: NVML when it loads, else torch.cuda's view of the trainer's device."""

    def __init__(self, device: Any = None) -> None:
        self.device = device
        self.nvml = None
        try:
            import pynvml

            pynvml.nvmlInit()
            self.nvml = pynvml
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        except Exception:  # noqa: BLE001 - no NVML library or driver (a CPU machine): the torch fallback
            self.nvml = None

    def sample(self) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.nvml is not None:
            for i, h in enumerate(self.handles):
                try:
                    util, mem = self.nvml.nvmlDeviceGetUtilizationRates(h), self.nvml.nvmlDeviceGetMemoryInfo(h)
                except Exception:  # noqa: BLE001 - one GPU's read failing (reset, fallen off the bus) skips it
                    continue
                out.update({f"gpu{i}_util_percent": float(util.gpu), f"gpu{i}_mem_mb": mem.used / MB,
                            f"gpu{i}_mem_total_mb": mem.total / MB})
            return out
        import torch

        if getattr(self.device, "type", None) == "cuda" and torch.cuda.is_initialized():
            i = self.device.index or 0
            out.update({f"gpu{i}_mem_mb": torch.cuda.memory_reserved(i) / MB,
                        f"gpu{i}_mem_total_mb": torch.cuda.get_device_properties(i).total_memory / MB})
        return out

    def close(self) -> None:
        if self.nvml is not None:
            try:
                self.nvml.nvmlShutdown()
            except Exception:  # noqa: BLE001
                pass


class SystemSampler:
    """Samples this process (and its children) and the machine into ``run_dir/system.jsonl`` from a
    daemon thread: one row at ``start``, one every ``interval`` seconds, one at ``stop``."""

    def __init__(self, run_dir: str | Path, interval: float | None = None, max_rows: int = MAX_ROWS,
                 device: Any = None, now: Callable[[], str] = _now) -> None:
        self.path = Path(run_dir) / SYSTEM_FILE
        self.interval = INTERVAL_S if interval is None else interval
        self.max_rows = max(max_rows, 2)
        self._now = now
        self._me = psutil.Process()
        self._procs: dict[int, psutil.Process] = {}   # kept between samples: cpu_percent measures since the last
        self._gpus = _Gpus(device)
        self._rows = _count_lines(self.path)          # a resumed run continues its file
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        psutil.cpu_percent(None)

    def _processes(self) -> list[psutil.Process]:
        try:
            live = [self._me, *self._me.children(recursive=True)]
        except psutil.Error:
            live = [self._me]
        self._procs = {p.pid: self._procs.get(p.pid, p) for p in live}
        return list(self._procs.values())

    def sample(self) -> dict[str, Any]:
        """One row (not written)."""
        cpu = rss = 0.0
        for p in self._processes():
            try:
                cpu += p.cpu_percent(None)
                rss += p.memory_info().rss
            except psutil.Error:   # a child that just ended
                continue
        return {"time": self._now(), "cpu_percent": cpu, "rss_mb": rss / MB,
                "sys_cpu_percent": psutil.cpu_percent(None), "sys_mem_percent": psutil.virtual_memory().percent,
                **self._gpus.sample()}

    def record(self) -> None:
        """Sample and append a row; past ``max_rows`` thin the file to every other row and sample half as often."""
        row = self.sample()
        with self._lock:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
            self._rows += 1
            if self._rows > self.max_rows:
                rows = self.path.read_text(encoding="utf-8").splitlines()
                kept = rows[::-2][::-1]   # every other row, always keeping the newest
                atomic_write_text(self.path, "".join(r + "\n" for r in kept))
                self._rows = len(kept)
                self.interval *= 2

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            if not self.path.parent.is_dir():   # the run folder went (deleted, a test's temp dir): nothing to watch
                return
            try:
                self.record()
            except OSError as exc:   # a full disk must not end the training; the next tick tries again
                log.warning("system metrics: %s", exc)

    def start(self) -> "SystemSampler":
        self.record()
        self._thread = threading.Thread(target=self._loop, name="system-metrics", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=10)
        self._thread = None
        try:
            self.record()
        except OSError as exc:
            log.warning("system metrics: %s", exc)
        self._gpus.close()


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as fh:
            return sum(1 for _ in fh)
    except OSError:
        return 0


def read_system(path: str | Path, limit: int = READ_LIMIT) -> list[dict[str, Any]]:
    """The rows of a system.jsonl (its last ``limit`` bytes at most); a damaged line is skipped, a
    missing file is no rows."""
    path = Path(path)
    if path.is_symlink() or not path.is_file():   # missing, a device or FIFO, or a link (it may lead anywhere)
        return []
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(max(size - limit, 0))
            data = fh.read(limit)
    except (OSError, ValueError):
        return []
    lines = data.split(b"\n")
    if len(data) == limit and size > limit:
        lines = lines[1:]          # the first line was cut by the limit
    rows = []
    for raw in lines:
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def system_columns(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The rows as numpy columns for plotting: ``minutes`` since the first sample, then every numeric key
    (NaN where a row lacks it); rows without a readable time are left out."""
    import numpy as np
    import pandas as pd

    if not rows:
        return {}
    df = pd.DataFrame.from_records(rows)
    if "time" not in df:
        return {}
    t = pd.to_datetime(df["time"], utc=True, errors="coerce", format="ISO8601")
    df = df[t.notna()]
    t = t[t.notna()]
    if not len(df):
        return {}
    out: dict[str, Any] = {"minutes": ((t - t.iloc[0]).dt.total_seconds() / 60.0).to_numpy(dtype=float)}
    for name in df.columns:
        if name != "time":
            values = pd.to_numeric(df[name], errors="coerce")
            if values.notna().any():
                out[name] = values.to_numpy(dtype=float)
    return out
