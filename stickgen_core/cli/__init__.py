"""The ``stickgen`` command line.

Every command calls the same public functions a script would. A StickGenError is
printed as one clear line (exit 2), never as a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable, Sequence

from .. import __version__
from ..errors import StickGenError
from . import config_cmd, convert, curate, data, jobs, judge, model, pack


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stickgen", description="StickGen: curate, embed, train and judge stick-figure motion.")
    p.add_argument("--version", action="version", version=f"stickgen {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (data, pack, curate, convert, model, judge, config_cmd, jobs):
        module.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    return run_reporting_errors(lambda: args.func(args), verbose=args.verbose)


def run_reporting_errors(call: Callable[[], int | None], verbose: bool = False) -> int:
    """Run a command; every failure becomes one line on stderr, never a traceback.

    Exit 2: a diagnosed input error (StickGenError), or the system refusing (disk, memory).
    Exit 1: an unexpected error (a bug): one line too; ``--verbose`` shows its traceback.
    """
    try:
        return int(call() or 0)
    except StickGenError as exc:
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("error: out of memory (the input is larger than this machine can hold)", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{_one_line(exc.strerror or str(exc))}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the last line of defence against a traceback
        logging.getLogger("stickgen_core").debug("unexpected error", exc_info=True)
        print(f"error: unexpected {type(exc).__name__}: {_one_line(str(exc))}"
              f"{'' if verbose else ' (run with --verbose for the traceback)'}", file=sys.stderr)
        return 1


def _one_line(text: str, limit: int = 600) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
