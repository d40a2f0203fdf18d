"""The run folder as the trainer writes it: run.json, status.json (kept current), metrics.jsonl (one JSON
line per log interval and per epoch, flushed), checkpoints/, the reporters (TensorBoard, W&B, MLflow) and
the system samples. The trainer is the only writer of status.json and metrics.jsonl (DESIGN.md)."""

from __future__ import annotations

import datetime as _dt
import json
import logging
import socket
from pathlib import Path
from typing import Any

import psutil

from ..errors import ConfigError, StickGenError
from ..io import atomic_write_text
from ..limits import read_json_file
from ..run_state import RunState
from ..system_metrics import SystemSampler
from .reporters import Reporters

log = logging.getLogger(__name__)


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class RunFolder:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.checkpoints = self.root / "checkpoints"
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        self._metrics = open(self.root / "metrics.jsonl", "a", encoding="utf-8")
        me = psutil.Process()
        self._process = {"pid": me.pid, "create_time": me.create_time(), "host": socket.gethostname()}
        self.reporters = Reporters()  # TensorBoard / W&B / MLflow (training.report_to), opened by train()
        self.system: SystemSampler | None = None   # CPU / memory / GPU samples (system.jsonl), started by train()

    def write_json(self, name: str, data: dict) -> None:
        atomic_write_text(self.root / name, json.dumps(data, indent=2, default=str))

    def update_json(self, name: str, data: dict) -> None:
        """Write ``data`` over the keys of an existing JSON file (a job's own keys in run.json survive)."""
        path = self.root / name
        try:  # bounded and depth-checked: the folder may hold a damaged or hostile file
            old = read_json_file(path, "a run record (JSON)") if path.is_file() else {}
        except ConfigError as exc:
            log.warning("%s; written anew", exc)
            old = {}
        self.write_json(name, {**(old if isinstance(old, dict) else {}), **data})

    def status(self, state: RunState, **fields: Any) -> None:
        # while running, which process this is: a reader can tell a killed trainer (kill -9) from a live one
        data = {"state": state, "updated": now_iso(), **fields, "process": self._process if state == RunState.RUNNING else None}
        try:
            self.write_json("status.json", data)
        except StickGenError:
            # full disk: no room for a temp copy; overwriting in place frees the old blocks first
            with open(self.root / "status.json", "w", encoding="utf-8") as fh:
                fh.write(json.dumps(data, default=str))

    def metric(self, record: dict) -> None:
        self._metrics.write(json.dumps(record, default=float) + "\n")
        self._metrics.flush()  # a reader tailing the file sees every line as it is written
        self.reporters.log(record)

    def close(self) -> None:
        self._metrics.close()
        self.reporters.close()
        if self.system is not None:
            self.system.stop()


class SilentFolder:
    """The run folder of ranks other than 0: they write nothing."""

    def __getattr__(self, _name: str):
        return lambda *a, **k: None
