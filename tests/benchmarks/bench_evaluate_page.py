"""Evaluate page speed: open a report of N prompts (click -> tiles, chart and table filled and
painted), select a prompt (click -> its first frame painted), and the critic re-run on a
threshold edit (edit -> verdict, issue list, timeline and card redone), on a 10 s synthetic clip
and on the CMU walk of ../shared/data (converted). Idle and busy-neighbour rows.

The report is written like ``run_adversarial_eval`` writes one (results, per-suite summary,
saved motions under motions/<suite>/<id>.pt), from synthetic clips judged by the real critic,
so no model runs here.

Usage: QT_QPA_PLATFORM=offscreen python tests/benchmarks/bench_evaluate_page.py [--prompts 50 500] [--repeats 7]
"""

from __future__ import annotations

import argparse
import contextlib
import json
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

CMU_WALK = ROOT.parent / "shared" / "data" / "bvh" / "cmu_131_01_walk.bvh"


def write_report(folder: Path, n: int) -> Path:
    """A report of ``n`` prompts over the real suites: synthetic motions judged by the critic."""
    from stickgen_core.critic import SafetyCritic
    from stickgen_core.evaluation import REPORT_FILE, load_suites, physical_metrics, summarise
    from stickgen_core.io import save_dataset
    from stickgen_core.synth import SynthConfig, generate_sample

    suites = load_suites()
    names = list(suites)
    critic = SafetyCritic()
    cfg = SynthConfig(multi_actor_rate=0.0, defect_rate=0.4, min_seconds=2, max_seconds=6)
    pool = [generate_sample(k, seed=k, config=cfg) for k in range(min(n, 40))]  # motions repeat: writing is not timed
    results = []
    for k in range(n):
        s, suite = pool[k % len(pool)], names[k % len(names)]
        path = folder / "motions" / suite / f"p{k:05d}.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_dataset([s], path)
        m = s["motion"].numpy()
        verdict = critic.evaluate(m, s["physics"], s["description"])
        results.append({"suite": suite, "id": f"p{k:05d}", "text": s["description"], "seconds": len(m) / 25,
                        "generated_seconds": len(m) / 25, "is_safe": verdict.is_safe,
                        "overall_score": verdict.overall_score, "issues": verdict.to_dict()["issues"],
                        "physical": {key: float(v[0]) for key, v in physical_metrics([m]).items()},
                        "notes": verdict.notes, "motion_path": str(path)})
    report = {"checkpoint": "synthetic", "suites_run": names, "critic": dict(vars(critic.config)),
              "results": results, **summarise(results, suites)}
    (folder / REPORT_FILE).write_text(json.dumps(report))
    return folder / REPORT_FILE


def timed(app, act, done) -> float:
    """ms from ``act()`` until ``done()`` holds, processing events (what a user waits for)."""
    t0 = time.perf_counter()
    act()
    while not done():
        app.processEvents()
    return (time.perf_counter() - t0) * 1e3


def measure(app, page, reports: dict[int, Path], clips: dict[str, Path], repeats: int) -> list[tuple[str, list[float]]]:
    from PySide6.QtWidgets import QApplication  # noqa: F401  (the app exists)

    browser, critic = page.reports, page.critic
    rows = []
    for n, path in reports.items():
        page.tabs.setCurrentWidget(browser)

        def open_report(p=path):
            browser.open(str(p))
            browser.tiles.repaint()
            browser.chart.repaint()
            browser.view.viewport().repaint()

        rows.append((f"open a report of {n:,} prompts → tiles + table painted",
                     [timed(app, open_report, lambda n=n: browser.model.rowCount() == n) for _ in range(repeats)]))
        sel = []
        for k in range(repeats):
            row = (7 * k + 3) % n

            def select(row=row):
                browser.view.selectRow(row)
                browser.viewer.canvas.repaint()  # the first frame on screen

            sel.append(timed(app, select, lambda row=row: browser.selected is not None
                             and browser.selected["result"]["id"] == browser.model.row(row)["id"]))
        rows.append((f"select a prompt ({n:,}) → first frame painted", sel))
    page.tabs.setCurrentWidget(critic)
    spin = critic.editor.controls["max_velocity"]
    for name, path in clips.items():
        critic.open_file(str(path))
        edits = []
        for k in range(repeats):
            before = critic.result

            def edit(k=k):
                spin.setValue(spin.value() + (0.5 if k % 2 == 0 else -0.5))
                critic.viewer.repaint()

            edits.append(timed(app, edit, lambda before=before: critic.result is not before))
        rows.append((f"critic re-run on a threshold edit ({name})", edits))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, nargs="+", default=[50, 500])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from stickgen_core.convert import convert_file
    from stickgen_core.io import save_dataset
    from stickgen_core.synth import SynthConfig, generate_sample
    from stickgen_studio.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    reports = {}
    for n in args.prompts:
        folder = tmp / "ws" / "reports" / f"synthetic-{n}"
        folder.mkdir(parents=True)
        reports[n] = write_report(folder, n)
    clips = {"10 s synthetic walk": tmp / "walk.pt"}
    save_dataset([generate_sample(0, seed=3, config=SynthConfig(actions=("walk",), multi_actor_rate=0.0,
                                                                  min_seconds=10, max_seconds=10))], clips["10 s synthetic walk"])
    if CMU_WALK.is_file():
        clips["CMU walk, 995 frames at 120 fps → 25 fps"] = tmp / "cmu.pt"
        save_dataset(convert_file(CMU_WALK, "bvh"), clips["CMU walk, 995 frames at 120 fps → 25 fps"])
    settings = QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(tmp / "ws", settings=settings, generate_if_empty=False)
    win.resize(1280, 800)
    win.show()
    win.nav.setCurrentRow(2)
    app.processEvents()
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; window 1280×800")
    print("| measure | load | median ms | p95 ms |")
    print("|---|---|---|---|", flush=True)
    for load, ctx in (("idle", contextlib.nullcontext()), ("1 busy neighbour", busy_neighbour())):
        with ctx:
            for name, ms in measure(app, win.evaluate, reports, clips, args.repeats):
                p95 = float(np.percentile(ms, 95))
                print(f"| {name} | {load} | {statistics.median(ms):.0f} | {p95:.0f} |", flush=True)
    win.close()


if __name__ == "__main__":
    main()
