"""Start-up benchmark: ``stickgen --help`` and ``stickgen <cmd> --help`` in fresh processes.

    python tests/benchmarks/bench_startup.py [--repeats 5]

Aim (issue 9, item 8): ``stickgen --help`` within 0.5 s (3.6 s when the parser imported the
trainer and torch). Each row is the median of ``--repeats`` fresh processes, idle and with
one busy neighbour process.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchlib import busy_neighbour

AIM_S = 0.5


def stickgen_command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m stickgen_core.cli``."""
    script = Path(sys.executable).with_name("stickgen")
    if script.exists():
        return [str(script)]
    found = shutil.which("stickgen")
    return [found] if found else [sys.executable, "-m", "stickgen_core.cli"]


def command_names() -> list[str]:
    """The subcommands, read from the parser the way a user would see them."""
    from stickgen_core.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


def median_seconds(argv: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    base = stickgen_command()
    rows = [("stickgen --help", base + ["--help"])]
    rows += [(f"stickgen {c} --help", base + [c, "--help"]) for c in command_names()]
    print(f"{'command':34s} {'load':>5s} {'median s':>9s} {'aim s':>6s} {'ratio':>6s}")
    for load in ("idle", "busy"):
        with busy_neighbour() if load == "busy" else contextlib.nullcontext():
            for label, cmd in rows:
                t = median_seconds(cmd, args.repeats)
                print(f"{label:34s} {load:>5s} {t:9.3f} {AIM_S:6.2f} {t / AIM_S:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
