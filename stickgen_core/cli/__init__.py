"""The ``stickgen`` command line.

Every command calls the same public functions a script would. A StickGenError is
printed as one clear line (exit 2), never as a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Sequence

from .. import __version__
from ..reporting import run_reporting_errors
from . import config_cmd, convert, curate, data, jobs, judge, model, pack, parallax


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stickgen", description="StickGen: curate, embed, train and judge stick-figure motion.")
    p.add_argument("--version", action="version", version=f"stickgen {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (data, pack, curate, convert, model, judge, config_cmd, jobs, parallax):
        module.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    return run_reporting_errors(lambda: args.func(args), verbose=args.verbose)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
