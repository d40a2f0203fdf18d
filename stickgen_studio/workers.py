"""Run stickgen_core functions off the GUI thread, with progress and cancel.

A ``Task`` owns a QThread and a worker object; the function it runs gets ``progress``
(done, total) and ``should_stop`` callbacks when it accepts them, exactly the callbacks
stickgen_core offers to scripts. Every live task is tracked so tests can check none
is left running.
"""

from __future__ import annotations

import inspect
import time
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
    partial = Signal(object)
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
        if "on_partial" in params:
            self._kwargs["on_partial"] = self.partial.emit

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
    partial = Signal(object)  # early results (e.g. the first clips of a long generation)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    ended = Signal()  # after finished/failed/cancelled, once the thread has stopped
    began = Signal()

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str = "task", **kwargs: Any) -> None:
        super().__init__()
        self.name = name
        self._thread = QThread()
        self._thread.setObjectName(f"stickgen-{name}")
        self._worker = _Worker(fn, args, kwargs)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.progress.connect(self.progress)
        self._worker.partial.connect(self.partial)
        # one queued slot per outcome that stops the thread, then emits the outcome and ``ended``:
        # two separate queued events (outcome, then wrap-up) let a waiting GUI see the result
        # while the page still looked busy (a Generate click then fell on a disabled button)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._worker.cancelled.connect(self._on_cancelled)
        LIVE_TASKS.add(self)

    def start(self) -> None:
        self._t0 = time.monotonic()
        self.began.emit()
        self._thread.start()

    def elapsed(self) -> float:
        return time.monotonic() - getattr(self, "_t0", time.monotonic())

    def cancel(self) -> None:
        self._worker._stop = True

    def is_running(self) -> bool:
        return self._thread.isRunning()

    def wait(self, ms: int = 30_000) -> bool:
        return self._thread.wait(ms)

    @Slot(object)
    def _on_finished(self, result: Any) -> None:
        self._wrap_up(self.finished, result)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._wrap_up(self.failed, message)

    @Slot()
    def _on_cancelled(self) -> None:
        self._wrap_up(self.cancelled)

    def _wrap_up(self, outcome: Signal, *payload: Any) -> None:
        self._thread.quit()
        self._thread.wait()
        outcome.emit(*payload)
        self.ended.emit()


def progress_text(message: str, done: float, total: float, elapsed_s: float, unit: str = "") -> str:
    """"Annotating · 1,200 / 3,000 clips · ~6 s left" (ETA from the rate so far); unit "%" gives
    "Annotating · 40 % · ~3 s left"."""
    if unit == "%":
        done, total = 100 * done / max(total, 1e-9), 100.0
        text = f"{message} · {done:.0f} %"
    else:
        text = f"{message} · {int(done):,} / {int(total):,}{(' ' + unit) if unit else ''}"
    if 0 < done < total and elapsed_s > 0.5:
        left = elapsed_s * (total - done) / done
        text += f" · ~{left:.0f} s left" if left < 120 else f" · ~{left / 60:.0f} min left"
    return text


class TaskQueue(QObject):
    """Runs tasks one after another: work asked for while another task runs waits its
    turn instead of being dropped (the next task starts only once the thread has ended)."""

    started = Signal(object)  # the Task now running
    idle = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.current: Task | None = None
        self._waiting: list[Task] = []

    def submit(self, task: Task) -> None:
        self._waiting.append(task)
        if self.current is None:
            self._next()

    def busy(self) -> bool:
        return self.current is not None

    def pending(self) -> int:
        return len(self._waiting)

    def cancel_all(self) -> None:
        self._waiting.clear()
        if self.current is not None:
            self.current.cancel()

    def wait(self, ms: int = 30_000) -> bool:
        return self.current.wait(ms) if self.current is not None else True

    def _next(self) -> None:
        if not self._waiting:
            self.current = None
            self.idle.emit()
            return
        self.current = self._waiting.pop(0)
        self.current.ended.connect(self._next)
        self.started.emit(self.current)
        self.current.start()
