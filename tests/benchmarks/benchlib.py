"""What the benchmark scripts share (they run as scripts, so this sits beside them)."""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
from pathlib import Path
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


def studio_window(folder: Path, width: int = 1280, height: int = 800):
    """(app, main window) of the studio on a fresh workspace under ``folder``, shown offscreen."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from stickgen_studio.main_window import MainWindow
    from stickgen_studio.resources import register_fonts

    register_fonts(app)
    win = MainWindow(folder / "ws", settings=QSettings(str(folder / "s.ini"), QSettings.Format.IniFormat))
    win.resize(width, height)
    win.show()
    app.processEvents()
    return app, win


def synthetic_batch(B: int, T: int, emb: int):
    """A training ``Batch`` of random data (B clips x T frames, ``emb``-dim text), the same every call."""
    import torch

    from stickgen_core.train.data import Batch

    g = torch.Generator().manual_seed(0)
    return Batch(torch.randn(B, emb, generator=g), torch.randn(B, T, 48, generator=g),
                 torch.randint(0, 16, (B, T), generator=g), torch.randn(B, T, 6, generator=g),
                 torch.randn(B, T, 3, generator=g), torch.ones(B, T, dtype=torch.bool),
                 torch.zeros(B, dtype=torch.long), torch.full((B,), T, dtype=torch.long))


def goal_table(rows: list[tuple[str, str, float, float, float, bool]], why: dict[str, str] | None = None) -> str:
    """Markdown table of measures against their goals (issue 16): each row is
    (measure, load, today, aim, now, higher_is_better); ratio = how far ``now`` moved from
    ``today`` (>1 is better), and whether it meets the aim. ``why`` (measure -> text) says, under
    the table, why a missed measure misses and what would close it."""
    out = [f"| {'measure':58} | {'load':18} | {'today':>9} | {'aim':>9} | {'now':>9} | {'x today':>7} | {'aim met':>7} |",
           f"|{'-' * 60}|{'-' * 20}|{'-' * 11}|{'-' * 11}|{'-' * 11}|{'-' * 9}|{'-' * 9}|"]
    for name, load, today, aim, now, higher in rows:
        ratio = (now / today if higher else today / now) if today == today and now else float("nan")
        met = (now >= aim) if higher else (now <= aim)
        out.append(f"| {name:58} | {load:18} | {today:9.1f} | {aim:9.1f} | {now:9.1f} | {ratio:7.2f} | "
                   f"{'yes' if met else 'no':>7} |")
    missed = dict.fromkeys(name for name, load, today, aim, now, higher in rows
                           if not ((now >= aim) if higher else (now <= aim)))
    for name in missed:
        out.append(f"\nmissed: {name}: {(why or {}).get(name, 'no reason recorded')}")
    return "\n".join(out)
