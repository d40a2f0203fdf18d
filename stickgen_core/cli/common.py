"""What the command modules share."""

from __future__ import annotations

import argparse
import importlib
from typing import Callable


def bar(total: int, desc: str, unit: str = "clip"):
    """A tqdm bar and a ``progress(done, total)`` callback that drives it."""
    from tqdm import tqdm

    b = tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, disable=None)

    def progress(done: int, _total: int) -> None:
        b.update(done - b.n)

    return b, progress


def run_from(target: str) -> Callable[[argparse.Namespace], int]:
    """A command function named ``"package.module:function"``, imported only when it runs."""
    module, _, name = target.partition(":")

    def run(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(module), name)(args)

    return run
