"""Train page speed: redraw time per poll tick with 10 runs x 100,000 points each (aim <= 16 ms: each
curve's min/max pyramid hands pyqtgraph about two points per pixel column of the visible range; the
same with every row handed over, for comparison), and click-to-first-point for a tiny local run
(Launch clicked -> the first loss point on the plot). Idle and busy-neighbour rows; wall and CPU ms.

Usage: QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_train_page.py [--points 100000] [--ticks 30]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(Path(__file__).resolve().parent), str(ROOT)]
from benchlib import busy_neighbour  # noqa: E402

AIM_TICK_MS = 16.0


def fake_series(run_id: str, n: int, spe: int = 100):
    from stickgen_studio.train.series import RunSeries

    rng = np.random.default_rng(hash(run_id) % 2**32)
    step = np.arange(1, n + 1, dtype=float)
    s = RunSeries(run_id)
    s.add({"step": step, "epoch": (step - 1) // spe, "t": 1.7e9 + step * 0.05, "lr": 3e-4 * np.exp(-step / n),
           "samples_per_s": 50 + rng.normal(0, 2, n), "train_total": 3 * np.exp(-step / (n / 3)) + rng.normal(0, .1, n)},
          {"epoch": np.arange(n // spe, dtype=float), "step": np.arange(1, n // spe + 1) * float(spe),
           "t": 1.7e9 + np.arange(1, n // spe + 1) * spe * 0.05, "val_total": 3 * np.exp(-np.arange(n // spe) / (n / spe / 3))})
    return s


def redraw_ms(app, runs: int, points: int, ticks: int, fast: bool, live: int) -> tuple[list[float], list[float]]:
    """(wall ms, CPU ms) per tick: ``live`` of the ``runs`` gain 5 rows a tick, then update + synchronous paint."""
    from stickgen_studio.train import live_plots

    live_plots.POINTS_PER_PIXEL = 2 if fast else 10**9   # 10**9: every row goes to pyqtgraph
    plots = live_plots.LivePlots()
    plots.resize(900, 560)
    plots.show()
    series = {f"run{i}": fake_series(f"run{i}", points) for i in range(runs)}
    plots.update_series(series)
    plots.show_runs(list(series))
    plots.repaint()
    app.processEvents()
    times, cpu = [], []
    for k in range(ticks):
        for s in list(series.values())[:live]:  # what one poll brings: a few new step rows per live run
            n = s.steps.n
            new = np.arange(n + 1, n + 6, dtype=float)
            s.add({"step": new, "epoch": (new - 1) // 100, "t": 1.7e9 + new * 0.05, "lr": np.full(5, 1e-4),
                   "samples_per_s": np.full(5, 50.0), "train_total": np.full(5, 0.5)}, {})
        t0, c0 = time.perf_counter(), time.process_time()
        plots.update_series(series)
        plots.repaint()       # paint now, synchronously: the time a tick keeps the GUI thread
        app.processEvents()
        times.append(1000 * (time.perf_counter() - t0))
        cpu.append(1000 * (time.process_time() - c0))
    plots.close()
    return times, cpu


def click_to_first_point(app) -> float:
    from PySide6.QtCore import QSettings

    from stickgen_core.jobs import list_runs
    from stickgen_studio.main_window import MainWindow
    from tests.gui.train_workspace import make_train_workspace

    with tempfile.TemporaryDirectory() as d:
        ws = make_train_workspace(Path(d) / "ws")
        win = MainWindow(ws, settings=QSettings(str(Path(d) / "s.ini"), QSettings.Format.IniFormat), train_poll_ms=100)
        win.resize(1280, 800)
        win.show()
        win.nav.setCurrentRow(1)
        form = win.train.form
        form.config.setCurrentIndex(form.config.findData(str(ws / "configs" / "tiny.yaml")))
        form.check()
        t0 = time.perf_counter()
        form.launch_button.click()
        elapsed = float("nan")
        while time.perf_counter() - t0 < 600:
            app.processEvents()
            curves = [c for n, c in win.train.plots.curves().items() if n.endswith("· total") and c.xData is not None]
            if curves and len(curves[0].xData):
                elapsed = time.perf_counter() - t0
                break
            time.sleep(0.01)
        for run in list_runs(ws, refresh=False):
            run.stop(timeout=60)
        win.close()
        return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--ticks", type=int, default=30)
    ap.add_argument("--launches", type=int, default=2)
    args = ap.parse_args()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"| measure ({args.runs} runs x {args.points:,} points) | load | median | p95 | median CPU ms | aim | "
          "median / aim |")
    print("|---|---|---|---|---|---|---|", flush=True)
    for load in ("idle", "busy neighbour"):
        ctx = busy_neighbour() if load == "busy neighbour" else contextlib.nullcontext()
        with ctx:
            for fast, live in ((True, 1), (True, args.runs), (False, args.runs)):
                t, c = redraw_ms(app, args.runs, args.points, args.ticks, fast, live)
                name = (f"redraw per tick, ms, {live} of {args.runs} runs growing"
                        + ("" if fast else " (every row drawn, no pyramid)"))
                ratio = f"{statistics.median(t) / AIM_TICK_MS:.2f}" if fast else ""
                print(f"| {name} | {load} | {statistics.median(t):.1f} | {np.percentile(t, 95):.1f} | "
                      f"{statistics.median(c):.1f} | {AIM_TICK_MS if fast else ''} | {ratio} |", flush=True)
            first = [click_to_first_point(app) for _ in range(args.launches)]
            if not first:
                continue
            print(f"| click Launch -> first loss point, s (tiny local run) | {load} | {statistics.median(first):.2f} | "
                  f"{max(first):.2f} | | | |", flush=True)


if __name__ == "__main__":
    main()
