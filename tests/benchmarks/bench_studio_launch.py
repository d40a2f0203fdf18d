"""Studio launch on an empty workspace: process start to window, to the first rows, to all demo data.

Runs the real entry point (``python -m stickgen_studio --demo-if-empty``) offscreen in a fresh
process per run, idle and with one busy neighbour process. Aims (issue 9): window <= 2 s,
a populated table <= 10 s on an empty workspace. Usage: python tests/benchmarks/bench_studio_launch.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import busy_neighbour  # noqa: E402

AIMS = {"splash": 2.0, "window": 2.0, "first_rows": 10.0}
TODAY = {"window": 3.05}  # issue 16's figure before lazy Train/Evaluate pages (later runs measured 3.7-4.9 s)


def one_launch(clips: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "t.json"
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        t0 = time.time()
        subprocess.run([sys.executable, "-m", "stickgen_studio", str(Path(d) / "ws"), "--demo-if-empty",
                        "--demo-clips", str(clips), "--timings", str(out)], env=env, check=True,
                       capture_output=True, timeout=600)
        t = json.loads(out.read_text())
        return {k: t[k] - t0 for k in ("splash", "window", "first_rows", "all_data")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--clips", type=int, default=3000)
    args = ap.parse_args()
    rows = []
    for load in ("idle", "busy neighbour"):
        ctx = busy_neighbour() if load == "busy neighbour" else _null()
        with ctx:
            runs = [one_launch(args.clips) for _ in range(args.runs)]
        for key, label in (("splash", "process start -> first window (loading splash)"),
                           ("window", "process start -> main window shown"),
                           ("first_rows", "process start -> first rows in the table"),
                           ("all_data", f"process start -> all {args.clips:,} demo clips shown")):
            med = statistics.median(r[key] for r in runs)
            aim = AIMS.get(key)
            rows.append((label, load, med, aim, TODAY.get(key)))
    print(f"| measure (empty workspace, {args.clips:,} demo clips, median of {args.runs}) | load | today | seconds | aim "
          "| ratio to aim |")
    print("|---|---|---|---|---|---|")
    for label, load, med, aim, today in rows:
        print(f"| {label} | {load} | {today if today else ''} | {med:.2f} | {aim if aim else ''} | "
              f"{f'{med / aim:.2f}' if aim else ''} |")
    if any(label.endswith("main window shown") and med > aim for label, _, med, aim, _ in rows):
        print("\nmissed: main window <= 2 s: the Curate page's path is torch-free and the splash no longer waits "
              "for an expose event, so what is left is pandas (~0.45 s), pyqtgraph (~0.2 s), PySide6 and the "
              "page's own widgets; with the demo generated on an empty workspace its worker imports torch at the "
              "same time and shares the two cores. To close: defer pandas as well (the table model and thresholds "
              "use it before any data is there).")


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *a):
        return False


if __name__ == "__main__":
    main()
