"""Experiment-tracking interop: every metrics.jsonl record also goes to TensorBoard, W&B or MLflow.

``training.report_to`` names the trackers (default: tensorboard). Each record's numbers become
scalars tagged ``<type>/<key>`` (``step/train_total``, ``epoch/val_total``, ``step/lr``) at the
record's global step, so a dashboard shows exactly what metrics.jsonl holds. A tracker whose
library is not installed is skipped with one log line: training never depends on it.

- tensorboard: event files in ``<run>/tensorboard/`` (``tensorboard --logdir runs``).
- wandb: one W&B run per run folder (its name and id), files under ``<run>/wandb``; ``WANDB_MODE=offline``
  keeps it on disk, ``WANDB_PROJECT`` names the project (default ``stickgen``).
- mlflow: one MLflow run in experiment ``MLFLOW_EXPERIMENT_NAME`` (default ``stickgen``) at
  ``MLFLOW_TRACKING_URI``, else a SQLite store ``<run>/mlflow.db``; the resolved config flattened as params.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from pathlib import Path
from typing import Any, Protocol

from ..config import REPORT_TO, flatten_config
from ..errors import ConfigError

log = logging.getLogger(__name__)

#: record keys that place a record (its x and bookkeeping), not metrics
_PLACING = ("type", "epoch", "step", "time")
_INSTALL = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow-skinny"}


def scalars(record: dict[str, Any]) -> dict[str, float]:
    """The numbers of one metrics.jsonl record, tagged ``<type>/<key>``."""
    kind = record.get("type", "step")
    return {f"{kind}/{k}": float(v) for k, v in record.items()
            if k not in _PLACING and isinstance(v, (int, float)) and not isinstance(v, bool)}


class Reporter(Protocol):
    def log(self, record: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class TensorBoardReporter:
    def __init__(self, run_dir: Path, start_step: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        # a resumed run drops the events past its checkpoint's step (they were trained again)
        self.writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"), purge_step=start_step or None)

    def log(self, record: dict[str, Any]) -> None:
        for tag, value in scalars(record).items():
            self.writer.add_scalar(tag, value, global_step=int(record.get("step", 0)))
        self.writer.flush()  # like metrics.jsonl: a dashboard sees each record as it is written

    def close(self) -> None:
        self.writer.close()


class WandbReporter:
    def __init__(self, run_dir: Path, config: dict[str, Any]) -> None:
        import wandb

        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "stickgen"), name=run_dir.name,
                              id=_safe_id(run_dir.name), resume="allow", dir=str(run_dir), config=config,
                              reinit="create_new")

    def log(self, record: dict[str, Any]) -> None:
        self.run.log(scalars(record), step=int(record.get("step", 0)))

    def close(self) -> None:
        self.run.finish()


class MlflowReporter:
    def __init__(self, run_dir: Path, config: dict[str, Any]) -> None:
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        # MLflow 3 keeps its file store in maintenance mode: a SQLite file in the run folder instead
        uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(run_dir / 'mlflow.db').resolve()}"
        self.client = MlflowClient(tracking_uri=uri)
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME", "stickgen")
        found = self.client.get_experiment_by_name(name)
        experiment = found.experiment_id if found else self.client.create_experiment(
            name, artifact_location=None if "MLFLOW_TRACKING_URI" in os.environ else (run_dir / "mlartifacts").resolve().as_uri())
        self.run_id = self.client.create_run(experiment, run_name=run_dir.name).info.run_id
        params = [Param(k, str(v)[:500]) for k, v in flatten_config(config).items()]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 params a batch
            self.client.log_batch(self.run_id, params=params[i:i + 100])

    def log(self, record: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        step, now = int(record.get("step", 0)), _millis()
        metrics = [Metric(tag.replace("/", "."), v, now, step) for tag, v in scalars(record).items()]
        self.client.log_batch(self.run_id, metrics=metrics)

    def close(self) -> None:
        self.client.set_terminated(self.run_id)


def _millis() -> int:
    return int(time.time() * 1000)


def _safe_id(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:64]


class Reporters:
    """The trackers of one run; a tracker that fails mid-run is dropped with a warning, training goes on."""

    def __init__(self, reporters: dict[str, Reporter] | None = None) -> None:
        self.reporters = dict(reporters or {})

    def log(self, record: dict[str, Any]) -> None:
        for name, r in list(self.reporters.items()):
            try:
                r.log(record)
            except Exception as exc:  # a tracker's outage must not end a training run
                log.warning("report_to %s: logging failed (%s: %s); it is off for the rest of this run",
                            name, type(exc).__name__, exc)
                self.reporters.pop(name)

    def close(self) -> None:
        for name, r in self.reporters.items():
            try:
                r.close()
            except Exception as exc:  # closing is best-effort: the metrics are in metrics.jsonl anyway
                log.warning("report_to %s: closing failed (%s: %s)", name, type(exc).__name__, exc)
        self.reporters = {}


def open_reporters(names: list[str], run_dir: str | Path, config: dict[str, Any], start_step: int = 0) -> Reporters:
    """The trackers ``training.report_to`` names that are installed; one log line for each that is not."""
    root = Path(run_dir)
    out: dict[str, Reporter] = {}
    for name in dict.fromkeys(names):
        if name not in REPORT_TO:
            raise ConfigError(f"training.report_to: unknown tracker {name!r} (known: {', '.join(REPORT_TO)})")
        if importlib.util.find_spec(name) is None:
            log.info("report_to %s: off (%s is not installed; pip install %s)", name, name, _INSTALL[name])
            continue
        try:
            out[name] = (TensorBoardReporter(root, start_step) if name == "tensorboard" else
                         WandbReporter(root, config) if name == "wandb" else MlflowReporter(root, config))
        except Exception as exc:  # a tracker that cannot start (no login, bad URI) must not stop training
            log.warning("report_to %s: could not start (%s: %s); training goes on without it",
                        name, type(exc).__name__, exc)
            continue
        log.info("report_to %s: on", name)
    return Reporters(out)
