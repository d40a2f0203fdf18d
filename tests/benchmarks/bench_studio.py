"""Studio benchmark: slider-to-screen latency at 100,000 clips, player fps, launch time.

    QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_studio.py [--rows 100000]

Aims (issue 4): a slider change updates counts, table status and histograms within one
60 Hz frame (16 ms); the player keeps 25 fps; the window shows quickly.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pandas as pd
from benchlib import studio_window

from stickgen_core.annotate import annotate
from stickgen_core.io import save_dataset
from stickgen_core.synth import SynthConfig, generate_dataset

FRAME_BUDGET_MS = 1000 / 60
TODAY_SLIDER_MS = 35.9  # issue 16: before it (apply 14, model + histograms 7, Qt repaint 15)


def big_table(rows: int, folder: Path) -> pd.DataFrame:
    """``rows`` rows made of 2,000 real clips repeated (so clip previews can load them)."""
    path = folder / "clips.pt"
    save_dataset(generate_dataset(2000, seed=0, config=SynthConfig(defect_rate=0.2, max_seconds=10)), path)
    base = annotate(path)
    t = pd.concat([base] * int(np.ceil(rows / len(base))), ignore_index=True).head(rows)
    t["clip_id"] = [f"{c}-{i}" for i, c in enumerate(t["clip_id"])]
    t["clip_key"] = pd.util.hash_pandas_object(t["clip_id"], index=False).to_numpy().view(np.int64)
    for col in ("source", "dominant_action"):
        t[col] = t[col].astype(str).astype("category")
    return t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--moves", type=int, default=41)
    ap.add_argument("--play-seconds", type=float, default=4.0)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        app, win = studio_window(Path(tmp))
        table = big_table(args.rows, Path(tmp))
        cur = win.curate
        t = time.perf_counter()
        cur._show_table(table, ["(benchmark table)"])
        app.processEvents()
        load_ms = (time.perf_counter() - t) * 1000

        control = cur.thresholds.controls["min_quality_pretrain"]
        lat, core = [], []
        for k in range(args.moves):  # a user dragging a slider: one value per event
            t = time.perf_counter()
            control.slider.setValue(20 + (k * 7) % 70)
            app.processEvents()  # repaint of the table, histograms and summary
            lat.append((time.perf_counter() - t) * 1000)
            core.append(cur.last_update_ms)

        from benchlib import busy_neighbour
        busy_lat = []
        with busy_neighbour():
            for k in range(args.moves):
                t = time.perf_counter()
                control.slider.setValue(20 + (k * 11) % 70)
                app.processEvents()
                busy_lat.append((time.perf_counter() - t) * 1000)

        cur.view.selectRow(0)
        app.processEvents()
        t_end = time.perf_counter() + args.play_seconds
        while time.perf_counter() < t_end:
            app.processEvents()
            time.sleep(0.001)
        fps = cur.player.achieved_fps()
        cur.player.pause()
        win.close()

        # launch: a fresh process, to the window being shown
        ws = Path(tmp) / "launch"
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "stickgen_studio", str(ws), "--screenshot", str(Path(tmp) / "l.png")],
                              capture_output=True, text=True, timeout=300)
        launch_total = (time.perf_counter() - t) * 1000
        shown = [ln for ln in proc.stderr.splitlines() if "window shown after" in ln]
        shown_ms = float(shown[0].split("after")[1].split("ms")[0]) if shown else float("nan")

    med = statistics.median(lat)
    print(f"\n{args.rows:,} clips in the table, {args.moves} slider moves, offscreen Qt\n")
    print(f"| {'measure':52} | {'value':>9} | {'aim':>8} | {'ratio':>6} |")
    print(f"|{'-' * 54}|{'-' * 11}|{'-' * 10}|{'-' * 8}|")
    rows = [
        ("slider change -> counts, table, histograms (median ms)", med, FRAME_BUDGET_MS),
        ("  of which apply + model + histograms (median ms)", statistics.median(core), FRAME_BUDGET_MS),
        ("slider change, 90th percentile ms", float(np.percentile(lat, 90)), FRAME_BUDGET_MS),
        ("player achieved fps (25 fps clip)", fps, 25.0),
        ("load a 100k-row table into the panel (ms)", load_ms, float("nan")),
        ("launch to window shown, in-process (ms)", shown_ms, float("nan")),
        ("launch to exit of a fresh process, incl. imports (ms)", launch_total, float("nan")),
    ]
    for name, value, aim in rows:
        ratio = value / aim if aim == aim else float("nan")
        print(f"| {name:52} | {value:9.1f} | {aim:8.1f} | {ratio:6.2f} |")
    from benchlib import goal_table
    print("\nissue 16\n")
    print(goal_table([("slider change -> repainted, median ms", "idle", TODAY_SLIDER_MS, FRAME_BUDGET_MS, med, False),
                      ("slider change -> repainted, median ms", "one busy neighbour", TODAY_SLIDER_MS,
                       FRAME_BUDGET_MS, statistics.median(busy_lat), False)], why={
        "slider change -> repainted, median ms":
            f"the core work (apply_thresholds on the prepared table, table status, histogram bars, summary) is "
            f"{statistics.median(core):.0f} ms of it (apply_thresholds ~6-9 ms, the five histograms restacking "
            "all their bars ~3 ms, table status and summary). Axes are not re-laid out on a move, no label posts a "
            "layout request up to the main window any more (the counts strip draws its own text; a control "
            "restyles its title only when it leaves or returns to its default), and the table answers only the "
            "roles it uses. Qt still flushes the window four times per move (counted: UpdateRequest events): "
            "pyqtgraph's scenes deliver their changes by queued calls, each starting another flush, and the "
            "table is repainted in two of them (2.9 ms each at 1280 x 800). Delivering the scenes' queued calls "
            "and the table's delayed layout synchronously at the end of a move did not merge the flushes "
            "(24.5 -> 24.4 ms; 5.2 flushes). To close: the bar charts drawn by one QPainter widget each "
            "instead of pyqtgraph scenes (one flush), restacking only the bars that changed, and a faster "
            "apply_thresholds on a slow machine (it is 6 ms on the usual one)"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
