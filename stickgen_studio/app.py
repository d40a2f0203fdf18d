"""``stickgen-studio [WORKSPACE]``: open the studio on a workspace folder."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from .workspace import DEFAULT_WORKSPACE


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="stickgen-studio", description="StickGen Studio desktop app")
    ap.add_argument("workspace", nargs="?", default=DEFAULT_WORKSPACE, help=f"workspace folder (default ./{DEFAULT_WORKSPACE})")
    ap.add_argument("--demo-if-empty", action="store_true",
                    help="generate a synthetic demo dataset when the workspace has none")
    ap.add_argument("--demo-clips", type=int, default=None, help="size of the generated demo dataset (default 3000)")
    ap.add_argument("--size", help="window size WIDTHxHEIGHT, e.g. 1280x800")
    ap.add_argument("--screenshot", help="save a screenshot of the window to this PNG once it is ready, then quit")
    ap.add_argument("--timings", help="write wall-clock times (window shown, first rows, all data) to this JSON file")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    t0 = time.perf_counter()
    try:
        from PySide6.QtWidgets import QApplication
    except ImportError:  # a core install (the training image's): the GUI is an extra
        print("stickgen-studio: the GUI packages are not installed; pip install 'stickgen-studio[gui]' "
              "(or `make studio`)", file=sys.stderr)
        return 2

    from .resources import register_fonts, startup_splash

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("StickGen Studio")
    app.setOrganizationName("StickGen")
    register_fonts(app)
    # torch and pandas take seconds to import on a laptop: say so at once instead of showing nothing
    splash = startup_splash(args.workspace)
    times = {"splash": time.time()}
    app.processEvents()
    from .main_window import MainWindow

    win = MainWindow(args.workspace, generate_if_empty=args.demo_if_empty, demo_clips=args.demo_clips)
    if args.size:
        w, _, h = args.size.partition("x")
        win.resize(int(w), int(h))
    win.show()
    splash.finish(win)
    logging.getLogger("stickgen_studio").info("window shown after %.0f ms", (time.perf_counter() - t0) * 1000)
    times["window"] = time.time()
    # modules kept out of start-up (seconds of import) are loaded now, off the GUI thread, so the first
    # loss curve or BVH import does not stall the window
    import threading

    threading.Thread(target=_warm_imports, name="warm-imports", daemon=True).start()
    if args.timings:
        win.curate.updated.connect(lambda: times.setdefault("first_rows", time.time()))
    if args.screenshot or args.timings:
        from PySide6.QtCore import QTimer

        poll = QTimer(win)

        def finish() -> None:
            cur = win.curate
            # ready: no work running, and the clips on show unless the workspace has none to show
            waiting = cur.table is None and cur.workspace is not None and bool(cur.workspace.datasets())
            if cur.tasks.busy() or waiting:
                return
            poll.stop()
            times["all_data"] = time.time()
            if args.timings:
                import json

                from stickgen_core.io import atomic_write_text

                atomic_write_text(args.timings, json.dumps(times))
            if args.screenshot:
                win.grab().save(args.screenshot)
            win.close()

        poll.timeout.connect(finish)
        poll.start(50)
    return app.exec()


def _warm_imports() -> None:
    import importlib

    # torch comes in with the annotation of the first dataset (its worker imports it); the Train and
    # Evaluate pages are built on first use, so their modules are loaded here before a click needs them
    for name in ("stickgen_core.annotate", "stickgen_studio.train.page", "stickgen_studio.evaluate",
                 "scipy.signal", "scipy.spatial.transform"):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a failed warm-up only means the first use imports it
            logging.getLogger("stickgen_studio").debug("warm import of %s failed", name, exc_info=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
