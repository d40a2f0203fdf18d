"""Run stickgen_core functions off the GUI thread, with progress and cancel.

A ``Task`` owns a QThread and a worker object; the function it runs gets ``progress``
(done, total) and ``should_stop`` callbacks when it accepts them, exactly the callbacks
stickgen_core offers to scripts. Every live task is tracked so tests can check none
is left running.
"""

from __future__ import annotations

import inspect
import logging
import traceback
import weakref
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from stickgen_core.errors import StickGenError

log = logging.getLogger(__name__)
LIVE_TASKS: "weakref.WeakSet[Task]" = weakref.WeakSet()


class _Worker(QObject):
    progress = Signal(float, float)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        super().__init__()
        self._fn, self._args, self._kwargs = fn, args, dict(kwargs)
        self._stop = False
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            params = {}
        if "progress" in params:
            self._kwargs["progress"] = lambda done, total: self.progress.emit(float(done), float(total))
        if "should_stop" in params:
            self._kwargs["should_stop"] = lambda: self._stop

    @Slot()
    def run(self) -> None:
        try:
            self._call()
        finally:
            # quit from here, not from a queued slot: a GUI thread waiting on us may be blocked
            QThread.currentThread().quit()

    def _call(self) -> None:
        try:
            result = self._fn(*self._args, **self._kwargs)
        except InterruptedError:
            self.cancelled.emit()
        except StickGenError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # the GUI must survive any failure; the log keeps the traceback
            log.error("task failed:\n%s", traceback.format_exc())
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            if self._stop:
                self.cancelled.emit()
            else:
                self.finished.emit(result)


class Task(QObject):
    """One background call. Connect to the signals, then ``start()``."""

    progress = Signal(float, float)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    ended = Signal()

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str = "task", **kwargs: Any) -> None:
        super().__init__()
        self.name = name
        self._thread = QThread()
        self._thread.setObjectName(f"stickgen-{name}")
        self._worker = _Worker(fn, args, kwargs)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progress.connect(self.progress)
        for sig, mine in ((self._worker.finished, self.finished), (self._worker.failed, self.failed),
                          (self._worker.cancelled, self.cancelled)):
            sig.connect(mine)
            sig.connect(self._wrap_up)
        LIVE_TASKS.add(self)

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        self._worker._stop = True

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def wait(self, ms: int = 30_000) -> bool:
        return self._thread.wait(ms)

    @Slot()
    def _wrap_up(self, *_: Any) -> None:
        self._thread.quit()
        self._thread.wait()
        self.ended.emit()
