"""One row per run of its config values and final metrics (a W&B-style runs table), read from the run
folder: the runs list's summary, run.json (the trainer's resolved config, parameter count, batch),
config.yaml (the job's resolved config, before training starts) and metrics.jsonl.

``MetricTotals`` folds metrics rows in as they arrive, so a poller that already reads metrics.jsonl
incrementally hands it the new rows instead of this module reading the file again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .io import read_yaml
from .jobs import Run, list_runs

#: the table's columns, in order: (key, header)
COLUMNS: tuple[tuple[str, str], ...] = (
    ("run_id", "Run"), ("stage", "Stage"), ("backend", "Backend"), ("state", "State"), ("epochs", "Epochs"),
    ("lr", "LR"), ("batch", "Batch"), ("model", "Model"), ("params", "Params"),
    ("best_val_loss", "Best val loss"), ("final_train_loss", "Final train loss"), ("created", "Created"))


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) else None


@dataclass
class MetricTotals:
    """Best validation loss and the last train loss, folded over metrics rows in file order."""

    best_val_loss: float | None = None
    best_epoch: int | None = None
    final_train_loss: float | None = None
    last_epoch: int | None = None

    def add(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            if row.get("type") == "epoch":
                val = _number(row.get("val_total"))
                if val is not None and (self.best_val_loss is None or val < self.best_val_loss):
                    self.best_val_loss, self.best_epoch = val, row.get("epoch")
                train = _number(row.get("train_loss"))
                if train is not None:
                    self.final_train_loss = train
                if _whole(row.get("epoch")) is not None:
                    self.last_epoch = row["epoch"]
            elif row.get("type") == "step" and self.last_epoch is None:
                # before the first epoch ends, the latest logged step's loss stands in
                train = _number(row.get("train_total"))
                if train is not None:
                    self.final_train_loss = train


def _section(config: Any, name: str) -> dict[str, Any]:
    part = config.get(name) if isinstance(config, dict) else None
    return part if isinstance(part, dict) else {}


def config_values(run: Run) -> dict[str, Any]:
    """epochs, lr, batch (per optimizer step), model ('small · 256×6'), params: the trainer's resolved
    config in run.json once training started, else the job's config.yaml; None where unknown."""
    info = run.info()
    config = info.get("config")
    if not isinstance(config, dict):
        try:
            path = run.root / "config.yaml"
            config = read_yaml(path) if path.is_file() else {}
        except ConfigError:
            config = {}
    training, model = _section(config, "training"), _section(config, "model")
    job = info.get("job") if isinstance(info.get("job"), dict) else {}
    batch = _whole(_section(info, "batch").get("total"))
    if batch is None:
        batch = _whole(training.get("batch_size"))
        accum = _whole(training.get("grad_accum_steps"))
        if batch is not None and accum is not None and accum > 1:
            batch *= accum
    name = Path(str(job["config"])).stem if isinstance(job.get("config"), str) else None
    shape = f"{model['d_model']}×{model['n_layers']}" if all(
        _whole(model.get(k)) for k in ("d_model", "n_layers")) else None
    return {"epochs": _whole(training.get("epochs")),
            "lr": _number(training.get("learning_rate")), "batch": batch,
            "model": " · ".join(p for p in (name, shape) if p) or None,
            "params": _whole(_section(info, "parameters").get("total"))}


def table_row(run: Run, summary: dict[str, Any], totals: MetricTotals) -> dict[str, Any]:
    """The runs table's row of ``run`` (keys of ``COLUMNS``) from its summary and metric totals."""
    row = {"run_id": run.run_id, "stage": summary.get("stage"), "backend": summary.get("backend"),
           "state": str(summary.get("state")) if summary.get("state") else None, "created": summary.get("created")}
    if summary.get("state") == "damaged":   # nothing else of a damaged folder is read
        return {key: row.get(key) for key, _ in COLUMNS}
    row.update(config_values(run))
    row.update(best_val_loss=totals.best_val_loss, final_train_loss=totals.final_train_loss)
    return {key: row.get(key) for key, _ in COLUMNS}


def runs_table(workspace: str | Path) -> list[dict[str, Any]]:
    """Every run of the workspace as a table row (reads each run's whole metrics.jsonl)."""
    out = []
    for run in list_runs(workspace):
        summary, totals = run.summary(), MetricTotals()
        if summary.get("state") != "damaged":
            totals.add(run.read_metrics(0)[0])
        out.append(table_row(run, summary, totals))
    return out
