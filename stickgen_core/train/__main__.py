"""``python -m stickgen_core.train`` (also ``stickgen train``): the spec's flags plus --run-dir.

SIGTERM / SIGINT save the latest checkpoint, mark the run 'stopped' and exit 0; a crash
marks it 'failed' with the error message.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import logging
import signal
import sys
from pathlib import Path

from ..config import load_config, resolve_sources
from ..run_state import RunState
from .arguments import add_arguments

log = logging.getLogger("stickgen_core.train")


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    sources = resolve_sources(cfg, args.data_path, args.resume_from, args.init_from)
    run_dir = Path(args.run_dir or args.checkpoint_dir or
                   f"runs/{cfg.training.stage}-{_dt.datetime.now():%Y%m%d-%H%M%S}")
    run_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(run_dir / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("stickgen_core").addHandler(handler)
    logging.getLogger("stickgen_core").setLevel(logging.INFO)
    stop = {"requested": False}

    def on_signal(signum, _frame) -> None:
        log.warning("received %s: saving and stopping", signal.Signals(signum).name)
        stop["requested"] = True

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    from .trainer import RunFolder, train

    try:
        summary = train(cfg, sources, run_dir, should_stop=lambda: stop["requested"], command=sys.argv)
    except BaseException as exc:  # record every failure in status.json, then report it
        RunFolder(run_dir).status(RunState.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        logging.getLogger("stickgen_core").removeHandler(handler)
    print(("stopped" if summary.get("stopped") else "finished") + f": {run_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m stickgen_core.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from ..reporting import run_reporting_errors

    return run_reporting_errors(lambda: run(args))


if __name__ == "__main__":
    sys.exit(main())
