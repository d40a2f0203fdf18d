"""A command's failure as one line on stderr and an exit code, never a traceback.

Shared by the ``stickgen`` CLI and ``python -m stickgen_core.train`` (which must not import the CLI).
"""

from __future__ import annotations

import logging
import sys
from typing import Callable

from .errors import StickGenError


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
